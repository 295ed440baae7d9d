//! Images in the store: the index of tags and images, lookup by name or id, tagging, removal
//! and garbage collection.
//!
//! `images.json` maps full tag names (`docker.io/library/busybox:latest`) to manifest digests and
//! lists every image by manifest digest. It is rewritten atomically under `images.lock`;
//! readers never take a lock.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io;

use oci_spec::image::{Descriptor, ImageManifest};
use serde::{Deserialize, Serialize};

use crate::config::ImageConfig;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::layers::chain_ids;
use crate::reference::Reference;
use crate::store::{write_file_atomic, Store};

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ImageIndex {
    #[serde(default)]
    pub images: BTreeMap<Digest, ImageRecord>,
    #[serde(default)]
    pub tags: BTreeMap<String, Digest>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ImageRecord {
    /// Config digest: the image ID Docker shows.
    pub config: Digest,
    /// When the image entered this store (RFC 3339).
    pub added: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tag_time: Option<String>,
    /// `name@sha256:…` for each registry the manifest is known from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
    /// The image this one was committed from (Docker's local `Parent`); None otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// An image read from the store.
#[derive(Clone, Debug)]
pub struct Image {
    pub manifest_digest: Digest,
    pub manifest: ImageManifest,
    pub config: ImageConfig,
    pub record: ImageRecord,
    /// Full tag names pointing at it (`docker.io/library/busybox:latest`), sorted.
    pub tags: Vec<String>,
}

impl Image {
    /// The image ID (config digest), as Docker shows it.
    pub fn id(&self) -> &Digest {
        &self.record.config
    }
    pub fn diff_ids(&self) -> &[Digest] {
        &self.config.rootfs.diff_ids
    }
    pub fn chain_ids(&self) -> Vec<Digest> {
        chain_ids(&self.config.rootfs.diff_ids)
    }
    pub fn layer_descriptors(&self) -> &[Descriptor] {
        self.manifest.layers()
    }
}

/// What `rmi`/`prune` did, in Docker's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoveEvent {
    Untagged(String),
    Deleted(Digest),
}

/// Now, as Go's RFC3339Nano writes it (trailing zeros of the fraction dropped), so that tools
/// which re-encode an image config (skopeo converting to OCI) produce the same bytes, and the
/// image keeps its ID.
pub fn now_rfc3339() -> String {
    go_rfc3339_nano(chrono::Utc::now())
}

pub(crate) fn go_rfc3339_nano(t: chrono::DateTime<chrono::Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{}Z", format!("{nanos:09}").trim_end_matches('0'))
    }
}

fn manifest_config_digest(m: &ImageManifest) -> Result<Digest> {
    Digest::parse(m.config().digest().as_ref())
}

impl Store {
    fn index_path(&self) -> std::path::PathBuf {
        self.root().join("images.json")
    }

