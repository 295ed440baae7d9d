//! What the store holds on disk, for `system df`: per-image shared and unique sizes, and the
//! build cache measured as what `builder prune` would free (cache-only layers and blobs, and
//! anything no image refers to any more), not as the index's entry count.

use std::collections::{BTreeMap, HashSet};

use crate::digest::Digest;
use crate::error::Result;
use crate::images::Reachable;
use crate::store::Store;

/// One image's share of the layers on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    /// Bytes of all its layers.
    pub size: u64,
    /// Bytes of its layers that other images use too.
    pub shared_size: u64,
}

impl ImageUsage {
    pub fn unique_size(&self) -> u64 {
        self.size - self.shared_size
    }
}

/// One build cache record: a step's image and the bytes only the cache keeps for it, or a
/// cache mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildCacheRecord {
    /// The step image's manifest digest's hex, or the cache mount's directory name.
    pub id: String,
    /// Docker's CacheType: `regular` for a step, `exec.cachemount` for a cache mount.
    pub kind: &'static str,
    /// Bytes of its top layer when no registered image holds that layer, else 0.
    pub size: u64,
    /// The top layer is part of a registered image too.
    pub shared: bool,
    /// When the step ran (the step image's creation time).
    pub created: Option<String>,
    /// When a build last made or used it (RFC 3339), if known.
    pub last_used: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct BuildCacheUsage {
    pub records: Vec<BuildCacheRecord>,
    /// Every byte no registered image (or container, see `build_cache_usage`) holds: what
    /// `builder prune` frees. At least the records' sum; more when the store holds garbage
    /// from interrupted work.
    pub size: u64,
}

impl Store {
    /// Shared and unique layer bytes for each registered image, by image (config) id.
    pub fn image_usage(&self) -> Result<BTreeMap<Digest, ImageUsage>> {
        let images = self.list_images()?;
        let mut users: BTreeMap<Digest, usize> = BTreeMap::new();
        for img in &images {
            let layers: HashSet<Digest> = img.chain_ids().into_iter().collect();
            for l in layers {
                *users.entry(l).or_default() += 1;
            }
        }
        let size_of = |c: &Digest| self.layer_info(c).map(|i| i.size).unwrap_or(0);
        let mut out = BTreeMap::new();
        for img in &images {
            let layers: HashSet<Digest> = img.chain_ids().into_iter().collect();
            let size = layers.iter().map(size_of).sum();
            let shared_size = layers
                .iter()
                .filter(|l| users.get(*l).copied().unwrap_or(0) > 1)
                .map(size_of)
                .sum();
            out.insert(img.id().clone(), ImageUsage { size, shared_size });
        }
        Ok(out)
    }

    /// The build cache as it is on disk. `in_use` names layers that containers still use
    /// (their image may be gone); those are not the cache's.
    pub fn build_cache_usage(&self, in_use: &dyn Fn(&Digest) -> bool) -> Result<BuildCacheUsage> {
        let _gc = self.gc_lock(false)?;
        let Reachable {
            mut blobs,
            layers,
            diff_ids,
        } = self.reachable(false)?;
        for (_, diff, blob) in self.compressed_cache_entries() {
            if diff_ids.contains(&diff) {
                blobs.insert(blob);
            }
        }
        let layer_size = |c: &Digest| self.layer_info(c).map(|i| i.size).unwrap_or(0);
        let mut size = 0;
        for b in self.list_blobs()? {
            if !blobs.contains(&b) {
                size += self.blob_size(&b).unwrap_or(0);
            }
        }
        for l in self.list_layers()? {
            if !layers.contains(&l) && !in_use(&l) {
                size += layer_size(&l);
            }
        }
        let mut records = Vec::new();
        let mut counted = HashSet::new();
        let cache = self.read_build_cache();
        let mut last_used: std::collections::HashMap<Digest, i64> = Default::default();
        for (k, m) in &cache.entries {
            if let Some(t) = cache.last_used.get(k) {
                let e = last_used.entry(m.clone()).or_insert(*t);
                *e = (*e).max(*t);
            }
        }
        for m in cache.entries.into_values() {
            let Ok(img) = self.unregistered_image(&m) else {
                continue;
            };
            let top = img.chain_ids().last().cloned();
            let shared = top.as_ref().is_some_and(|t| layers.contains(t));
            // A step that made no layer (ENV, WORKDIR …) shares its parent's: count it once.
            let own = match &top {
                Some(t) if !shared && !in_use(t) && counted.insert(t.clone()) => layer_size(t),
                _ => 0,
            };
            records.push(BuildCacheRecord {
                id: m.hex().to_string(),
                kind: "regular",
                size: own,
                shared,
                created: img.config.created.clone(),
                last_used: last_used
                    .get(&m)
                    .and_then(|t| chrono::DateTime::from_timestamp(*t, 0))
                    .map(|t| t.to_rfc3339()),
            });
        }
        records.sort_by(|a, b| b.created.cmp(&a.created));
        for (name, bytes, created) in self.cache_mounts() {
            size += bytes;
            records.push(BuildCacheRecord {
                id: name,
                kind: "exec.cachemount",
                size: bytes,
                shared: false,
                last_used: created.clone(),
                created,
            });
        }
        Ok(BuildCacheUsage { records, size })
    }

