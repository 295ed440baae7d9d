//! `berth compose push`.

use std::path::Path;

use anyhow::Result;
use berth_compose::Project;
use clap::Args;

use super::project::fail;

#[derive(Args)]
pub(crate) struct PushArgs {
    /// Push what it can and ignores images with push failures
    #[arg(long)]
    pub(crate) ignore_push_failures: bool,
    /// Push without printing progress information
    #[arg(short, long)]
    pub(crate) quiet: bool,
    pub(crate) services: Vec<String>,
}

/// `compose push`: `berth push` of each image `Project::images_to_push` names.
pub(crate) fn push(root: &Path, p: &Project, a: PushArgs) -> Result<u8> {
    for (name, image) in p.images_to_push(&a.services).map_err(fail)? {
        let pushed = crate::commands::registry::push(
            root,
            crate::commands::registry::PushArgs::new(image, a.quiet),
        );
        match pushed {
            Err(e) if a.ignore_push_failures => eprintln!("service {name:?}: {e}"),
            r => {
                r?;
            }
        }
    }
    Ok(0)
}
