//! `berth restart`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{each, open};

#[derive(Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout")]
    time: Option<u64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn restart(root: &Path, a: RestartArgs) -> Result<u8> {
    let rt = open(root)?;
    let exe = std::env::current_exe()?;
    each(&a.containers, |k| {
        rt.stop(k, a.time)?;
        let c = rt.find(k)?;
        rt.start_detached(&c.id, &exe)
    })
}
