//! Opening the image store, with the error a user understands.

use std::path::Path;

use anyhow::{Context, Result};
use berth_image::Store;

pub(crate) fn open_store(root: &Path) -> Result<Store> {
    Store::open(root).with_context(|| format!("cannot open the berth store at {}", root.display()))
}
