//! Build cache export and import (`build --cache-to`, `--cache-from`): the images steps made,
//! each under its cache key, as an OCI image index. The index lists every step's image
//! manifest with its key in the `dev.berth.build-cache.key` annotation; manifests, configs and
//! layers are ordinary OCI blobs. So the same cache is a directory (an OCI image layout,
//! `type=local`) or a tag in a registry (`type=registry`), and a registry, a copy tool or a
//! garbage collector sees nothing but images.
//!
//! An import is lazy: opening it reads the index only; a step's image (its manifest, config
//! and layers) is fetched when the build looks up that step's key and the local cache lacks
//! it. A CI job on a fresh machine so downloads what it reuses, up to the first changed step,
//! and nothing after it.
//!
//! Where the blobs come from and go to is behind [`CacheSource`] and [`CacheSink`]: the
//! directory form is here; the registry's is in the registry crate.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::layer::Compression;
use crate::store::{write_file_atomic, Store};

/// The annotation of an index entry that holds the step's cache key.
pub const KEY_ANNOTATION: &str = "dev.berth.build-cache.key";
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Where an exported cache goes.
pub trait CacheSink {
    /// Copies the stored blob `digest` (a config or a layer) unless the sink has it.
    fn put_blob(&self, store: &Store, digest: &Digest, size: u64) -> Result<()>;
    /// Stores an image manifest by its digest.
    fn put_manifest(&self, bytes: &[u8], digest: &Digest) -> Result<()>;
    /// Stores the index last, once everything it names is there.
    fn put_index(&self, bytes: &[u8]) -> Result<()>;
}

/// Where an imported cache comes from.
pub trait CacheSource: Send + Sync {
    /// What the source is, for messages (`type=local,src=DIR`).
    fn describe(&self) -> String;
    /// The index.
    fn index(&self) -> Result<Vec<u8>>;
    /// An image manifest by digest (checked by the caller).
    fn manifest(&self, digest: &Digest) -> Result<Vec<u8>>;
    /// Copies the blob `digest` into the store, verified by its digest.
    fn fetch_blob(&self, store: &Store, digest: &Digest, size: u64) -> Result<()>;
}

/// Exports the step images `entries` (cache key, manifest digest) to `sink`. Uncompressed
/// layers go out gzipped, so each exported step image has a manifest of its own (same config,
/// so the same image ID). Returns how many entries were exported.
pub fn export_cache(
    store: &Store,
    entries: &[(String, Digest)],
    sink: &dyn CacheSink,
) -> Result<usize> {
    let mut listed = Vec::new();
    let mut exported: HashMap<Digest, (Digest, usize)> = HashMap::new();
    for (key, manifest_digest) in entries {
        let (digest, size) = match exported.get(manifest_digest) {
            Some(x) => x.clone(),
            None => {
                let x = export_image(store, manifest_digest, sink)?;
                exported.insert(manifest_digest.clone(), x.clone());
                x
            }
        };
        listed.push(json!({
            "mediaType": MT_OCI_MANIFEST,
            "digest": digest.to_string(),
            "size": size,
            "annotations": {KEY_ANNOTATION: key},
        }));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MT_OCI_INDEX,
        "manifests": listed,
    });
    let bytes = serde_json::to_vec(&index).map_err(|e| Error::Json {
        what: "build cache index".into(),
        source: e,
    })?;
    sink.put_index(&bytes)?;
    Ok(entries.len())
}

