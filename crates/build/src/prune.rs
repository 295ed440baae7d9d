//! `docker builder prune` and the Engine API's `POST /build/prune`: the build cache's entries,
//! what only they kept, the cache mounts, and RUN containers of builds that were killed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// What `builder prune` keeps when it does not empty the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneOptions {
    /// `--filter until=`: only what no build has used since then (Unix seconds) goes.
    pub until: Option<i64>,
    /// `--keep-storage`: the cache is brought under this many bytes, least recently used
    /// entries first.
    pub keep_storage: Option<u64>,
}

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

impl PruneOptions {
    /// From `builder prune`'s (or `POST /build/prune`'s) filters (`until=` a duration such
    /// as `24h` or a time) and `--keep-storage` bytes; errors name the filter.
    pub fn from_filters(
        filters: &[String],
        keep_storage: Option<u64>,
    ) -> std::result::Result<PruneOptions, String> {
        let mut o = PruneOptions {
            until: None,
            keep_storage: keep_storage.filter(|k| *k > 0),
        };
        for f in filters {
            match f.split_once('=') {
                Some(("until", v)) => {
                    let nanos = berth_events::time_values::parse_time_nanos("until", v)?;
                    o.until = Some(nanos.div_euclid(1_000_000_000));
                }
                Some((k, _)) => {
                    return Err(format!("invalid filter '{k}': supported filters are until"))
                }
                None => return Err("bad format of filter (expected name=value)".into()),
            }
        }
        Ok(o)
    }
}

/// `builder prune` with a filter or a size to keep (`o` empty: everything goes, as
/// [`prune_build_cache`]); returns the bytes freed.
pub fn prune_build_cache_with(root: &Path, o: &PruneOptions) -> Result<u64> {
    if *o == PruneOptions::default() {
        return prune_build_cache(root);
    }
    let store = berth_image::Store::open(root)?;
    // What each entry holds that nothing else does: its top layer, unless an image or an
    // entry already counted has it.
    let usage = store.build_cache_usage(&|_| false)?;
    let own: HashMap<String, u64> = usage
        .records
        .iter()
        .filter(|r| r.kind == "regular")
        .map(|r| (r.id.clone(), r.size))
        .collect();
    let cache = store.read_build_cache();
    let mut entries: Vec<(String, String, i64)> = cache
        .entries
        .iter()
        .map(|(k, m)| {
            let used = cache.last_used.get(k).copied().unwrap_or(0);
            (k.clone(), m.hex().to_string(), used)
        })
        .collect();
    // Newest first: what fits under `keep_storage` is what was used last.
    entries.sort_by_key(|e| std::cmp::Reverse(e.2));
    let mut mounts = cache_mounts(root);
    mounts.sort_by_key(|m| std::cmp::Reverse(m.1));
    let mut forget: HashSet<String> = HashSet::new();
    let mut drop_mounts: Vec<PathBuf> = Vec::new();
    if let Some(until) = o.until {
        forget.extend(
            entries
                .iter()
                .filter(|(_, _, used)| *used < until)
                .map(|(k, _, _)| k.clone()),
        );
        drop_mounts.extend(
            mounts
                .iter()
                .filter(|(_, used, _)| *used < until)
                .map(|(p, _, _)| p.clone()),
        );
    }
    if let Some(keep) = o.keep_storage {
        let mut total = 0u64;
        let mut counted = HashSet::new();
        for (k, m, _) in &entries {
            if forget.contains(k) {
                continue;
            }
            let size = if counted.insert(m.clone()) {
                own.get(m).copied().unwrap_or(0)
            } else {
                0
            };
            if total + size > keep {
                forget.insert(k.clone());
            } else {
                total += size;
            }
        }
        for (p, _, size) in &mounts {
            if drop_mounts.contains(p) {
                continue;
            }
            if total + size > keep {
                drop_mounts.push(p.clone());
            } else {
                total += size;
            }
        }
    }
    store.forget_build_cache(&|k, _, _| forget.contains(k))?;
    let mut freed = store.gc(&|_| false)?;
    for p in drop_mounts {
        freed += berth_runtime::volumes::dir_size(&p);
        berth_image::store::remove_tree(&p).ctx("remove", &p)?;
    }
    Ok(freed)
}

/// The cache mount directories: (path, last modified in Unix seconds, bytes).
fn cache_mounts(root: &Path) -> Vec<(PathBuf, i64, u64)> {
    let Ok(dir) = std::fs::read_dir(crate::run_mounts::cache_mounts_dir(root)) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| {
            let used = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let p = e.path();
            let size = berth_runtime::volumes::dir_size(&p);
            (p, used, size)
        })
        .collect()
}

/// The size BuildKit's default policy keeps the cache under: a tenth of the filesystem that
/// holds the store, at least 2 GB and at most 20 GB.
pub fn default_keep_storage(root: &Path) -> u64 {
    const GB: u64 = 1 << 30;
    let disk = disk_size(root).unwrap_or(200 * GB);
    (disk / 10).clamp(2 * GB, 20 * GB)
}

fn disk_size(p: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the plain struct for a valid NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_blocks as u64 * st.f_frsize as u64)
}

/// After a build that stored something: the cache is brought back under `limit` bytes
/// (least recently used first) when it grew past it.
pub fn enforce_limit(root: &Path, limit: u64) -> Result<u64> {
    let store = berth_image::Store::open(root)?;
    if store.build_cache_usage(&|_| false)?.size <= limit {
        return Ok(0);
    }
    prune_build_cache_with(
        root,
        &PruneOptions {
            until: None,
            keep_storage: Some(limit),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_filters_read_as_dockers() {
        assert_eq!(
            PruneOptions::from_filters(&[], None).unwrap(),
            PruneOptions::default()
        );
        let o = PruneOptions::from_filters(&["until=1700000000".into()], Some(5)).unwrap();
        assert_eq!(o.until, Some(1_700_000_000));
        assert_eq!(o.keep_storage, Some(5));
        // A duration is that long ago.
        let o = PruneOptions::from_filters(&["until=1h".into()], None).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((o.until.unwrap() - (now - 3600)).abs() <= 2);
        // `--keep-storage 0` keeps nothing in particular: Docker's "no limit".
        assert_eq!(
            PruneOptions::from_filters(&[], Some(0)).unwrap(),
            PruneOptions::default()
        );
        assert!(PruneOptions::from_filters(&["type=regular".into()], None)
            .unwrap_err()
            .contains("invalid filter 'type'"));
        assert!(PruneOptions::from_filters(&["until=soon".into()], None).is_err());
    }
}
