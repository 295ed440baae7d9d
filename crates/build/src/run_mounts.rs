//! `RUN --mount=…` (parsed by `berth_dockerfile::run_mount`): what a RUN step's container
//! gets mounted besides its rootfs, as BuildKit gives it: `cache` (a directory kept between builds), `bind` (part of the context, another
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

/// The host directory of a cache mount: one per id (the target when no id is given), under
/// the state root; created with the mount's mode and owner the first time.
pub fn cache_dir(root: &Path, m: &RunMount) -> Result<PathBuf> {
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
        let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
        fs::create_dir_all(&tmp).ctx("create directory", &tmp)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).ctx("chmod", &tmp)?;
        std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)).ctx("chown", &tmp)?;
        // Two builds making the same cache at once: either one's directory is fine.
        if fs::rename(&tmp, &dir).is_err() {
            let _ = fs::remove_dir(&tmp);
        }
    }
    Ok(dir)
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
