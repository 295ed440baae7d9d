//! `docker import`: a rootfs tarball becomes a one-layer image; and writing a new image's
//! config and manifest (shared with load, and later with commit and the builder).

use std::io::Read;

use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};

use crate::changes::apply_change;
use crate::config::{
    host_architecture, ContainerConfig, History, ImageConfig, RootFs, OCI_CONFIG_MEDIA_TYPE,
};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::images::{now_rfc3339, Image};
use crate::layer::Compression;
use crate::reference::Reference;
use crate::store::Store;

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// `-c` lines (Dockerfile instructions that change the config).
    pub changes: Vec<String>,
    /// `-m` commit message, shown by `history`.
    pub message: Option<String>,
    /// What the tarball was, for the history comment (`-` for stdin, or the file name).
    pub source: String,
    pub tag: Option<Reference>,
}

/// Imports a rootfs tarball (uncompressed, gzip or zstd) as a new one-layer image.
pub fn import<R: Read>(store: &Store, input: R, opts: &ImportOptions) -> Result<Image> {
    let img = import_layer(store, input, opts)?;
    let id = img.id().to_string();
    let name = opts.tag.as_ref().map(|t| t.familiar_tagged());
    store.image_event("import", &id, name.as_deref().unwrap_or(&id));
    Ok(img)
}

fn import_layer<R: Read>(store: &Store, input: R, opts: &ImportOptions) -> Result<Image> {
    // Changes are checked before any content is read, so a bad -c costs nothing.
    let mut cc = ContainerConfig::default();
    for ch in &opts.changes {
        apply_change(&mut cc, ch)?;
    }
    let _gc = store.gc_lock(false)?;
    let (layer, blob_len) =
        store.ingest_layer(None, input, &format!("import of {}", opts.source))?;
    let created = now_rfc3339();
    let config = ImageConfig {
        created: Some(created.clone()),
        architecture: host_architecture().to_string(),
        os: "linux".into(),
        config: if opts.changes.is_empty() {
            None
        } else {
            Some(cc)
        },
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![layer.diff_id.clone()],
        },
        history: vec![History {
            created: Some(created),
            comment: Some(
                opts.message
                    .clone()
                    .unwrap_or_else(|| format!("Imported from {}", opts.source)),
            ),
            ..History::default()
        }],
        ..ImageConfig::default()
    };
    let layer_desc = Descriptor::new(
        MediaType::from(Compression::None.oci_layer_media_type()),
        blob_len,
        &layer.diff_id,
    );
    let manifest = write_image(store, &config, vec![layer_desc])?;
    let tags: Vec<Reference> = opts.tag.iter().cloned().collect();
    store.add_image(&manifest, &tags, None)
}

/// Stores `config` and an OCI manifest over `layers` (whose blobs must be stored); returns the
/// manifest digest.
pub fn write_image(store: &Store, config: &ImageConfig, layers: Vec<Descriptor>) -> Result<Digest> {
    let config_bytes = serde_json::to_vec(config).map_err(|e| Error::Json {
        what: "image config".into(),
        source: e,
    })?;
    let config_digest = store.write_blob(&config_bytes)?;
    write_manifest(store, &config_digest, config_bytes.len() as u64, layers)
}

/// Stores an OCI manifest for an already stored config blob (kept byte for byte, so the image
/// ID does not change) and layers; returns the manifest digest.
pub fn write_manifest(
    store: &Store,
    config: &Digest,
    config_size: u64,
    layers: Vec<Descriptor>,
) -> Result<Digest> {
    let manifest: ImageManifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(Descriptor::new(
            MediaType::from(OCI_CONFIG_MEDIA_TYPE),
            config_size,
            config,
        ))
        .layers(layers)
        .build()
        .map_err(|e| Error::BadArchive {
            what: "manifest".into(),
            reason: e.to_string(),
        })?;
    let bytes = serde_json::to_vec(&manifest).map_err(|e| Error::Json {
        what: "manifest".into(),
        source: e,
    })?;
    store.write_blob(&bytes)
}
