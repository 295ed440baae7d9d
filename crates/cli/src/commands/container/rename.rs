//! `berth rename`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{engine_error, open};

#[derive(Args)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

pub fn rename(root: &Path, a: RenameArgs) -> Result<u8> {
    let rt = open(root)?;
    rt.rename(&a.container, &a.new_name).map_err(engine_error)?;
    Ok(0)
}
