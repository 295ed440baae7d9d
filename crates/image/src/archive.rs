//! `docker save` / `docker load` archives.
//!
//! berth writes what Docker 25+ writes: one tar that is both an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/…`) and a docker-archive (`manifest.json` pointing at the same
//! blobs), so `docker load`, `podman load` and `skopeo` (docker-archive: and oci-archive:) all
//! read it. Blobs go in exactly as stored, so save → load keeps every digest.
//!
//! Load reads both the old docker-archive form (`<id>/layer.tar`, `<id>.json`) and OCI layouts.
//! Every file of the archive is streamed into scratch space while being hashed; nothing becomes
//! visible until its digest is verified, and the index changes only once all of an image's
//! content is in place.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;

use oci_spec::image::{Descriptor, ImageManifest, MediaType};
use serde::Deserialize;
use serde_json::json;

use crate::config::{host_architecture, ImageConfig};
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::images::{familiar, Image};
use crate::import::write_manifest;
use crate::layer::apply::clean_entry_path;
use crate::layer::{decompressed, sniff, Compression};
use crate::reference::Reference;
use crate::store::{PendingBlob, Store};

/// Files up to this size are also kept in memory while loading (manifests, configs).
const SMALL_FILE: u64 = 4 << 20;

/// Writes `images` (each with the tags to record for it) as one archive to `out`.
/// What `docker save NAME…` writes: each image once, with the tags it was named by (an image
/// named by ID gets no name, as Docker does).
pub fn select(store: &Store, names: &[String]) -> Result<Vec<(Image, Vec<String>)>> {
    let mut chosen: Vec<(Image, Vec<String>)> = Vec::new();
    for name in names {
        let img = store.lookup(name)?;
        let tag = crate::reference::Reference::parse_tagged_default(name)
            .ok()
            .and_then(|r| r.tagged_name())
            .filter(|t| img.tags.contains(t));
        match chosen
            .iter_mut()
            .find(|(i, _)| i.manifest_digest == img.manifest_digest)
        {
            Some((_, tags)) => tags.extend(tag),
            None => chosen.push((img, tag.into_iter().collect())),
        }
    }
    Ok(chosen)
}

pub fn save<W: Write>(store: &Store, images: &[(Image, Vec<String>)], out: W) -> Result<W> {
    let out = write_archive(store, images, out)?;
    for (img, tags) in images {
        let id = img.id().to_string();
        store.image_event("save", &id, tags.first().map_or(&id, |t| t));
    }
    Ok(out)
}

fn write_archive<W: Write>(store: &Store, images: &[(Image, Vec<String>)], out: W) -> Result<W> {
    let mut tar = tar::Builder::new(out);
    let werr = |e: io::Error| Error::stream("write archive", e);
    let mut written: HashSet<Digest> = HashSet::new();
    let mut index_entries = Vec::new();
    let mut manifest_json = Vec::new();

    for dir in ["blobs/", "blobs/sha256/"] {
        let mut h = fixed_header(tar::EntryType::Directory, 0o755, 0);
        tar.append_data(&mut h, dir, io::empty()).map_err(werr)?;
    }
    for (img, tags) in images {
        let mut blobs = vec![img.manifest_digest.clone(), img.record.config.clone()];
        let mut layer_paths = Vec::new();
        for l in img.layer_descriptors() {
            let d = Digest::parse(l.digest().as_ref())?;
            layer_paths.push(format!("blobs/sha256/{}", d.hex()));
            blobs.push(d);
        }
        for d in blobs {
            if written.insert(d.clone()) {
                let size = store.blob_size(&d)?;
                let f = store.open_blob(&d)?;
                let mut h = fixed_header(tar::EntryType::Regular, 0o644, size);
                tar.append_data(&mut h, format!("blobs/sha256/{}", d.hex()), f)
                    .map_err(werr)?;
            }
        }
        let media_type = img
            .manifest
            .media_type()
            .clone()
            .unwrap_or(MediaType::ImageManifest)
            .to_string();
        let manifest_size = store.blob_size(&img.manifest_digest)?;
        if tags.is_empty() {
            index_entries.push(json!({
                "mediaType": media_type,
                "digest": img.manifest_digest.to_string(),
                "size": manifest_size,
            }));
        }
        for t in tags {
            let short_tag = t.rsplit_once(':').map(|x| x.1).unwrap_or("latest");
            index_entries.push(json!({
                "mediaType": media_type,
                "digest": img.manifest_digest.to_string(),
                "size": manifest_size,
                "annotations": {
                    "io.containerd.image.name": t,
                    "org.opencontainers.image.ref.name": short_tag,
                },
            }));
        }
        manifest_json.push(json!({
            "Config": format!("blobs/sha256/{}", img.record.config.hex()),
            "RepoTags": tags.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
            "Layers": layer_paths,
        }));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": index_entries,
    });
    let files: [(&str, Vec<u8>); 3] = [
        ("index.json", to_json(&index)?),
        ("manifest.json", to_json(&manifest_json)?),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
    ];
    for (name, bytes) in files {
        let mut h = fixed_header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
        tar.append_data(&mut h, name, &bytes[..]).map_err(werr)?;
    }
    tar.into_inner().map_err(werr)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Json {
        what: "archive metadata".into(),
        source: e,
    })
}

