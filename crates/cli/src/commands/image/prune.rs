//! `berth image prune`.

use std::path::Path;

use anyhow::{anyhow, Result};
use clap::Args;

use super::rmi::print_events;
use crate::output::human_size;

#[derive(Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Provide filter values
    #[arg(long)]
    pub(crate) filter: Vec<String>,
}

pub fn prune(root: &Path, a: PruneArgs) -> Result<u8> {
    if !a.force {
        let warning = if a.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !crate::output::confirm(warning)? {
            return Ok(0);
        }
    }
    let rt = berth_runtime::Runtime::open(root).map_err(|e| anyhow!("{e}"))?;
    let (events, reclaimed) = rt
        .prune_images(a.all, &a.filter)
        .map_err(|e| anyhow!("{e}"))?;
    if !events.is_empty() {
        println!("Deleted Images:");
        print_events(&events, true);
        println!();
    }
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(0)
}
