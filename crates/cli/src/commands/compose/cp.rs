//! `berth compose cp`, through `berth cp`.

use std::path::Path;

use anyhow::Result;
use berth_compose::Project;
use clap::Args;

use super::project::service_container;

/// `berth cp`'s flags, with SERVICE in place of CONTAINER.
#[derive(Args)]
pub(crate) struct ServiceCpArgs {
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub(crate) index: u32,
    #[command(flatten)]
    pub(crate) copy: crate::commands::container::CpArgs,
}

/// `compose cp`: `berth cp` with SERVICE: resolved to the container of `--index`.
pub(crate) fn cp(
    root: &Path,
    rt: &berth_runtime::Runtime,
    p: &Project,
    a: ServiceCpArgs,
) -> Result<u8> {
    let resolve = |arg: &str| -> Result<String> {
        match crate::commands::container::split_container_path(arg) {
            Some((service, path)) => {
                let c = service_container(rt, p, service, a.index)?;
                Ok(format!("{}:{path}", c.record.name))
            }
            None => Ok(arg.to_string()),
        }
    };
    let mut copy = a.copy;
    copy.src = resolve(&copy.src)?;
    copy.dest = resolve(&copy.dest)?;
    crate::commands::container::cp(root, copy)
}