/// One step image: its layers (gzipped when stored uncompressed) and config, then its
/// manifest. Returns the exported manifest's digest and size.
fn export_image(store: &Store, manifest: &Digest, sink: &dyn CacheSink) -> Result<(Digest, usize)> {
    let bytes = store.read_blob(manifest)?;
    let mut m: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        what: format!("manifest {manifest}"),
        source: e,
    })?;
    let config = descriptor_digest(&m["config"], "config")?;
    let config_size = store.blob_size(&config)?;
    let diff_ids = store.read_config(&config)?.rootfs.diff_ids;
    let layers = m["layers"]
        .as_array_mut()
        .ok_or_else(|| bad(manifest, "no layers"))?;
    for (i, layer) in layers.iter_mut().enumerate() {
        let d = descriptor_digest(layer, "layer")?;
        let uncompressed = layer["mediaType"]
            .as_str()
            .is_some_and(|t| t == Compression::None.oci_layer_media_type());
        let (d, size) = match diff_ids.get(i) {
            Some(diff) if uncompressed && *diff == d => {
                let (gz, size) = store.compressed_layer(diff, Compression::Gzip)?;
                layer["mediaType"] = json!(Compression::Gzip.oci_layer_media_type());
                layer["digest"] = json!(gz.to_string());
                layer["size"] = json!(size);
                (gz, size)
            }
            _ => {
                let size = store.blob_size(&d)?;
                (d, size)
            }
        };
        sink.put_blob(store, &d, size)?;
    }
    sink.put_blob(store, &config, config_size)?;
    let out = serde_json::to_vec(&m).map_err(|e| Error::Json {
        what: format!("manifest {manifest}"),
        source: e,
    })?;
    let digest = Digest::of(&out);
    sink.put_manifest(&out, &digest)?;
    Ok((digest, out.len()))
}

fn bad(what: impl std::fmt::Display, reason: &str) -> Error {
    Error::BadArchive {
        what: format!("build cache: {what}"),
        reason: reason.to_string(),
    }
}

fn descriptor_digest(v: &Value, what: &str) -> Result<Digest> {
    let s = v["digest"]
        .as_str()
        .ok_or_else(|| bad(what, "a descriptor without a digest"))?;
    Digest::parse(s)
}

/// An imported cache: the keys its index lists (or an image's inline cache holds), fetched
/// from its source when asked.
pub struct ImportedCache {
    source: Box<dyn CacheSource>,
    entries: HashMap<String, Entry>,
}

/// Where a key's step image is.
enum Entry {
    /// An image manifest of the cache's index.
    Manifest(Digest),
    /// A step of an image with an inline cache: its config as written, over the image's
    /// first layers.
    Inline { config: String, layers: Vec<Value> },
}

/// The image config field of an inline cache (`--cache-to type=inline`).
pub const INLINE_FIELD: &str = "berth.buildcache.v1";

/// The inline cache of an image whose steps `entries` are (cache key, step image manifest):
/// each step's config as written and how many of the image's layers it has. It goes into the
/// image's config under `INLINE_FIELD`, so pushing the image carries its cache.
pub fn inline_cache(store: &Store, entries: &[(String, Digest)]) -> Result<Value> {
    let mut out = Vec::new();
    for (key, manifest) in entries {
        let m = store.read_manifest(manifest)?;
        let config = Digest::parse(m.config().digest().as_ref())?;
        let bytes = store.read_blob(&config)?;
        let text =
            String::from_utf8(bytes).map_err(|_| bad(&config, "a config that is not UTF-8"))?;
        out.push(json!({"key": key, "layers": m.layers().len(), "config": text}));
    }
    Ok(Value::Array(out))
}