    pub fn read_index(&self) -> Result<ImageIndex> {
        let p = self.index_path();
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Json {
                what: p.display().to_string(),
                source: e,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ImageIndex::default()),
            Err(e) => Err(Error::io("read", p, e)),
        }
    }

    /// Runs `f` on the index under the writers' lock and saves the result atomically.
    pub fn update_index<T>(&self, f: impl FnOnce(&mut ImageIndex) -> Result<T>) -> Result<T> {
        let _lock = self.lock_file("images.lock", true)?;
        let mut idx = self.read_index()?;
        let out = f(&mut idx)?;
        let bytes = serde_json::to_vec_pretty(&idx).map_err(|e| Error::Json {
            what: "images.json".into(),
            source: e,
        })?;
        write_file_atomic(&self.index_path(), &bytes)?;
        Ok(out)
    }

    pub fn read_manifest(&self, d: &Digest) -> Result<ImageManifest> {
        let bytes = self.read_blob(d)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            what: format!("manifest {d}"),
            source: e,
        })
    }

    pub fn read_config(&self, d: &Digest) -> Result<ImageConfig> {
        let bytes = self.read_blob(d)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            what: format!("image config {d}"),
            source: e,
        })
    }

    fn load_image(&self, idx: &ImageIndex, manifest_digest: &Digest) -> Result<Image> {
        let record = idx
            .images
            .get(manifest_digest)
            .cloned()
            .ok_or_else(|| Error::NoSuchImage(manifest_digest.to_string()))?;
        let manifest = self.read_manifest(manifest_digest)?;
        let config = self.read_config(&record.config)?;
        let tags = idx
            .tags
            .iter()
            .filter(|(_, d)| *d == manifest_digest)
            .map(|(t, _)| t.clone())
            .collect();
        Ok(Image {
            manifest_digest: manifest_digest.clone(),
            manifest,
            config,
            record,
            tags,
        })
    }

    /// An image whose manifest and config are stored but which is not registered (no record,
    /// no tags): a builder's intermediate state. Its layers must be unpacked.
    pub fn unregistered_image(&self, manifest_digest: &Digest) -> Result<Image> {
        let manifest = self.read_manifest(manifest_digest)?;
        let config_digest = manifest_config_digest(&manifest)?;
        let config = self.read_config(&config_digest)?;
        for c in chain_ids(&config.rootfs.diff_ids) {
            if !self.has_layer(&c) {
                return Err(Error::MissingBlob(format!("unpacked layer {c}")));
            }
        }
        Ok(Image {
            manifest_digest: manifest_digest.clone(),
            manifest,
            config,
            record: ImageRecord {
                config: config_digest,
                added: now_rfc3339(),
                last_tag_time: None,
                repo_digests: Vec::new(),
                parent: None,
            },
            tags: Vec::new(),
        })
    }

    /// Every image, newest first.
    pub fn list_images(&self) -> Result<Vec<Image>> {
        let idx = self.read_index()?;
        let mut out = idx
            .images
            .keys()
            .map(|d| self.load_image(&idx, d))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| {
            b.config
                .created
                .cmp(&a.config.created)
                .then(b.record.added.cmp(&a.record.added))
        });
        Ok(out)
    }

    /// Finds an image the way `docker` does: full id or digest, name[:tag][@digest], or a
    /// unique prefix of the id.
    pub fn lookup(&self, name: &str) -> Result<Image> {
        let idx = self.read_index()?;
        let digest = self.resolve_in(&idx, name)?;
        self.load_image(&idx, &digest)
    }

    /// Manifest digest of the image `name` names in `idx`.
    fn resolve_in(&self, idx: &ImageIndex, name: &str) -> Result<Digest> {
        // Full digest: image id (config) or manifest digest.
        if let Ok(d) = Digest::parse(name).or_else(|_| Digest::from_hex(name)) {
            if idx.images.contains_key(&d) {
                return Ok(d);
            }
            if let Some((m, _)) = idx.images.iter().find(|(_, r)| r.config == d) {
                return Ok(m.clone());
            }
        }
        let reference = Reference::parse_tagged_default(name);
        if let Ok(r) = &reference {
            if let Some(dig) = &r.digest {
                if idx.images.contains_key(dig) {
                    return Ok(dig.clone());
                }
                let wanted = format!("{}@{dig}", r.name());
                if let Some((m, _)) = idx
                    .images
                    .iter()
                    .find(|(_, rec)| rec.repo_digests.contains(&wanted))
                {
                    return Ok(m.clone());
                }
            } else if let Some(t) = r.tagged_name() {
                if let Some(d) = idx.tags.get(&t) {
                    return Ok(d.clone());
                }
            }
        }
        // Short id prefix.
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if !hex.is_empty() && hex.len() < 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: BTreeSet<&Digest> = idx
                .images
                .iter()
                .filter(|(_, r)| r.config.hex().starts_with(hex))
                .map(|(m, _)| m)
                .collect();
            match hits.len() {
                1 => {
                    return Ok(hits
                        .into_iter()
                        .next()
                        .cloned()
                        .unwrap_or_else(|| unreachable!()))
                }
                0 => {}
                _ => {
                    return Err(Error::Conflict(format!(
                    "image id prefix {hex} is ambiguous: it matches {} images; give more of the id",
                    hits.len()
                )))
                }
            }
        }
        match reference {
            Ok(r) => Err(Error::NoSuchImage(match &r.digest {
                Some(d) => format!("{}@{d}", r.familiar_name()),
                None => r.familiar_tagged(),
            })),
            Err(e) if name.contains(':') || name.contains('/') => Err(e),
            Err(_) => Err(Error::NoSuchImage(name.to_string())),
        }
    }

    /// Registers an image whose manifest and config are already stored and whose layers are
    /// unpacked, and points `tags` at it (moving them from any other image, as Docker does).
    pub fn add_image(
        &self,
        manifest_digest: &Digest,
        tags: &[Reference],
        repo_digest: Option<String>,
    ) -> Result<Image> {
        let manifest = self.read_manifest(manifest_digest)?;
        let config_digest = manifest_config_digest(&manifest)?;
        let config = self.read_config(&config_digest)?;
        // Never register an image whose content is not all present.
        for l in manifest.layers() {
            let d = Digest::parse(l.digest().as_ref())?;
            if !self.has_blob(&d) {
                return Err(Error::MissingBlob(d.to_string()));
            }
        }
        for c in chain_ids(&config.rootfs.diff_ids) {
            if !self.has_layer(&c) {
                return Err(Error::MissingBlob(format!("unpacked layer {c}")));
            }
        }
        let now = now_rfc3339();
        self.update_index(|idx| {
            let rec = idx
                .images
                .entry(manifest_digest.clone())
                .or_insert_with(|| ImageRecord {
                    config: config_digest.clone(),
                    added: now.clone(),
                    last_tag_time: None,
                    repo_digests: Vec::new(),
                    parent: None,
                });
            if let Some(rd) = repo_digest {
                if !rec.repo_digests.contains(&rd) {
                    rec.repo_digests.push(rd);
                }
            }
            if !tags.is_empty() {
                rec.last_tag_time = Some(now.clone());
            }
            for t in tags {
                if let Some(name) = t.tagged_name() {
                    idx.tags.insert(name, manifest_digest.clone());
                }
            }
            self.load_image(idx, manifest_digest)
        })
    }

    /// Records that the image `manifest_digest` was made from the image `parent` (its ID).
    pub fn set_parent(&self, manifest_digest: &Digest, parent: &str) -> Result<()> {
        self.update_index(|idx| {
            if let Some(r) = idx.images.get_mut(manifest_digest) {
                r.parent = Some(parent.to_string());
            }
            Ok(())
        })
    }

    /// `docker tag SOURCE TARGET`
    pub fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let target_ref = Reference::parse_tagged_default(target)?;
        let Some(target_name) = target_ref.tagged_name() else {
            return Err(Error::InvalidReference(format!(
                "{target}: refusing to create a tag with a digest reference"
            )));
        };
        let now = now_rfc3339();
        let id = self.update_index(|idx| {
            let m = self.resolve_in(idx, source)?;
            idx.tags.insert(target_name, m.clone());
            let r = idx.images.get_mut(&m);
            let id = r.as_ref().map(|r| r.config.to_string()).unwrap_or_default();
            if let Some(r) = r {
                r.last_tag_time = Some(now);
            }
            Ok(id)
        })?;
        self.image_event("tag", &id, &target_ref.familiar_tagged());
        Ok(())
    }

    /// `docker rmi [-f] NAME`. `in_use` tells whether containers use an image id (refused
    /// unless forced).
    pub fn remove_image(
        &self,
        name: &str,
        force: bool,
        in_use: &dyn Fn(&Digest) -> bool,
    ) -> Result<Vec<RemoveEvent>> {
        let mut image_id = None;
        let events = self.update_index(|idx| {
            let m = self.resolve_in(idx, name)?;
            let rec = idx.images.get(&m).cloned().ok_or_else(|| Error::NoSuchImage(name.into()))?;
            image_id = Some(rec.config.clone());
            let tags: Vec<String> = idx.tags.iter().filter(|(_, d)| **d == m).map(|(t, _)| t.clone()).collect();
            let mut events = Vec::new();
            // By tag: remove just that tag; the image goes only with its last tag.
            let by_tag = Reference::parse_tagged_default(name)
                .ok()
                .and_then(|r| r.tagged_name())
                .filter(|t| tags.contains(t));
            if let Some(t) = by_tag {
                idx.tags.remove(&t);
                events.push(RemoveEvent::Untagged(familiar(&t)));
                if tags.len() > 1 {
                    return Ok(events);
                }
            } else {
                let repos: HashSet<&str> = tags.iter().map(|t| t.rsplit_once(':').map_or(t.as_str(), |x| x.0)).collect();
                if repos.len() > 1 && !force {
                    return Err(Error::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        rec.config.short()
                    )));
                }
                for t in &tags {
                    idx.tags.remove(t);
                    events.push(RemoveEvent::Untagged(familiar(t)));
                }
            }
            if in_use(&rec.config) && !force {
                return Err(Error::Conflict(format!(
                    "conflict: unable to remove image {} (must be forced) - the image is being used by a container",
                    rec.config.short()
                )));
            }
            if in_use(&rec.config) {
                return Ok(events); // forced: untagged, content kept for the container
            }
            idx.images.remove(&m);
            events.push(RemoveEvent::Deleted(rec.config.clone()));
            Ok(events)
        })?;
        self.record_removals(image_id.as_ref(), &events);
        self.gc(&|_| false)?;
        Ok(events)
    }

    /// `docker image prune [-a]`: removes dangling images (all with `all`) except those
    /// whose config digest `keep` names (in use, or filtered out by the caller).
    pub fn prune_images(
        &self,
        all: bool,
        keep: &dyn Fn(&Digest) -> bool,
    ) -> Result<(Vec<RemoveEvent>, u64)> {
        let events = self.update_index(|idx| {
            let tagged: HashSet<Digest> = idx.tags.values().cloned().collect();
            let doomed: Vec<(Digest, Digest)> = idx
                .images
                .iter()
                .filter(|(m, r)| (all || !tagged.contains(*m)) && !keep(&r.config))
                .map(|(m, r)| (m.clone(), r.config.clone()))
                .collect();
            let mut events = Vec::new();
            for (m, config) in doomed {
                let tags: Vec<String> = idx
                    .tags
                    .iter()
                    .filter(|(_, d)| **d == m)
                    .map(|(t, _)| t.clone())
                    .collect();
                for t in tags {
                    idx.tags.remove(&t);
                    events.push(RemoveEvent::Untagged(familiar(&t)));
                }
                idx.images.remove(&m);
                events.push(RemoveEvent::Deleted(config));
            }
            Ok(events)
        })?;
        self.record_removals(None, &events);
        let reclaimed = self.gc(&|_| false)?;
        Ok((events, reclaimed))
    }

    /// The blobs, unpacked layers and diff ids that registered images refer to, and (with
    /// `with_build_cache`) the build cache's intermediate images too.
    pub(crate) fn reachable(&self, with_build_cache: bool) -> Result<Reachable> {
        let idx = self.read_index()?;
        let mut r = Reachable::default();
        let mut roots: Vec<(Digest, Option<Digest>)> = idx
            .images
            .iter()
            .map(|(m, rec)| (m.clone(), Some(rec.config.clone())))
            .collect();
        if with_build_cache {
            roots.extend(
                self.read_build_cache()
                    .entries
                    .into_values()
                    .map(|m| (m, None)),
            );
        }
        for (m, config) in &roots {
            let Some(config) = config.clone().or_else(|| {
                self.read_manifest(m)
                    .ok()
                    .and_then(|man| manifest_config_digest(&man).ok())
            }) else {
                continue;
            };
            r.blobs.insert(m.clone());
            r.blobs.insert(config.clone());
            if let Ok(man) = self.read_manifest(m) {
                for l in man.layers() {
                    if let Ok(d) = Digest::parse(l.digest().as_ref()) {
                        r.blobs.insert(d);
                    }
                }
            }
            if let Ok(cfg) = self.read_config(&config) {
                r.diff_ids.extend(cfg.rootfs.diff_ids.iter().cloned());
                r.layers.extend(chain_ids(&cfg.rootfs.diff_ids));
            }
        }
        Ok(r)
    }

    /// Deletes blobs, unpacked layers and compression-cache entries no image refers to.
    /// `keep_layer` protects layers that containers still use. Returns the bytes freed.
    pub fn gc(&self, keep_layer: &dyn Fn(&Digest) -> bool) -> Result<u64> {
        let _gc = self.gc_lock(true)?;
        let Reachable {
            mut blobs,
            layers,
            diff_ids,
        } = self.reachable(true)?;
        let mut freed = 0u64;
        for (path, diff, blob) in self.compressed_cache_entries() {
            if diff_ids.contains(&diff) {
                blobs.insert(blob);
            } else {
                let _ = fs::remove_file(path);
            }
        }
        for b in self.list_blobs()? {
            if !blobs.contains(&b) {
                freed += self.blob_size(&b).unwrap_or(0);
                self.remove_blob(&b)?;
            }
        }
        for l in self.list_layers()? {
            if !layers.contains(&l) && !keep_layer(&l) {
                freed += self.layer_info(&l).map(|i| i.size).unwrap_or(0);
                self.remove_layer(&l)?;
            }
        }
        let tmp = self.root().join("tmp");
        fs::create_dir_all(&tmp).ctx("create directory", &tmp)?;
        Ok(freed)
    }

    /// Unpacked size of an image (sum of its layers), as `docker images` shows it.
    pub fn image_size(&self, img: &Image) -> u64 {
        img.chain_ids()
            .iter()
            .map(|c| self.layer_info(c).map(|i| i.size).unwrap_or(0))
            .sum()
    }
}

/// What a set of images keeps alive in the store.
#[derive(Default)]
pub(crate) struct Reachable {
    pub blobs: HashSet<Digest>,
    pub layers: HashSet<Digest>,
    pub diff_ids: HashSet<Digest>,
}

/// `docker.io/library/busybox:latest` → `busybox:latest`
pub fn familiar(full_tag: &str) -> String {
    Reference::parse(full_tag)
        .map(|r| r.familiar_tagged())
        .unwrap_or_else(|_| full_tag.to_string())
}

#[cfg(test)]
mod time_tests {
    use super::go_rfc3339_nano;
    use chrono::TimeZone;

    #[test]
    fn times_like_go() {
        let t = chrono::Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(go_rfc3339_nano(t), "2024-01-02T03:04:05Z");
        let t = t + chrono::Duration::nanoseconds(120_000_000);
        assert_eq!(go_rfc3339_nano(t), "2024-01-02T03:04:05.12Z");
        let t = t + chrono::Duration::nanoseconds(7);
        assert_eq!(go_rfc3339_nano(t), "2024-01-02T03:04:05.120000007Z");
    }
}
