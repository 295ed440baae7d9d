//! `berth diff`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{engine_error, open};

#[derive(Args)]
pub struct OneContainer {
    container: String,
}

pub fn diff(root: &Path, a: OneContainer) -> Result<u8> {
    let rt = open(root)?;
    for (k, p) in rt.diff(&a.container).map_err(engine_error)? {
        println!("{k} {p}");
    }
    Ok(0)
}