impl ImportedCache {
    /// Reads the source's index, or, when the source holds an image, its config's inline
    /// cache (nothing else yet).
    pub fn open(source: Box<dyn CacheSource>, store: &Store) -> Result<ImportedCache> {
        let bytes = source.index()?;
        let what = source.describe();
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            what: format!("build cache index of {what}"),
            source: e,
        })?;
        let mut entries = HashMap::new();
        if let Some(manifests) = v["manifests"].as_array() {
            for m in manifests {
                let Some(key) = m["annotations"][KEY_ANNOTATION].as_str() else {
                    continue;
                };
                let d = descriptor_digest(m, "index entry")?;
                entries.insert(key.to_string(), Entry::Manifest(d));
            }
            return Ok(ImportedCache { source, entries });
        }
        // An image: its inline cache, if it has one.
        let (Some(layers), Ok(config)) = (
            v["layers"].as_array(),
            descriptor_digest(&v["config"], "config"),
        ) else {
            return Err(bad(&what, "neither a build cache index nor an image"));
        };
        if !store.has_blob(&config) {
            let size = v["config"]["size"].as_u64().unwrap_or(0);
            source.fetch_blob(store, &config, size)?;
        }
        let image_config = store.read_config(&config)?;
        let records = image_config
            .extra
            .get(INLINE_FIELD)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(&what, "an image without an inline build cache"))?;
        for r in records {
            let (Some(key), Some(n), Some(config)) = (
                r["key"].as_str(),
                r["layers"].as_u64(),
                r["config"].as_str(),
            ) else {
                return Err(bad(
                    &what,
                    "an inline cache record without key, layers and config",
                ));
            };
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > layers.len() {
                return Err(bad(
                    &what,
                    "an inline cache record with more layers than the image",
                ));
            }
            entries.insert(
                key.to_string(),
                Entry::Inline {
                    config: config.to_string(),
                    layers: layers[..n].to_vec(),
                },
            );
        }
        Ok(ImportedCache { source, entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// The step image cached under `key`, fetched into the store (manifest, config, layers
    /// unpacked) when the source has it: its manifest digest, for `Store::unregistered_image`.
    pub fn fetch(&self, store: &Store, key: &str) -> Result<Option<Digest>> {
        match self.entries.get(key) {
            None => Ok(None),
            Some(Entry::Manifest(d)) => self.fetch_manifest(store, d).map(Some),
            Some(Entry::Inline { config, layers }) => {
                let config_digest = store.write_blob(config.as_bytes())?;
                let mut m = json!({
                    "schemaVersion": 2,
                    "mediaType": MT_OCI_MANIFEST,
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": config_digest.to_string(),
                        "size": config.len(),
                    },
                    "layers": layers,
                });
                self.bring_layers(store, &mut m, &config_digest)?;
                let bytes = serde_json::to_vec(&m).map_err(|e| Error::Json {
                    what: "inline cache manifest".into(),
                    source: e,
                })?;
                store.write_blob(&bytes).map(Some)
            }
        }
    }

    fn fetch_manifest(&self, store: &Store, manifest: &Digest) -> Result<Digest> {
        if !store.has_blob(manifest) {
            let bytes = self.source.manifest(manifest)?;
            let actual = Digest::of(&bytes);
            if actual != *manifest {
                return Err(Error::DigestMismatch {
                    what: format!("build cache manifest from {}", self.source.describe()),
                    expected: manifest.to_string(),
                    actual: actual.to_string(),
                });
            }
            store.write_blob(&bytes)?;
        }
        let mut m: Value =
            serde_json::from_slice(&store.read_blob(manifest)?).map_err(|e| Error::Json {
                what: format!("manifest {manifest}"),
                source: e,
            })?;
        let config = descriptor_digest(&m["config"], "config")?;
        if !store.has_blob(&config) {
            let size = m["config"]["size"].as_u64().unwrap_or(0);
            self.source.fetch_blob(store, &config, size)?;
        }
        if !self.bring_layers(store, &mut m, &config)? {
            return Ok(manifest.clone());
        }
        // The manifest as this store holds the image (same config, so the same image ID).
        let bytes = serde_json::to_vec(&m).map_err(|e| Error::Json {
            what: format!("manifest {manifest}"),
            source: e,
        })?;
        store.write_blob(&bytes)
    }

    /// Fetches and unpacks the layers of the manifest `m` (config `config`, stored) the store
    /// lacks. A layer the store has in another form (the base image, loaded or imported
    /// uncompressed where the cache has it gzipped) is not downloaded again: `m` is changed
    /// to name the local blob, and true is returned.
    fn bring_layers(&self, store: &Store, m: &mut Value, config: &Digest) -> Result<bool> {
        let diff_ids = store.read_config(config)?.rootfs.diff_ids;
        let layers = m["layers"]
            .as_array_mut()
            .ok_or_else(|| bad(config, "no layers"))?;
        if layers.len() != diff_ids.len() {
            return Err(bad(
                config,
                "its layers and its config's diff ids differ in number",
            ));
        }
        let chain = crate::layers::chain_ids(&diff_ids);
        let mut local_layers = false;
        for (i, layer) in layers.iter_mut().enumerate() {
            let d = descriptor_digest(layer, "layer")?;
            if store.has_blob(&d) && store.has_layer(&chain[i]) {
                continue;
            }
            if store.has_layer(&chain[i]) && store.has_blob(&diff_ids[i]) {
                layer["mediaType"] = json!(Compression::None.oci_layer_media_type());
                layer["digest"] = json!(diff_ids[i].to_string());
                layer["size"] = json!(store.blob_size(&diff_ids[i])?);
                local_layers = true;
                continue;
            }
            if !store.has_blob(&d) {
                let size = layer["size"].as_u64().unwrap_or(0);
                self.source.fetch_blob(store, &d, size)?;
            }
            let parent = if i == 0 { None } else { Some(&chain[i - 1]) };
            store.ensure_layer(parent, &d, &diff_ids[i])?;
        }
        Ok(local_layers)
    }
}

