//! `RUN --mount=…`: what a RUN step's container gets mounted besides its rootfs, as BuildKit
//! gives it: `cache` (a directory kept between builds), `bind` (part of the context, another
//! stage or an image; read-only unless `rw`, and then writes are thrown away), `tmpfs`, and
//! `secret` (a file from `berth build --secret`, never stored in the image or the cache key).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_runtime::volumes::MountSpec;

use crate::error::{Error, IoContext, Result};

/// One parsed `--mount` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMount {
    pub kind: String,
    pub target: String,
    pub fields: BTreeMap<String, String>,
}

impl RunMount {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.fields.get(k).map(String::as_str)
    }
    /// `ro`, `readonly`, `rw`, `readwrite` given bare or as `=true|false`.
    fn flag(&self, k: &str) -> Option<bool> {
        self.fields.get(k).map(|v| v.is_empty() || v == "true")
    }
    /// Whether the mount is writable (`bind` defaults to read-only, the others to writable).
    pub fn writable(&self) -> bool {
        if let Some(ro) = self.flag("ro").or(self.flag("readonly")) {
            return !ro;
        }
        if let Some(rw) = self.flag("rw").or(self.flag("readwrite")) {
            return rw;
        }
        self.kind != "bind"
    }
}

/// Parses `type=cache,target=/root/.cache,id=pip` (BuildKit's CSV form).
pub fn parse(value: &str) -> std::result::Result<RunMount, String> {
    let mut fields = BTreeMap::new();
    for part in value.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = k.to_ascii_lowercase();
        let k = match k.as_str() {
            "dst" | "destination" => "target".to_string(),
            "src" => "source".to_string(),
            _ => k,
        };
        fields.insert(k, v.to_string());
    }
    let kind = fields.remove("type").unwrap_or_else(|| "bind".into());
    let known: &[&str] = match kind.as_str() {
        "bind" => &[
            "target",
            "source",
            "from",
            "ro",
            "readonly",
            "rw",
            "readwrite",
        ],
        "cache" => &[
            "target",
            "id",
            "sharing",
            "from",
            "source",
            "mode",
            "uid",
            "gid",
            "ro",
            "readonly",
            "rw",
            "readwrite",
        ],
        "tmpfs" => &["target", "size"],
        "secret" => &["target", "id", "required", "mode", "uid", "gid", "env"],
        "ssh" => return Err("type=ssh is not supported by berth yet".into()),
        other => {
            return Err(format!(
                "unsupported mount type {other:?} (expected bind, cache, tmpfs or secret)"
            ))
        }
    };
    if let Some(k) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unexpected key {k:?} in a type={kind} mount"));
    }
    let target = match (fields.remove("target"), kind.as_str()) {
        (Some(t), _) if !t.is_empty() => t,
        (_, "secret") => {
            let id = fields.get("id").cloned().unwrap_or_default();
            if id.is_empty() {
                return Err("a secret mount needs an id or a target".into());
            }
            format!("/run/secrets/{id}")
        }
        _ => return Err(format!("a type={kind} mount needs target=PATH")),
    };
    Ok(RunMount {
        kind,
        target,
        fields,
    })
}

/// Parses a `u32` field (`uid`, `gid`) or an octal `mode`.
pub fn number(m: &RunMount, k: &str, radix: u32, default: u32) -> std::result::Result<u32, String> {
    match m.get(k) {
        None => Ok(default),
        Some(v) => u32::from_str_radix(v, radix).map_err(|_| format!("{k}={v}: expected a number")),
    }
}

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
        let mode = number(m, "mode", 8, 0o755).map_err(bad)?;
        let uid = number(m, "uid", 10, 0).map_err(bad)?;
        let gid = number(m, "gid", 10, 0).map_err(bad)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_values_parse_as_buildkit_writes_them() {
        let m = parse("type=cache,target=/root/.cache/pip,id=pip,sharing=locked").unwrap();
        assert_eq!(m.kind, "cache");
        assert_eq!(m.target, "/root/.cache/pip");
        assert!(m.writable());
        let b = parse("source=src,dst=/src").unwrap();
        assert_eq!((b.kind.as_str(), b.get("source")), ("bind", Some("src")));
        assert!(!b.writable());
        assert!(parse("type=bind,target=/x,rw").unwrap().writable());
        assert!(!parse("type=cache,target=/x,ro=true").unwrap().writable());
        assert_eq!(
            parse("type=secret,id=token").unwrap().target,
            "/run/secrets/token"
        );
        assert!(parse("type=cache").unwrap_err().contains("needs target"));
        assert!(parse("type=tmpfs,target=/t,bogus=1")
            .unwrap_err()
            .contains("bogus"));
        assert!(parse("type=ssh").unwrap_err().contains("not supported"));
        assert!(parse("type=nfs,target=/x")
            .unwrap_err()
            .contains("unsupported mount type"));
    }
}
