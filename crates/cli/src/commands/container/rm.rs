//! `berth rm`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{each, open};

#[derive(Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    volumes: bool,
    /// Remove the specified link
    #[arg(short, long)]
    link: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(root: &Path, a: RmArgs) -> Result<u8> {
    let rt = open(root)?;
    if a.link {
        return each(&a.containers, |k| rt.remove_link(k));
    }
    each(&a.containers, |k| rt.remove(k, a.force, a.volumes))
}
