//! `berth compose port`.

use anyhow::{bail, Result};
use berth_compose::Project;
use clap::Args;

use super::project::service_container;
use crate::commands::shared::ExitError;

#[derive(Args)]
pub(crate) struct PortArgs {
    /// index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub(crate) index: u32,
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    pub(crate) protocol: String,
    pub(crate) service: String,
    pub(crate) private_port: u16,
}

pub(crate) fn port(rt: &berth_runtime::Runtime, p: &Project, a: PortArgs) -> Result<u8> {
    let c = service_container(rt, p, &a.service, a.index)?;
    let key = format!("{}/{}", a.private_port, a.protocol);
    let found = rt
        .networking()
        .published(&c.record.id)
        .into_iter()
        .find(|m| format!("{}/{}", m.container_port, m.proto.as_str()) == key);
    match found {
        Some(m) => {
            println!("{}:{}", m.host_ip, m.host_port);
            Ok(0)
        }
        None => bail!(ExitError {
            code: 1,
            message: format!("no port {key} for container {}", c.record.name)
        }),
    }
}