/// A cache as an OCI image layout directory (`type=local,dest=DIR` / `src=DIR`).
pub struct OciLayoutDir {
    dir: PathBuf,
}

impl OciLayoutDir {
    /// For export: the directory is made if missing.
    pub fn create(dir: &Path) -> Result<OciLayoutDir> {
        let blobs = dir.join("blobs/sha256");
        fs::create_dir_all(&blobs).ctx("create directory", &blobs)?;
        write_file_atomic(
            &dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Ok(OciLayoutDir {
            dir: dir.to_path_buf(),
        })
    }

    /// For import: the directory must hold a layout.
    pub fn open(dir: &Path) -> Result<OciLayoutDir> {
        if !dir.join("index.json").is_file() {
            return Err(bad(
                dir.display(),
                "not an OCI image layout with an index.json (was it written by --cache-to type=local?)",
            ));
        }
        Ok(OciLayoutDir {
            dir: dir.to_path_buf(),
        })
    }

    fn blob(&self, d: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(d.hex())
    }

    /// Writes `bytes` under the name of their digest, whole or not at all.
    fn write_blob(&self, d: &Digest, bytes: &[u8]) -> Result<()> {
        let path = self.blob(d);
        if path.is_file() {
            return Ok(());
        }
        write_file_atomic(&path, bytes)
    }
}

impl CacheSink for OciLayoutDir {
    fn put_blob(&self, store: &Store, digest: &Digest, _size: u64) -> Result<()> {
        let path = self.blob(digest);
        if path.is_file() {
            return Ok(());
        }
        // Copied under a temporary name, then renamed: a reader never sees half a blob.
        let tmp = self.dir.join(format!(
            "blobs/sha256/.{}.{}.tmp",
            digest.hex(),
            std::process::id()
        ));
        let from = store.blob_path(digest);
        fs::copy(&from, &tmp).ctx("copy", &from)?;
        fs::rename(&tmp, &path).ctx("rename", &path)
    }

    fn put_manifest(&self, bytes: &[u8], digest: &Digest) -> Result<()> {
        self.write_blob(digest, bytes)
    }

    fn put_index(&self, bytes: &[u8]) -> Result<()> {
        write_file_atomic(&self.dir.join("index.json"), bytes)
    }
}

impl CacheSource for OciLayoutDir {
    fn describe(&self) -> String {
        format!("type=local,src={}", self.dir.display())
    }

    fn index(&self) -> Result<Vec<u8>> {
        let p = self.dir.join("index.json");
        fs::read(&p).ctx("read", &p)
    }

