//! `berth kill`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{each, open};

#[derive(Args)]
pub struct KillArgs {
    /// Signal to send to the container (default: KILL, then wait for the exit)
    #[arg(short, long)]
    signal: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(root: &Path, a: KillArgs) -> Result<u8> {
    let rt = open(root)?;
    each(&a.containers, |k| match &a.signal {
        Some(s) => rt.kill(k, s),
        None => rt.kill_and_wait(k),
    })
}
