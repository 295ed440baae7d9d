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
    /// Cache key → when a build last made or used it (Unix seconds), for the size policy
    /// (least recently used first) and `builder prune --filter until=`. Missing: never.
    #[serde(default)]
    pub last_used: BTreeMap<String, i64>,
    /// What `COPY --from` took out of a source (a key of its layers and the paths) → the
    /// checksum of those files: read once per source, not at every rebuild. Bounded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_checksums: BTreeMap<String, String>,
}

/// How many source checksums the cache keeps (each is two hashes).
const MAX_SOURCE_CHECKSUMS: usize = 4096;

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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
            c.last_used.insert(key.to_string(), now_secs());
        })
    }

    /// Notes that a build used these entries now (one write for a whole build). Uses within
    /// a minute of the last noted one are not written again: a fully cached rebuild stays a
    /// pure read, and least-recently-used needs no finer grain.
    pub fn build_cache_touch(&self, keys: &[String]) -> Result<()> {
        let now = now_secs();
        let noted = self.read_build_cache();
        let fresh = |k: &String| noted.last_used.get(k).is_some_and(|t| now - t < 60);
        if keys
            .iter()
            .all(|k| fresh(k) || !noted.entries.contains_key(k))
        {
            return Ok(());
        }
        self.update_build_cache(|c| {
            for k in keys.iter().filter(|k| c.entries.contains_key(*k)) {
                c.last_used.insert(k.clone(), now);
            }
        })
    }

    /// Forgets the entries `forget` picks (given key, manifest and last use); returns how
    /// many. What only they pointed at is freed by the next garbage collection.
    pub fn forget_build_cache(
        &self,
        forget: &dyn Fn(&str, &Digest, Option<i64>) -> bool,
    ) -> Result<usize> {
        self.update_build_cache(|c| {
            let gone: Vec<String> = c
                .entries
                .iter()
                .filter(|(k, m)| forget(k, m, c.last_used.get(*k).copied()))
                .map(|(k, _)| k.clone())
                .collect();
            for k in &gone {
                c.entries.remove(k);
                c.last_used.remove(k);
            }
            gone.len()
        })
    }

    /// The checksum noted under `key` by `note_source_checksum`.
    pub fn source_checksum(&self, key: &str) -> Option<String> {
        self.read_build_cache().source_checksums.get(key).cloned()
    }

    /// Notes a source's checksum (one of the oldest-keyed goes past the bound).
    pub fn note_source_checksum(&self, key: &str, checksum: &str) -> Result<()> {
        self.update_build_cache(|c| {
            while c.source_checksums.len() >= MAX_SOURCE_CHECKSUMS {
                let Some(first) = c.source_checksums.keys().next().cloned() else {
                    break;
                };
                c.source_checksums.remove(&first);
            }
            c.source_checksums
                .insert(key.to_string(), checksum.to_string());
        })
    }

    /// `builder prune`: forgets every entry; returns how many there were. What they pointed
    /// at is freed by the next garbage collection.
    pub fn clear_build_cache(&self) -> Result<usize> {
        self.update_build_cache(|c| {
            let n = c.entries.len();
            c.entries.clear();
            c.last_used.clear();
            c.source_checksums.clear();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_are_noted_at_most_once_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .build_cache_record("k", &Digest::of(b"manifest"))
            .unwrap();
        let set = |t: i64| {
            store
                .update_build_cache(|c| {
                    c.last_used.insert("k".into(), t);
                })
                .unwrap()
        };
        let used = || store.read_build_cache().last_used["k"];
        let now = now_secs();
        set(now - 30);
        store.build_cache_touch(&["k".into()]).unwrap();
        assert_eq!(used(), now - 30, "a recent use is not written again");
        set(now - 120);
        store
            .build_cache_touch(&["k".into(), "unknown".into()])
            .unwrap();
        assert!(used() >= now, "an older one is");
        assert!(!store.read_build_cache().last_used.contains_key("unknown"));
        assert_eq!(
            store
                .forget_build_cache(&|k, _, used| k == "k" && used.is_some())
                .unwrap(),
            1
        );
        assert!(store.read_build_cache().entries.is_empty());
    }
}
