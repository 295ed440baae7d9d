//! `berth stop`.

use std::path::Path;

use anyhow::Result;
use berth_runtime::Error as RtError;
use clap::Args;

use crate::commands::shared::{each, open};

#[derive(Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout")]
    time: Option<u64>,
    /// Signal to send to the container
    #[arg(short, long)]
    signal: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn stop(root: &Path, a: StopArgs) -> Result<u8> {
    let rt = open(root)?;
    each(&a.containers, |k| {
        if let Some(s) = &a.signal {
            rt.kill(k, s).or_else(|e| {
                if matches!(e, RtError::Conflict(_)) {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
        rt.stop(k, a.time)
    })
}