    fn manifest(&self, digest: &Digest) -> Result<Vec<u8>> {
        let p = self.blob(digest);
        fs::read(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::MissingBlob(format!("{digest} in {}", self.describe()))
            }
            _ => Error::io("read", p, e),
        })
    }

    fn fetch_blob(&self, store: &Store, digest: &Digest, _size: u64) -> Result<()> {
        let p = self.blob(digest);
        let mut f = fs::File::open(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::MissingBlob(format!("{digest} in {}", self.describe()))
            }
            _ => Error::io("open", p.clone(), e),
        })?;
        let mut w = store.blob_writer()?;
        std::io::copy(&mut f, &mut w).ctx("copy", &p)?;
        w.flush().ctx("write", w.path().to_path_buf())?;
        w.commit(Some(digest))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ImageConfig;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn layer_tar(name: &str, bytes: usize) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        // Bytes that do not compress (an xorshift), so the layers stay larger than the JSON.
        let mut x: u32 = 0x9e37_79b9 ^ bytes as u32;
        let data: Vec<u8> = (0..bytes)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
        b.into_inner().unwrap()
    }

    /// An image of `layers` (ingested in order) in `store`: its manifest digest.
    fn image(store: &Store, layers: &[Vec<u8>]) -> Digest {
        let mut config = ImageConfig::default();
        let mut descs = Vec::new();
        let mut parent: Option<Digest> = None;
        for l in layers {
            let (info, size) = store
                .ingest_layer(parent.as_ref(), &l[..], "layer")
                .unwrap();
            config.rootfs.diff_ids.push(info.diff_id.clone());
            descs.push(oci_spec::image::Descriptor::new(
                oci_spec::image::MediaType::from(Compression::None.oci_layer_media_type()),
                size,
                info.diff_id
                    .to_string()
                    .parse::<oci_spec::image::Digest>()
                    .unwrap(),
            ));
            parent = Some(info.chain_id);
        }
        crate::import::write_image(store, &config, descs).unwrap()
    }

    /// Counts what an import asks of its source.
    struct Counting {
        inner: OciLayoutDir,
        manifests: Arc<AtomicUsize>,
        blobs: Arc<AtomicUsize>,
    }

    impl CacheSource for Counting {
        fn describe(&self) -> String {
            self.inner.describe()
        }
        fn index(&self) -> Result<Vec<u8>> {
            self.inner.index()
        }
        fn manifest(&self, d: &Digest) -> Result<Vec<u8>> {
            self.manifests.fetch_add(1, Ordering::SeqCst);
            self.inner.manifest(d)
        }
        fn fetch_blob(&self, store: &Store, d: &Digest, size: u64) -> Result<()> {
            self.blobs.fetch_add(1, Ordering::SeqCst);
            self.inner.fetch_blob(store, d, size)
        }
    }

    /// An import reads the index, then only what a looked-up key needs, and what it brings in
    /// is a usable step image; a blob changed in the cache is refused.
    #[test]
    fn imports_fetch_only_the_steps_asked_for_and_verify_them() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(dir.path().join("a")).unwrap();
        let (l1, l2) = (layer_tar("one", 100_000), layer_tar("two", 50_000));
        let first = image(&a, std::slice::from_ref(&l1));
        let second = image(&a, &[l1.clone(), l2.clone()]);
        let cache = dir.path().join("cache");
        let entries = [("k1".to_string(), first), ("k2".to_string(), second)];
        let n = export_cache(&a, &entries, &OciLayoutDir::create(&cache).unwrap()).unwrap();
        assert_eq!(n, 2);

        let b = Store::open(dir.path().join("b")).unwrap();
        let (manifests, blobs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counting = Box::new(Counting {
            inner: OciLayoutDir::open(&cache).unwrap(),
            manifests: manifests.clone(),
            blobs: blobs.clone(),
        });
        let seen = |_: &ImportedCache| {
            (
                manifests.load(Ordering::SeqCst),
                blobs.load(Ordering::SeqCst),
            )
        };
        let imported = ImportedCache::open(counting, &b).unwrap();
        assert_eq!(
            (imported.len(), seen(&imported)),
            (2, (0, 0)),
            "the index only"
        );
        assert_eq!(imported.fetch(&b, "other").unwrap(), None);
        assert_eq!(seen(&imported), (0, 0));
        let d = imported.fetch(&b, "k1").unwrap().unwrap();
        assert_eq!(
            seen(&imported),
            (1, 2),
            "a manifest, its config and one layer"
        );
        let img = b.unregistered_image(&d).unwrap();
        assert_eq!(img.config.rootfs.diff_ids.len(), 1);
        imported.fetch(&b, "k2").unwrap().unwrap();
        assert_eq!(
            seen(&imported),
            (2, 4),
            "the layer it had is not fetched again"
        );

        // A blob that changed in the cache does not get into a store.
        let c = Store::open(dir.path().join("c")).unwrap();
        for e in fs::read_dir(cache.join("blobs/sha256")).unwrap() {
            let p = e.unwrap().path();
            let mut bytes = fs::read(&p).unwrap();
            if bytes.len() > 1000 {
                let last = bytes.len() - 1;
                bytes[last] ^= 0xff;
                fs::write(&p, bytes).unwrap();
            }
        }
        let imported =
            ImportedCache::open(Box::new(OciLayoutDir::open(&cache).unwrap()), &c).unwrap();
        let e = imported.fetch(&c, "k1").unwrap_err();
        assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    }
}
