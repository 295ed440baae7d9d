//! `berth container prune`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{engine_error, open};

#[derive(Args)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")
    #[arg(long)]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn prune(root: &Path, a: PruneArgs) -> Result<u8> {
    if !a.force && !crate::output::confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let rt = open(root)?;
    let report = rt.prune_containers(&a.filter).map_err(engine_error)?;
    if !report.deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &report.deleted {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::output::human_size(report.space_reclaimed)
    );
    Ok(0)
}
