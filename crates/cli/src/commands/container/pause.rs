//! `berth pause` / `berth unpause`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{each, open};

#[derive(Args)]
pub struct PauseArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn pause(root: &Path, a: PauseArgs, pause: bool) -> Result<u8> {
    let rt = open(root)?;
    each(&a.containers, |k| rt.set_paused(k, pause))
}