    /// The cache mounts: (directory name, bytes, modification time).
    fn cache_mounts(&self) -> Vec<(String, u64, Option<String>)> {
        let Ok(entries) = std::fs::read_dir(self.cache_mounts_dir()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| {
                let created = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339());
                (
                    e.file_name().to_string_lossy().into_owned(),
                    tree_size(&e.path()),
                    created,
                )
            })
            .collect()
    }
}

/// Bytes of the files in a tree (links not followed).
fn tree_size(p: &std::path::Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !m.is_dir() {
        return m.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{import, ImportOptions};

    fn tar_with(name: &str, bytes: usize) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, vec![b'x'; bytes].as_slice())
            .unwrap();
        b.into_inner().unwrap()
    }

    fn import_as(store: &Store, tar: &[u8], tag: &str) -> crate::Image {
        let opts = ImportOptions {
            source: "-".into(),
            tag: Some(crate::Reference::parse(tag).unwrap()),
            ..Default::default()
        };
        import(store, tar, &opts).unwrap()
    }

    #[test]
    fn images_with_the_same_layer_share_it() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::open(t.path()).unwrap();
        let a = import_as(&store, &tar_with("f", 5000), "a:1");
        let b = import_as(&store, &tar_with("f", 5000), "b:1");
        let c = import_as(&store, &tar_with("g", 7000), "c:1");
        let u = store.image_usage().unwrap();
        assert_eq!(u[a.id()].shared_size, u[a.id()].size);
        assert_eq!(u[b.id()].unique_size(), 0);
        assert_eq!(u[c.id()].shared_size, 0);
        assert_eq!(u[c.id()].size, 7000);
    }

    #[test]
    fn the_cache_counts_what_only_the_cache_keeps() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::open(t.path()).unwrap();
        let img = import_as(&store, &tar_with("big", 300_000), "step:1");
        store
            .build_cache_record("key", &img.manifest_digest)
            .unwrap();
        let none = |_: &Digest| false;
        // While an image holds the layer, the cache owns nothing of it.
        let u = store.build_cache_usage(&none).unwrap();
        assert_eq!(u.records.len(), 1);
        assert!(u.records[0].shared);
        assert_eq!((u.records[0].size, u.size), (0, 0));
        // The image goes; the cache now keeps its layer, manifest, config and layer blob.
        store.remove_image("step:1", false, &|_| false).unwrap();
        let u = store.build_cache_usage(&none).unwrap();
        assert!(!u.records[0].shared);
        assert_eq!(u.records[0].size, 300_000);
        assert!(u.size > 300_000, "blobs count too: {}", u.size);
        // A container still using the layer keeps it out of the cache's bytes.
        let top = img.chain_ids()[0].clone();
        let used = store.build_cache_usage(&|l| *l == top).unwrap();
        assert_eq!(used.records[0].size, 0);
        assert_eq!(used.size, u.size - 300_000);
        // What builder prune frees is exactly what was reported.
        store.clear_build_cache().unwrap();
        assert_eq!(store.gc(&|_| false).unwrap(), u.size);
    }
}
