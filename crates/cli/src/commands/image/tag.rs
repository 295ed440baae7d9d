//! `berth tag`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use super::store::open_store;

#[derive(Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    pub(crate) source: String,
    /// TARGET_IMAGE[:TAG]
    pub(crate) target: String,
}

pub fn tag(root: &Path, a: TagArgs) -> Result<u8> {
    let store = open_store(root)?;
    store.tag_image(&a.source, &a.target)?;
    Ok(0)
}
