//! The builder's cache index: step cache keys → the stored (unregistered) image each step
//! produced. It lives with the image store because garbage collection must keep what it
//! points at; `builder prune` empties it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::store::{write_file_atomic, Store};

#[derive(Serialize, Deserialize, Default, Debug)]
pub struct BuildCache {
    /// Cache key (hex) → manifest digest of the state after that step.
    #[serde(default)]
    pub entries: BTreeMap<String, Digest>,
}

impl Store {
    /// Where the builder keeps `RUN --mount=type=cache` directories: build cache too, so
    /// `system df` counts them and `builder prune` empties them.
    pub fn cache_mounts_dir(&self) -> PathBuf {
        Store::cache_mounts_dir_of(self.root())
    }

    /// `cache_mounts_dir` of the store at `root`, without opening it.
    pub fn cache_mounts_dir_of(root: &std::path::Path) -> PathBuf {
        root.join("build-cache-mounts")
    }

    fn build_cache_path(&self) -> PathBuf {
        self.root().join("build-cache.json")
    }

    /// The cache index (empty when there is none or it is unreadable: a cache may be lost).
    pub fn read_build_cache(&self) -> BuildCache {
        std::fs::read(self.build_cache_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The image a step with this key produced earlier, if all of it is still stored.
    pub fn build_cache_lookup(&self, key: &str) -> Option<crate::Image> {
        let d = self.read_build_cache().entries.get(key).cloned()?;
        self.unregistered_image(&d).ok()
    }

    /// Records the image a step produced (under the cache's writer lock).
    pub fn build_cache_record(&self, key: &str, manifest: &Digest) -> Result<()> {
        self.update_build_cache(|c| {
            c.entries.insert(key.to_string(), manifest.clone());
        })
    }

    /// `builder prune`: forgets every entry; returns how many there were. What they pointed
    /// at is freed by the next garbage collection.
    pub fn clear_build_cache(&self) -> Result<usize> {
        self.update_build_cache(|c| {
            let n = c.entries.len();
            c.entries.clear();
            n
        })
    }

    fn update_build_cache<T>(&self, f: impl FnOnce(&mut BuildCache) -> T) -> Result<T> {
        let _lock = self.lock_file("build-cache.lock", true)?;
        let mut cache = self.read_build_cache();
        let out = f(&mut cache);
        let bytes = serde_json::to_vec(&cache).map_err(|e| Error::Json {
            what: "build cache".into(),
            source: e,
        })?;
        let path = self.build_cache_path();
        write_file_atomic(&path, &bytes)?;
        Ok(out)
    }
}
