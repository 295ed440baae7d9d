//! Volumes and mounts: `-v HOST:CTR[:ro]`, `-v NAME:CTR`, `-v CTR` (anonymous),
//! `--mount type=bind|volume|tmpfs,...` and `--tmpfs CTR[:opts]`, parsed as Docker parses
//! them; named volumes under `volumes/<name>/_data`, seeded from the image on first use.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::container_config::Mount;
use crate::error::{Error, IoContext, Result};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct MountSpec {
    /// bind, volume or tmpfs
    pub kind: String,
    /// Host path (bind) or volume name (volume); empty for tmpfs.
    pub source: String,
    pub target: String,
    pub readonly: bool,
    /// tmpfs options (`size=64m`, `mode=1777`).
    pub options: Vec<String>,
    /// A volume berth named itself (`-v /data`): removed by `rm -v`.
    #[serde(default)]
    pub anonymous: bool,
    /// A volume that is not seeded from the image (VolumeOptions.NoCopy).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_copy: bool,
    /// The directory inside the volume that is mounted (VolumeOptions.Subpath); empty: all.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subpath: String,
    /// Labels for the volume when this mount creates it (VolumeOptions.Labels).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

pub fn valid_volume_name(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A `HostConfig.Binds` entry (the CLI's `-v`): `SOURCE:TARGET[:MODE]` with SOURCE an absolute
/// host path or a volume name, or `TARGET` alone for an anonymous volume. The reason is
/// returned for the caller to name its flag or field.
pub fn parse_bind(v: &str) -> std::result::Result<MountSpec, String> {
    let parts: Vec<&str> = v.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => return Err("expected [SOURCE:]TARGET[:MODE]".into()),
    };
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    let mut readonly = false;
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => readonly = true,
            "rw" | "z" | "Z" | "rprivate" | "private" | "rshared" | "shared" | "rslave"
            | "slave" | "nocopy" => {}
            _ => return Err(format!("invalid mode: {m}")),
        }
    }
    let (kind, anonymous) = if source.is_empty() {
        ("volume", true)
    } else if source.starts_with('/') {
        ("bind", false)
    } else if valid_volume_name(source) {
        ("volume", false)
    } else {
        return Err(format!("\"{source}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"));
    };
    Ok(MountSpec {
        kind: kind.into(),
        source: source.to_string(),
        target: target.to_string(),
        readonly,
        options: Vec::new(),
        anonymous,
        ..Default::default()
    })
}