/// Headers with fixed owner and time, so saving the same images gives the same bytes.
fn fixed_header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(size);
    h
}

/// One image that `load` added.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub id: Digest,
    /// Familiar tag names (`busybox:latest`).
    pub tags: Vec<String>,
}

struct Staged {
    pending: Option<PendingBlob>,
    small: Option<Vec<u8>>,
}

struct ArchiveFiles<'a> {
    store: &'a Store,
    what: String,
    files: HashMap<String, Staged>,
    links: HashMap<String, String>,
    committed: HashMap<String, Digest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Loads a `docker save` archive or an OCI layout archive (optionally gzip/zstd compressed).
/// `what` names the input in errors.
pub fn load<R: Read>(store: &Store, input: R, what: &str) -> Result<Vec<LoadedImage>> {
    let loaded = load_archive(store, input, what)?;
    for l in &loaded {
        let id = l.id.to_string();
        store.image_event("load", &id, l.tags.first().map_or(&id, |t| t));
    }
    Ok(loaded)
}

fn load_archive<R: Read>(store: &Store, input: R, what: &str) -> Result<Vec<LoadedImage>> {
    let gc_guard = store.gc_lock(false)?;
    let (reader, _) = decompressed(input, what)?;
    let mut files = ArchiveFiles {
        store,
        what: what.to_string(),
        files: HashMap::new(),
        links: HashMap::new(),
        committed: HashMap::new(),
    };
    files.read_all(reader)?;
    let result = if files.exists("index.json") {
        files.load_oci()
    } else if files.exists("manifest.json") {
        files.load_docker()
    } else {
        Err(Error::BadArchive {
            what: what.to_string(),
            reason: "not an image archive: it has neither manifest.json (docker save) nor index.json (OCI layout)".into(),
        })
    };
    if result.is_err() && !files.committed.is_empty() {
        // Blobs published before a later failure (a layer whose content does not match its
        // diff id) belong to no image: collect them so the store is as it was.
        drop(files);
        drop(gc_guard);
        let _ = store.gc(&|_| false);
    }
    result
}

