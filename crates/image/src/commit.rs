//! A new image from a base image plus one layer made from a directory of changes (an overlay
//! upper dir): `docker commit`, and each filesystem step of the builder.

use std::io::Write;
use std::path::Path;

use oci_spec::image::{Descriptor, MediaType};

use crate::changes::apply_change;
use crate::config::{ContainerConfig, History};
use crate::digest::Digest;
use crate::error::{IoContext, Result};
use crate::images::{now_rfc3339, Image};
use crate::import::write_image;
use crate::layer::{write_layer_tar_excluding, Compression, DiffSource};
use crate::reference::Reference;
use crate::store::Store;

#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// The new image's execution config (a container's, for `docker commit`).
    pub config: ContainerConfig,
    /// `-c` lines applied on top of `config`.
    pub changes: Vec<String>,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// History "created by" text.
    pub created_by: String,
    pub tag: Option<Reference>,
    /// Paths (relative to the upper dir) to leave out: mount points the runtime created.
    pub exclude: Vec<std::path::PathBuf>,
}

/// Stores the changes in the overlay upper dir `upper` (less `exclude`) as an uncompressed
/// layer blob and unpacks it on top of the layer chain `parent`; returns its diff id and size.
/// The caller holds the store's GC lock (shared) until the layer is referenced.
pub fn layer_from_upper(
    store: &Store,
    parent: Option<&Digest>,
    upper: &Path,
    exclude: &[std::path::PathBuf],
) -> Result<(Digest, u64)> {
    let (diff_id, size) = store_upper_tar(store, upper, exclude)?;
    store.ensure_layer(parent, &diff_id, &diff_id)?;
    Ok((diff_id, size))
}

/// Like [`layer_from_upper`] for an upper dir that is finished with (its container or scratch
/// mount is gone): the dir itself becomes the unpacked layer instead of a second copy made
/// from the tar (the builder's steps: about half the file creations).
pub fn layer_from_finished_upper(
    store: &Store,
    parent: Option<&Digest>,
    upper: &Path,
    exclude: &[std::path::PathBuf],
) -> Result<(Digest, u64)> {
    let (diff_id, size) = store_upper_tar(store, upper, exclude)?;
    store.adopt_upper_as_layer(parent, &diff_id, upper, exclude)?;
    Ok((diff_id, size))
}

/// The layer tar of an upper dir (less `exclude`) as a blob: its diff id and size.
fn store_upper_tar(
    store: &Store,
    upper: &Path,
    exclude: &[std::path::PathBuf],
) -> Result<(Digest, u64)> {
    let mut w = store.blob_writer()?;
    let w_path = w.path().to_path_buf();
    w = write_layer_tar_excluding(upper, DiffSource::OverlayUpper, w, exclude)?;
    w.flush().ctx("write", w_path)?;
    w.commit(None)
}

/// Stores the changes in `upper` as a new layer on top of `base` and registers the image.
pub fn commit(store: &Store, base: &Image, upper: &Path, opts: &CommitOptions) -> Result<Image> {
    let mut cfg = opts.config.clone();
    for c in &opts.changes {
        apply_change(&mut cfg, c)?;
    }
    let _gc = store.gc_lock(false)?;
    let parent = base.chain_ids().last().cloned();
    let (diff_id, size) = layer_from_upper(store, parent.as_ref(), upper, &opts.exclude)?;
    let created = now_rfc3339();
    let mut config = base.config.clone();
    config.created = Some(created.clone());
    if opts.author.is_some() {
        config.author = opts.author.clone();
    }
    config.config = Some(cfg);
    config.rootfs.diff_ids.push(diff_id.clone());
    config.history.push(History {
        created: Some(created),
        created_by: Some(opts.created_by.clone()),
        author: opts.author.clone(),
        comment: opts.comment.clone(),
        empty_layer: false,
    });
    let mut layers: Vec<Descriptor> = base.layer_descriptors().to_vec();
    layers.push(Descriptor::new(
        MediaType::from(Compression::None.oci_layer_media_type()),
        size,
        &diff_id,
    ));
    let manifest: Digest = write_image(store, &config, layers)?;
    let tags: Vec<Reference> = opts.tag.iter().cloned().collect();
    let img = store.add_image(&manifest, &tags, None)?;
    store.set_parent(&manifest, &base.id().to_string())?;
    store.lookup(&img.id().to_string())
}