/// A `HostConfig.Mounts` entry (the CLI's `--mount`), checked as Docker's daemon checks it.
pub fn mount_spec(m: &Mount) -> std::result::Result<MountSpec, String> {
    if !matches!(m.kind.as_str(), "bind" | "volume" | "tmpfs") {
        return Err(format!(
            "unsupported mount type {:?} (expected bind, volume or tmpfs)",
            m.kind
        ));
    }
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    if !m.target.starts_with('/') {
        return Err("target must be an absolute path".into());
    }
    let mut anonymous = false;
    match m.kind.as_str() {
        "bind" if m.source.is_empty() => {
            return Err("source is required when type is bind".into())
        }
        "bind" if !m.source.starts_with('/') => {
            return Err(format!(
                "invalid mount config for type \"bind\": invalid mount path: '{}' mount path must be absolute",
                m.source
            ))
        }
        "tmpfs" if !m.source.is_empty() => return Err("source is not allowed for tmpfs".into()),
        "volume" if m.source.is_empty() => anonymous = true,
        "volume" if !valid_volume_name(&m.source) => return Err("invalid volume name".into()),
        _ => {}
    }
    if m.tmpfs_options.is_some() && m.kind != "tmpfs" {
        return Err(format!("TmpfsOptions cannot be used with type {}", m.kind));
    }
    let vo = m.volume_options.clone().unwrap_or_default();
    if m.volume_options.is_some() && m.kind != "volume" {
        return Err(format!("VolumeOptions cannot be used with type {}", m.kind));
    }
    if !vo.subpath.is_empty()
        && (vo.subpath.starts_with('/')
            || std::path::Path::new(&vo.subpath).components().any(|c| {
                !matches!(
                    c,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            }))
    {
        return Err(format!(
            "subpath {:?} must be a relative path inside the volume",
            vo.subpath
        ));
    }
    let mut options = Vec::new();
    if let Some(t) = &m.tmpfs_options {
        if t.size_bytes < 0 {
            return Err("tmpfs size cannot be negative".into());
        }
        if t.size_bytes > 0 {
            options.push(format!("size={}", t.size_bytes));
        }
        if t.mode != 0 {
            options.push(format!("mode={:o}", t.mode));
        }
    }
    Ok(MountSpec {
        kind: m.kind.clone(),
        source: m.source.clone(),
        target: m.target.clone(),
        readonly: m.read_only,
        options,
        anonymous,
        no_copy: vo.no_copy,
        subpath: vo.subpath.trim_start_matches("./").to_string(),
        labels: vo.labels,
    })
}

/// A `HostConfig.Tmpfs` entry (the CLI's `--tmpfs PATH[:OPTIONS]`).
pub fn tmpfs_spec(target: &str, options: &str) -> std::result::Result<MountSpec, String> {
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    Ok(MountSpec {
        kind: "tmpfs".into(),
        source: String::new(),
        target: target.to_string(),
        readonly: false,
        options: options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect(),
        anonymous: false,
        ..Default::default()
    })
}

/// Named volumes under a berth root.
pub struct Volumes {
    root: PathBuf,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct VolumeInfo {
    pub name: String,
    pub created: String,
    pub anonymous: bool,
    /// Labels given at creation (`volume create --label`, compose's project labels).
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// The label Docker (23+) puts on the volumes it names itself; `volume prune` without `all`
/// removes only these.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

impl VolumeInfo {
    /// The labels as Docker shows them: anonymous volumes carry `ANONYMOUS_LABEL`.
    pub fn shown_labels(&self) -> Option<BTreeMap<String, String>> {
        let mut l = self.labels.clone();
        if self.anonymous {
            l.get_or_insert_with(BTreeMap::new)
                .insert(ANONYMOUS_LABEL.to_string(), String::new());
        }
        l
    }
}

impl Volumes {
    pub fn new(berth_root: &Path) -> Result<Volumes> {
        let root = berth_root.join("volumes");
        fs::create_dir_all(&root).ctx("create directory", &root)?;
        Ok(Volumes { root })
    }

    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    pub fn exists(&self, name: &str) -> bool {
        self.root.join(name).join("volume.json").is_file()
    }

    /// Creates the volume if needed; true if it was created now.
    pub fn ensure(&self, name: &str, anonymous: bool) -> Result<bool> {
        self.create(name, anonymous, None)
    }

    /// `volume create` / `POST /volumes/create`: as `ensure`, with labels. A volume that
    /// exists already is left as it is (Docker's create is idempotent too).
    pub fn create(
        &self,
        name: &str,
        anonymous: bool,
        labels: Option<BTreeMap<String, String>>,
    ) -> Result<bool> {
        if self.exists(name) {
            return Ok(false);
        }
        if !valid_volume_name(name) {
            return Err(Error::Invalid(format!("create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed")));
        }
        let dir = self.root.join(name);
        fs::create_dir_all(dir.join("_data")).ctx("create volume", &dir)?;
        let info = VolumeInfo {
            name: name.to_string(),
            created: crate::record::now(),
            anonymous,
            labels,
        };
        // Written whole or not at all: a reader never sees half a record.
        let tmp = dir.join(format!("volume.json.tmp{}", std::process::id()));
        fs::write(&tmp, serde_json::to_vec(&info).unwrap_or_default()).ctx("write", &tmp)?;
        fs::rename(&tmp, dir.join("volume.json")).ctx("write", dir.join("volume.json"))?;
        self.event("create", name);
        Ok(true)
    }

    /// Records a volume event in the journal of the berth root these volumes are under.
    fn event(&self, action: &str, name: &str) {
        if let Some(berth_root) = self.root.parent() {
            let e = berth_events::Event::now("volume", action, name, &[("driver", "local")]);
            let _ = berth_events::Journal::new(berth_root).record(&e);
        }
    }

    /// The volume as `volume inspect` and `GET /volumes/{name}` show it (Docker's fields), if
    /// there is one of that name.
    pub fn inspect(&self, name: &str) -> Result<Option<serde_json::Value>> {
        let found = self.list()?.into_iter().find(|v| v.name == name);
        Ok(found.map(|v| self.volume_json(&v)))
    }

    /// Docker's shape of a volume object.
    pub fn volume_json(&self, v: &VolumeInfo) -> serde_json::Value {
        serde_json::json!({
            "CreatedAt": v.created,
            "Driver": "local",
            "Labels": v.shown_labels(),
            "Mountpoint": self.data_dir(&v.name),
            "Name": v.name,
            "Options": null,
            "Scope": "local",
        })
    }

    pub fn list(&self) -> Result<Vec<VolumeInfo>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root)
            .ctx("read directory", &self.root)?
            .flatten()
        {
            if let Ok(b) = fs::read(e.path().join("volume.json")) {
                if let Ok(v) = serde_json::from_slice::<VolumeInfo>(&b) {
                    out.push(v);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        if !self.exists(name) {
            return Err(Error::NoSuchVolume(name.to_string()));
        }
        let dir = self.root.join(name);
        fs::remove_dir_all(&dir).ctx("remove volume", &dir)?;
        self.event("destroy", name);
        Ok(())
    }

    pub fn size(&self, name: &str) -> u64 {
        dir_size(&self.data_dir(name))
    }
}

/// Bytes of the files under a directory (links not followed).
pub fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(p) else { return 0 };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Copies the image's content at a mount target into a new, empty volume (Docker's seeding),
/// keeping modes, owners and symlinks.
pub fn seed(from: &Path, to: &Path) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(from) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Ok(());
    }
    fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777)).ctx("chmod", to)?;
    let _ = std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()));
    for e in fs::read_dir(from).ctx("read directory", from)?.flatten() {
        let src = e.path();
        let dst = to.join(e.file_name());
        let m = fs::symlink_metadata(&src).ctx("stat", &src)?;
        if m.is_dir() {
            fs::create_dir(&dst).ctx("create directory", &dst)?;
            seed(&src, &dst)?;
        } else if m.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).ctx("read link", &src)?, &dst)
                .ctx("symlink", &dst)?;
        } else if m.is_file() {
            fs::copy(&src, &dst).ctx("copy", &dst)?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(m.mode() & 0o7777))
                .ctx("chmod", &dst)?;
        } else {
            continue; // devices and sockets are not seeded
        }
        let _ = std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_volume_syntax() {
        let m = parse_bind("/srv/data:/data:ro").unwrap();
        assert_eq!(
            (
                m.kind.as_str(),
                m.source.as_str(),
                m.target.as_str(),
                m.readonly
            ),
            ("bind", "/srv/data", "/data", true)
        );
        let m = parse_bind("cache:/root/.cache").unwrap();
        assert_eq!((m.kind.as_str(), m.anonymous), ("volume", false));
        assert!(parse_bind("/data").unwrap().anonymous);
        assert!(parse_bind("data").is_err(), "relative target");
        assert!(parse_bind("a:/b:bogus").is_err());
        assert!(parse_bind("./rel:/b")
            .unwrap_err()
            .contains("use absolute path"));
        let tmpfs = Mount {
            kind: "tmpfs".into(),
            target: "/run".into(),
            tmpfs_options: Some(crate::container_config::TmpfsOptions {
                size_bytes: 1 << 20,
                mode: 0o1777,
                ..Default::default()
            }),
            ..Mount::default()
        };
        assert_eq!(
            mount_spec(&tmpfs).unwrap().options,
            vec!["size=1048576", "mode=1777"]
        );
        let bind = |source: &str| Mount {
            kind: "bind".into(),
            source: source.into(),
            target: "/x".into(),
            ..Mount::default()
        };
        assert!(mount_spec(&bind("")).is_err());
        assert!(mount_spec(&bind("rel")).is_err());
        assert!(mount_spec(&Mount {
            kind: "nfs".into(),
            ..bind("/")
        })
        .is_err());
        assert!(
            mount_spec(&Mount {
                kind: "volume".into(),
                ..bind("")
            })
            .unwrap()
            .anonymous
        );
        assert_eq!(
            tmpfs_spec("/run", "size=1m,mode=1777").unwrap().options,
            vec!["size=1m", "mode=1777"]
        );
    }
}