impl ArchiveFiles<'_> {
    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::BadArchive {
            what: self.what.clone(),
            reason: reason.into(),
        }
    }

    fn read_all<R: Read>(&mut self, reader: R) -> Result<()> {
        let mut ar = tar::Archive::new(reader);
        let tar_err = |e: io::Error, what: &str| Error::BadTar {
            what: what.to_string(),
            cause: e,
        };
        for entry in ar.entries().map_err(|e| tar_err(e, &self.what))? {
            let mut entry = entry.map_err(|e| tar_err(e, &self.what))?;
            let raw = entry.path_bytes().into_owned();
            let Ok(path) = clean_entry_path(&raw) else {
                return Err(self.bad(format!(
                    "entry {:?} has an unsafe path",
                    String::from_utf8_lossy(&raw)
                )));
            };
            let path = String::from_utf8_lossy(path.as_os_str().as_bytes()).into_owned();
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.header().size().unwrap_or(u64::MAX);
                    let mut w = self.store.blob_writer()?;
                    let mut small = Vec::new();
                    let copied = if size <= SMALL_FILE {
                        let mut tee = crate::digest::TeeReader::new(&mut entry, &mut small);
                        io::copy(&mut tee, &mut w)
                    } else {
                        io::copy(&mut entry, &mut w)
                    };
                    copied.map_err(|e| tar_err(e, &format!("{} (entry {path})", self.what)))?;
                    let pending = w.finish()?;
                    self.files.insert(
                        path,
                        Staged {
                            pending: Some(pending),
                            small: (size <= SMALL_FILE).then_some(small),
                        },
                    );
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let base = if entry.header().entry_type() == tar::EntryType::Symlink {
                            path.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string()
                        } else {
                            String::new()
                        };
                        self.links.insert(path, normalize_join(&base, &target));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn resolve<'p>(&'p self, path: &'p str) -> &'p str {
        let mut p = path;
        for _ in 0..16 {
            match self.links.get(p) {
                Some(t) => p = t,
                None => break,
            }
        }
        p
    }

    fn exists(&self, path: &str) -> bool {
        self.files.contains_key(self.resolve(path))
    }

    /// Small file content (metadata JSON).
    fn bytes(&self, path: &str) -> Result<Vec<u8>> {
        let real = self.resolve(path);
        let f = self
            .files
            .get(real)
            .ok_or_else(|| self.bad(format!("it refers to {path}, which is not in the archive")))?;
        match (&f.small, &f.pending) {
            (Some(b), _) => Ok(b.clone()),
            (None, Some(p)) => {
                if p.size > SMALL_FILE * 4 {
                    return Err(self.bad(format!("{path} is too large to be image metadata")));
                }
                std::fs::read(p.path()).ctx("read", p.path().to_path_buf())
            }
            (None, None) => {
                let d = self
                    .committed
                    .get(real)
                    .cloned()
                    .ok_or_else(|| self.bad(format!("{path} is missing")))?;
                self.store.read_blob(&d)
            }
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let b = self.bytes(path)?;
        serde_json::from_slice(&b).map_err(|e| Error::Json {
            what: format!("{}: {path}", self.what),
            source: e,
        })
    }

    /// Checks that the archive file at `path` is there and has the digest expected of it
    /// (given, or implied by a `blobs/sha256/<hex>` name), without publishing it.
    fn check(&self, path: &str, expected: Option<&Digest>) -> Result<()> {
        let real = self.resolve(path);
        let implied = real
            .strip_prefix("blobs/sha256/")
            .and_then(|h| Digest::from_hex(h).ok());
        let Some(expected) = expected.cloned().or(implied) else {
            return if self.files.contains_key(real) || self.committed.contains_key(real) {
                Ok(())
            } else {
                Err(self.bad(format!("it refers to {path}, which is not in the archive")))
            };
        };
        let actual = match (
            self.files.get(real).and_then(|f| f.pending.as_ref()),
            self.committed.get(real),
        ) {
            (Some(p), _) => p.digest.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => {
                return Err(self.bad(format!("it refers to {path}, which is not in the archive")))
            }
        };
        if actual != expected {
            return Err(Error::DigestMismatch {
                what: format!("{}: {path}", self.what),
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    /// Moves the archive file at `path` into the store, checking its digest against `expected`
    /// (or against the digest its `blobs/sha256/<hex>` name implies).
    fn commit(&mut self, path: &str, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let real = self.resolve(path).to_string();
        let implied = real
            .strip_prefix("blobs/sha256/")
            .and_then(|h| Digest::from_hex(h).ok());
        let expected = expected.cloned().or(implied);
        if let Some(d) = self.committed.get(&real) {
            if expected.as_ref().is_some_and(|e| e != d) {
                return Err(Error::DigestMismatch {
                    what: format!("{}: {path}", self.what),
                    expected: expected.map(|e| e.to_string()).unwrap_or_default(),
                    actual: d.to_string(),
                });
            }
            return Ok((d.clone(), self.store.blob_size(d)?));
        }
        let missing = self.bad(format!("it refers to {path}, which is not in the archive"));
        let pending = self
            .files
            .get_mut(&real)
            .ok_or(missing)?
            .pending
            .take()
            .ok_or_else(|| Error::MissingBlob(path.to_string()))?;
        let (d, size) = pending.commit(expected.as_ref(), &format!("{}: {path}", self.what))?;
        self.committed.insert(real, d.clone());
        Ok((d, size))
    }

    fn load_docker(&mut self) -> Result<Vec<LoadedImage>> {
        let entries: Vec<DockerManifestEntry> = self.json("manifest.json")?;
        let mut out = Vec::new();
        for e in entries {
            let implied = e
                .config
                .rsplit('/')
                .next()
                .and_then(|n| Digest::from_hex(n.trim_end_matches(".json")).ok());
            let config_bytes = self.bytes(&e.config)?;
            let config: ImageConfig =
                serde_json::from_slice(&config_bytes).map_err(|err| Error::Json {
                    what: format!("{}: image config {}", self.what, e.config),
                    source: err,
                })?;
            if config.rootfs.diff_ids.len() != e.layers.len() {
                return Err(self.bad(format!(
                    "image config {} lists {} layers but manifest.json gives {}",
                    e.config,
                    config.rootfs.diff_ids.len(),
                    e.layers.len()
                )));
            }
            // Check every digest before anything becomes visible.
            self.check(&e.config, implied.as_ref())?;
            for path in &e.layers {
                self.check(path, None)?;
            }
            let (config_digest, config_size) = self.commit(&e.config, implied.as_ref())?;
            let mut descs = Vec::new();
            let mut parent: Option<Digest> = None;
            for (path, diff_id) in e.layers.iter().zip(&config.rootfs.diff_ids) {
                let (blob, size) = self.commit(path, None)?;
                let mut head = [0u8; 8];
                let n = self.store.open_blob(&blob)?.read(&mut head).unwrap_or(0);
                let c = sniff(&head[..n]).unwrap_or(Compression::None);
                let info = self.store.ensure_layer(parent.as_ref(), &blob, diff_id)?;
                parent = Some(info.chain_id);
                descs.push(Descriptor::new(
                    MediaType::from(c.oci_layer_media_type()),
                    size,
                    &blob,
                ));
            }
            let manifest = write_manifest(self.store, &config_digest, config_size, descs)?;
            let tags = parse_tags(e.repo_tags.unwrap_or_default())?;
            let img = self.store.add_image(&manifest, &tags, None)?;
            out.push(LoadedImage {
                id: img.id().clone(),
                tags: tags.iter().map(|t| t.familiar_tagged()).collect(),
            });
        }
        Ok(out)
    }

    fn load_oci(&mut self) -> Result<Vec<LoadedImage>> {
        let index: serde_json::Value = self.json("index.json")?;
        let manifests = index["manifests"]
            .as_array()
            .ok_or_else(|| self.bad("index.json has no manifests list"))?
            .clone();
        // Images by manifest digest, with the names given to them.
        let mut wanted: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
        let mut order = Vec::new();
        for m in &manifests {
            let d = self.desc_digest(m)?;
            let media = m["mediaType"].as_str().unwrap_or("");
            let d = if is_index(media) {
                self.pick_platform(&d)?
            } else {
                d
            };
            let name = m["annotations"]["io.containerd.image.name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    // A bare tag (skopeo's oci-archive:FILE:tag) names no repository.
                    m["annotations"]["org.opencontainers.image.ref.name"]
                        .as_str()
                        .filter(|n| n.contains('/') || n.contains(':'))
                        .map(str::to_string)
                });
            if !wanted.contains_key(&d) {
                order.push(d.clone());
            }
            let names = wanted.entry(d).or_default();
            if let Some(n) = name {
                names.push(n);
            }
        }
        let mut out = Vec::new();
        for d in order {
            let names = wanted.remove(&d).unwrap_or_default();
            let path = format!("blobs/sha256/{}", d.hex());
            let bytes = self.bytes(&path)?;
            let manifest: ImageManifest =
                serde_json::from_slice(&bytes).map_err(|e| Error::Json {
                    what: format!("{}: manifest {d}", self.what),
                    source: e,
                })?;
            check_manifest_media_type(&manifest, &d)?;
            let config_d = Digest::parse(manifest.config().digest().as_ref())?;
            let config: ImageConfig = self.json(&format!("blobs/sha256/{}", config_d.hex()))?;
            if config.rootfs.diff_ids.len() != manifest.layers().len() {
                return Err(self.bad(format!(
                    "manifest {d} has {} layers but its config lists {}",
                    manifest.layers().len(),
                    config.rootfs.diff_ids.len()
                )));
            }
            // Check every digest before anything becomes visible.
            self.check(&path, Some(&d))?;
            self.check(&format!("blobs/sha256/{}", config_d.hex()), Some(&config_d))?;
            for l in manifest.layers() {
                check_layer_media_type(l)?;
                let ld = Digest::parse(l.digest().as_ref())?;
                self.check(&format!("blobs/sha256/{}", ld.hex()), Some(&ld))?;
            }
            self.commit(&format!("blobs/sha256/{}", config_d.hex()), Some(&config_d))?;
            let mut parent: Option<Digest> = None;
            for (l, diff_id) in manifest.layers().iter().zip(&config.rootfs.diff_ids) {
                check_layer_media_type(l)?;
                let ld = Digest::parse(l.digest().as_ref())?;
                self.commit(&format!("blobs/sha256/{}", ld.hex()), Some(&ld))?;
                let info = self.store.ensure_layer(parent.as_ref(), &ld, diff_id)?;
                parent = Some(info.chain_id);
            }
            self.commit(&path, Some(&d))?;
            let tags = parse_tags(names)?;
            let img = self.store.add_image(&d, &tags, None)?;
            out.push(LoadedImage {
                id: img.id().clone(),
                tags: tags.iter().map(|t| t.familiar_tagged()).collect(),
            });
        }
        Ok(out)
    }

    fn desc_digest(&self, m: &serde_json::Value) -> Result<Digest> {
        let s = m["digest"]
            .as_str()
            .ok_or_else(|| self.bad("an index entry has no digest"))?;
        Digest::parse(s)
    }

    /// From a nested index (multi-platform image), the manifest for this machine.
    fn pick_platform(&mut self, index_digest: &Digest) -> Result<Digest> {
        let path = format!("blobs/sha256/{}", index_digest.hex());
        let idx: serde_json::Value = self.json(&path)?;
        let list = idx["manifests"].as_array().cloned().unwrap_or_default();
        let arch = host_architecture();
        let pick = list
            .iter()
            .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == arch)
            .or_else(|| {
                list.iter().find(|m| {
                    self.exists(&format!(
                        "blobs/sha256/{}",
                        m["digest"]
                            .as_str()
                            .unwrap_or("")
                            .trim_start_matches("sha256:")
                    ))
                })
            })
            .ok_or_else(|| {
                self.bad(format!(
                    "index {index_digest} has no manifest for linux/{arch}"
                ))
            })?;
        let d = self.desc_digest(pick)?;
        self.commit(&path, Some(index_digest))?;
        Ok(d)
    }
}

fn is_index(media: &str) -> bool {
    media == "application/vnd.oci.image.index.v1+json"
        || media == "application/vnd.docker.distribution.manifest.list.v2+json"
}

fn check_manifest_media_type(m: &ImageManifest, d: &Digest) -> Result<()> {
    match m.media_type() {
        None | Some(MediaType::ImageManifest) => Ok(()),
        Some(MediaType::Other(s))
            if s == "application/vnd.docker.distribution.manifest.v2+json" =>
        {
            Ok(())
        }
        Some(other) => Err(Error::UnsupportedMediaType {
            media_type: other.to_string(),
            what: format!("manifest {d}"),
        }),
    }
}

fn check_layer_media_type(l: &Descriptor) -> Result<()> {
    let t = l.media_type().to_string();
    let ok = matches!(
        t.as_str(),
        "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.docker.image.rootfs.diff.tar"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    );
    if ok {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType {
            media_type: t,
            what: format!("layer {}", l.digest()),
        })
    }
}

fn parse_tags(names: Vec<String>) -> Result<Vec<Reference>> {
    let mut out = Vec::new();
    for n in names {
        let r = Reference::parse_tagged_default(&n)?;
        if r.tag.is_some() && !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Joins a symlink target to the directory holding the link, resolving `.` and `..`.
fn normalize_join(base: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|p| !p.is_empty()).collect()
    };
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            x => parts.push(x),
        }
    }
    parts.join("/")
}
