//! `docker builder prune` and the Engine API's `POST /build/prune`: the build cache's entries,
//! what only they kept, the cache mounts, and RUN containers of builds that were killed.

use std::path::Path;

use crate::error::{Error, Result};

/// Empties the build cache under `root`; returns the bytes freed.
pub fn prune_build_cache(root: &Path) -> Result<u64> {
    if let Ok(rt) = berth_runtime::Runtime::open(root) {
        crate::builder::remove_abandoned_step_containers(&rt);
    }
    let store = berth_image::Store::open(root)?;
    store.clear_build_cache()?;
    let mut freed = store.gc(&|_| false)?;
    // Cache mounts (`RUN --mount=type=cache`) go too, as with Docker.
    let mounts = crate::run_mounts::cache_mounts_dir(root);
    if mounts.exists() {
        freed += berth_runtime::volumes::dir_size(&mounts);
        berth_image::store::remove_tree(&mounts).map_err(|e| Error::Io {
            op: "remove",
            path: mounts.clone(),
            source: e,
        })?;
    }
    Ok(freed)
}
