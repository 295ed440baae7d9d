//! `RUN --mount=…` (parsed by `berth_dockerfile::run_mount`): what a RUN step's container
//! gets mounted besides its rootfs, as BuildKit gives it: `cache` (a directory kept between
//! builds, first filled from a stage or image with `from=`/`source=`), `bind` (part of the context, another
//! stage or an image; read-only unless `rw`, and then writes are thrown away), `tmpfs`, and
//! `secret` (a file from `berth build --secret`, never stored in the image or the cache key).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_runtime::volumes::MountSpec;

use crate::error::{Error, IoContext, Result};

pub use berth_dockerfile::run_mount::RunMount;

/// Where cache mounts live under a state root (the store's, see `Store::cache_mounts_dir`).
pub fn cache_mounts_dir(root: &Path) -> PathBuf {
    berth_image::Store::cache_mounts_dir_of(root)
}

/// What fills a new cache directory (given its host path).
pub type CacheSeed<'a> = dyn Fn(&Path) -> Result<()> + 'a;

/// The host directory of a cache mount: one per id (the target when no id is given), under
/// the state root; created with the mount's mode and owner the first time, holding what
/// `seed` puts in it then (`from=`/`source=`: a stage's or image's directory).
pub fn cache_dir(root: &Path, m: &RunMount, seed: Option<&CacheSeed>) -> Result<PathBuf> {
    let id = m.get("id").filter(|i| !i.is_empty()).unwrap_or(&m.target);
    let name = berth_image::Digest::of(id.as_bytes()).hex().to_string();
    let dir = cache_mounts_dir(root).join(name);
    if !dir.is_dir() {
        let bad = |e: String| Error::Io {
            op: "cache mount",
            path: dir.clone(),
            source: std::io::Error::other(e),
        };
        let mode = m.number("mode", 8, 0o755).map_err(bad)?;
        let uid = m.number("uid", 10, 0).map_err(bad)?;
        let gid = m.number("gid", 10, 0).map_err(bad)?;
        // Unique to this call: two stages of one build may make the same cache at once.
        static TEMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = dir.with_extension(format!(
            "tmp-{}-{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        fs::create_dir_all(&tmp).ctx("create directory", &tmp)?;
        if let Some(seed) = seed {
            if let Err(e) = seed(&tmp) {
                let _ = berth_image::store::remove_tree(&tmp);
                return Err(e);
            }
        }
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).ctx("chmod", &tmp)?;
        std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)).ctx("chown", &tmp)?;
        // Two builds (or stages) making the same cache at once: the first one's directory
        // stays. A plain rename would put an empty directory over it while the first step
        // may already use it, and the two would no longer share the cache.
        if rename_no_replace(&tmp, &dir).is_err() {
            let _ = berth_image::store::remove_tree(&tmp);
        }
    }
    Ok(dir)
}

/// Renames `from` to `to` unless `to` exists (`renameat2` with `RENAME_NOREPLACE`).
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c =
        |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: two valid NUL-terminated paths, relative to the working directory's fd.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A mount of `source` (a host path) at `target` for the runtime.
pub fn bind(source: &Path, target: &str, readonly: bool) -> MountSpec {
    MountSpec {
        kind: "bind".into(),
        source: source.display().to_string(),
        target: target.to_string(),
        readonly,
        options: Vec::new(),
        anonymous: false,
        ..Default::default()
    }
}

pub fn tmpfs(m: &RunMount) -> MountSpec {
    MountSpec {
        kind: "tmpfs".into(),
        source: String::new(),
        target: m.target.clone(),
        readonly: false,
        options: m
            .get("size")
            .map(|s| vec![format!("size={s}")])
            .unwrap_or_default(),
        anonymous: false,
        ..Default::default()
    }
}
