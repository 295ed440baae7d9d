//! Unpacked layers, shared by every image (and later every container) that has them.
//!
//! `layers/<chain-id hex>/diff/` holds one layer's own changes in overlayfs form (whiteouts as
//! 0:0 devices, opaque dirs by xattr), ready to be an overlay lower dir; `layer.json` beside it
//! records diff id, parent and size. A layer dir appears by one rename, only when complete.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, HashingReader};
use crate::error::{Error, IoContext, Result};
use crate::layer::{apply_layer, compress, decompressed, Compression, WhiteoutMode};
use crate::store::{remove_tree, sync_dir, write_file_atomic, BlobWriter, Store};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    /// Bytes of file content in the layer (what `docker images` counts).
    pub size: u64,
}

/// Chain ids as OCI defines them: chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n)).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = chain_id(out.last(), d);
        out.push(next);
    }
    out
}

/// The chain id of the layer `diff_id` on top of the chain `parent`.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
    }
}

/// Cache entry name for a compressed form of an uncompressed layer blob.
fn compressed_cache_path(store: &Store, diff_id: &Digest, c: Compression) -> PathBuf {
    store
        .root()
        .join("compressed")
        .join(format!("{}.{}", diff_id.hex(), c.name()))
}

impl Store {
    /// Directory to use as an overlay lower dir for this layer.
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.root().join("layers").join(chain_id.hex()).join("diff")
    }

    pub fn has_layer(&self, chain_id: &Digest) -> bool {
        self.root()
            .join("layers")
            .join(chain_id.hex())
            .join("layer.json")
            .is_file()
    }

    pub fn layer_info(&self, chain_id: &Digest) -> Result<LayerInfo> {
        let p = self
            .root()
            .join("layers")
            .join(chain_id.hex())
            .join("layer.json");
        let bytes = fs::read(&p).ctx("read", &p)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            what: p.display().to_string(),
            source: e,
        })
    }

    pub fn list_layers(&self) -> Result<Vec<Digest>> {
        let dir = self.root().join("layers");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).ctx("read directory", &dir)? {
            let e = e.ctx("read directory", &dir)?;
            if let Some(d) = e
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub(crate) fn remove_layer(&self, chain_id: &Digest) -> Result<()> {
        // Rename first so a half-removed layer is never seen under its name.
        let dir = self.root().join("layers").join(chain_id.hex());
        let doomed = self.tmp_path("rm-layer");
        match fs::rename(&dir, &doomed) {
            Ok(()) => remove_tree(&doomed).ctx("remove", &doomed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove layer", dir, e)),
        }
    }

    /// Unpacks the stored blob `blob` (any supported compression) as the layer on top of
    /// `parent`, checking that its uncompressed content has digest `diff_id`. Does nothing if
    /// the layer is already unpacked.
    pub fn ensure_layer(
        &self,
        parent: Option<&Digest>,
        blob: &Digest,
        diff_id: &Digest,
    ) -> Result<LayerInfo> {
        let chain_id = chain_id(parent, diff_id);
        if self.has_layer(&chain_id) {
            return self.layer_info(&chain_id);
        }
        let what = format!("layer {blob}");
        let (reader, _) =
            crate::layer::compress::decompressed_in_background(self.open_blob(blob)?, &what)?;
        let mut hashing = HashingReader::new(reader);
        let (tmp, size) = self.unpack_to_tmp(&mut hashing, &what)?;
        let (actual, _) = hashing
            .finish()
            .map_err(|e| Error::stream(format!("read {what}"), e))?;
        if actual != *diff_id {
            let _ = remove_tree(&tmp);
            return Err(Error::DigestMismatch {
                what: format!("{what} (uncompressed content)"),
                expected: diff_id.to_string(),
                actual: actual.to_string(),
            });
        }
        self.publish_layer(
            tmp,
            LayerInfo {
                chain_id,
                diff_id: diff_id.clone(),
                parent: parent.cloned(),
                size,
            },
        )
    }

    /// Ingests a layer tar stream (any supported compression) that has no blob yet: keeps the
    /// uncompressed tar as a blob (its digest is the diff id) and unpacks it, in one pass.
    pub fn ingest_layer<R: Read>(
        &self,
        parent: Option<&Digest>,
        input: R,
        what: &str,
    ) -> Result<(LayerInfo, u64)> {
        let (reader, _) = decompressed(input, what)?;
        let mut blob = self.blob_writer()?;
        let mut tee = crate::digest::TeeReader::new(reader, &mut blob);
        let (tmp, size) = self.unpack_to_tmp(&mut tee, what)?;
        let (mut rest, _) = tee.into_parts();
        let drained = io::copy(&mut rest, &mut blob);
        if let Err(e) = drained {
            let _ = remove_tree(&tmp);
            return Err(Error::stream(format!("read {what}"), e));
        }
        let blob_len = blob.len();
        let (diff_id, _) = match blob.commit(None) {
            Ok(x) => x,
            Err(e) => {
                let _ = remove_tree(&tmp);
                return Err(e);
            }
        };
        let chain_id = chain_id(parent, &diff_id);
        if self.has_layer(&chain_id) {
            let _ = remove_tree(&tmp);
            return Ok((self.layer_info(&chain_id)?, blob_len));
        }
        let info = self.publish_layer(
            tmp,
            LayerInfo {
                chain_id,
                diff_id,
                parent: parent.cloned(),
                size,
            },
        )?;
        Ok((info, blob_len))
    }

    /// Applies the tar from `reader` into a fresh scratch dir; returns it and the content size.
    /// On error nothing is left behind.
    fn unpack_to_tmp<R: Read>(&self, reader: &mut R, what: &str) -> Result<(PathBuf, u64)> {
        let tmp = self.tmp_path("layer");
        let diff = tmp.join("diff");
        fs::create_dir_all(&diff).ctx("create directory", &diff)?;
        match apply_layer(&mut *reader, &diff, WhiteoutMode::Overlay) {
            Ok(stats) => Ok((tmp, stats.bytes)),
            Err(e) => {
                let _ = remove_tree(&tmp);
                Err(match e {
                    Error::BadTar { cause, .. } => Error::BadTar {
                        what: what.to_string(),
                        cause,
                    },
                    other => other,
                })
            }
        }
    }

    /// Publishes a finished overlay upper dir (no mount uses it any more; on the store's
    /// filesystem) as the layer `diff_id` on top of `parent`, by moving it rather than unpacking
    /// the tar that was just made from it: the tar and this dir hold the same tree, minus
    /// `exclude` (removed here) and overlayfs's own bookkeeping attributes (dropped here, as the
    /// tar drops them). Falls back to unpacking the stored blob when the tree cannot be moved
    /// or holds what only an overlay mount can read (metacopy or redirect entries).
    pub fn adopt_upper_as_layer(
        &self,
        parent: Option<&Digest>,
        diff_id: &Digest,
        upper: &Path,
        exclude: &[PathBuf],
    ) -> Result<LayerInfo> {
        let chain_id = chain_id(parent, diff_id);
        if self.has_layer(&chain_id) {
            return self.layer_info(&chain_id);
        }
        let tmp = self.tmp_path("layer");
        let diff = tmp.join("diff");
        let moved = fs::create_dir_all(&tmp).is_ok() && fs::rename(upper, &diff).is_ok();
        let size = if moved {
            for e in exclude {
                let p = diff.join(e);
                let _ = if p.is_dir() && !p.is_symlink() {
                    remove_tree(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
            clean_overlay_attrs(&diff)
        } else {
            None
        };
        match size {
            Some(size) => self.publish_layer(
                tmp,
                LayerInfo {
                    chain_id,
                    diff_id: diff_id.clone(),
                    parent: parent.cloned(),
                    size,
                },
            ),
            None => {
                let _ = remove_tree(&tmp);
                self.ensure_layer(parent, diff_id, diff_id)
            }
        }
    }

    fn publish_layer(&self, tmp: PathBuf, info: LayerInfo) -> Result<LayerInfo> {
        let meta = serde_json::to_vec(&info).map_err(|e| Error::Json {
            what: "layer.json".into(),
            source: e,
        })?;
        write_file_atomic(&tmp.join("layer.json"), &meta)?;
        let dest = self.root().join("layers").join(info.chain_id.hex());
        match fs::rename(&tmp, &dest) {
            Ok(()) => sync_dir(&self.root().join("layers"))?,
            // Another process unpacked the same layer first: use theirs.
            Err(e) if dest.join("layer.json").is_file() => {
                let _ = e;
                let _ = remove_tree(&tmp);
            }
            Err(e) => {
                let _ = remove_tree(&tmp);
                return Err(Error::io("rename layer into place", dest, e));
            }
        }
        Ok(info)
    }

    /// The blob of the uncompressed layer `diff_id` compressed with `c`, compressing it only
    /// the first time (the result is remembered for later pushes).
    pub fn compressed_layer(&self, diff_id: &Digest, c: Compression) -> Result<(Digest, u64)> {
        if c == Compression::None {
            return Ok((diff_id.clone(), self.blob_size(diff_id)?));
        }
        let cache = compressed_cache_path(self, diff_id, c);
        if let Ok(s) = fs::read_to_string(&cache) {
            if let Ok(d) = Digest::parse(s.trim()) {
                if let Ok(size) = self.blob_size(&d) {
                    return Ok((d, size));
                }
            }
        }
        let _gc = self.gc_lock(false)?;
        let input = io::BufReader::with_capacity(1 << 20, self.open_blob(diff_id)?);
        let out: BlobWriter = compress(input, self.blob_writer()?, c)?;
        let (d, size) = out.commit(None)?;
        let dir = self.root().join("compressed");
        fs::create_dir_all(&dir).ctx("create directory", &dir)?;
        write_file_atomic(&cache, d.to_string().as_bytes())?;
        Ok((d, size))
    }

    /// Remembered compressed forms: (uncompressed diff id, compressed blob).
    pub(crate) fn compressed_cache_entries(&self) -> Vec<(PathBuf, Digest, Digest)> {
        let dir = self.root().join("compressed");
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(&dir) else {
            return out;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.split('.').next()) else {
                continue;
            };
            let (Ok(diff), Ok(s)) = (Digest::from_hex(hex), fs::read_to_string(e.path())) else {
                continue;
            };
            if let Ok(blob) = Digest::parse(s.trim()) {
                out.push((e.path(), diff, blob));
            }
        }
        out
    }
}

/// Drops overlayfs's bookkeeping attributes (`trusted.overlay.origin`, `impure`, …) but the
/// opaque marker from a tree, and sums its regular files' sizes; `None` when an entry is a
/// metacopy or redirect (its content lives elsewhere) or the tree cannot be read.
fn clean_overlay_attrs(dir: &Path) -> Option<u64> {
    let mut size = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            let m = fs::symlink_metadata(&p).ok()?;
            if !m.file_type().is_symlink() {
                for name in xattr::list(&p).ok()? {
                    let Some(n) = name.to_str() else { continue };
                    match n {
                        "trusted.overlay.opaque" => {}
                        "trusted.overlay.metacopy" | "trusted.overlay.redirect" => return None,
                        n if n.starts_with("trusted.overlay.") => {
                            xattr::remove(&p, n).ok()?;
                        }
                        _ => {}
                    }
                }
            }
            if m.is_dir() {
                todo.push(p);
            } else if m.is_file() {
                size += m.len();
            }
        }
    }
    Some(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_layer() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "file", &data[..]).unwrap();
        b.into_inner().unwrap()
    }

    /// An overlay upper dir as a finished container leaves it.
    fn upper_dir(root: &Path) -> PathBuf {
        use std::os::unix::fs::symlink;
        let up = root.join("upper");
        fs::create_dir_all(up.join("etc/opaque")).unwrap();
        fs::write(up.join("etc/conf"), "12345").unwrap();
        fs::write(up.join("etc/hostname"), "mount point").unwrap();
        symlink("conf", up.join("etc/link")).unwrap();
        xattr::set(up.join("etc/opaque"), "trusted.overlay.opaque", b"y").unwrap();
        xattr::set(up.join("etc/conf"), "trusted.overlay.origin", b"\x00handle").unwrap();
        xattr::set(up.join("etc"), "trusted.overlay.impure", b"y").unwrap();
        let gone = std::ffi::CString::new(up.join("etc/gone").to_str().unwrap()).unwrap();
        // SAFETY: a valid path; a 0:0 character device is overlayfs's whiteout.
        assert_eq!(
            unsafe { libc::mknod(gone.as_ptr(), libc::S_IFCHR | 0o600, 0) },
            0
        );
        up
    }

    #[test]
    fn root_a_finished_upper_dir_becomes_the_layer_the_tar_describes() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("store")).unwrap();
        let up = upper_dir(dir.path());
        let exclude = vec![PathBuf::from("etc/hostname")];
        let (diff, _) = crate::commit::layer_from_finished_upper(&s, None, &up, &exclude).unwrap();
        assert!(!up.exists(), "the upper dir was moved, not copied");
        let moved = s.layer_dir(&diff);
        // The same tree unpacked from the blob, for comparison.
        let other = tempfile::tempdir().unwrap();
        let s2 = Store::open(other.path()).unwrap();
        let (info, _) = s2
            .ingest_layer(None, s.open_blob(&diff).unwrap(), "blob")
            .unwrap();
        assert_eq!(info.diff_id, diff);
        let unpacked = s2.layer_dir(&diff);
        for rel in ["etc/conf", "etc/link", "etc/gone", "etc/opaque"] {
            let (a, b) = (
                fs::symlink_metadata(moved.join(rel)).unwrap(),
                fs::symlink_metadata(unpacked.join(rel)).unwrap(),
            );
            assert_eq!(a.file_type(), b.file_type(), "{rel}");
            assert_eq!(a.len(), b.len(), "{rel}");
        }
        assert!(
            !moved.join("etc/hostname").exists(),
            "excluded paths are removed"
        );
        let attrs = |p: &Path| -> Vec<String> {
            xattr::list(p)
                .unwrap()
                .map(|n| n.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            attrs(&moved.join("etc/opaque")),
            vec!["trusted.overlay.opaque"]
        );
        assert!(
            attrs(&moved.join("etc/conf")).is_empty(),
            "overlayfs bookkeeping dropped"
        );
        assert!(attrs(&moved.join("etc")).is_empty());
        assert_eq!(s.layer_info(&diff).unwrap().size, 5);
    }

    #[test]
    fn root_an_upper_dir_with_a_metacopy_entry_is_unpacked_from_the_blob_instead() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("store")).unwrap();
        let up = upper_dir(dir.path());
        xattr::set(up.join("etc/conf"), "trusted.overlay.metacopy", b"").unwrap();
        let (diff, _) = crate::commit::layer_from_finished_upper(&s, None, &up, &[]).unwrap();
        let layer = s.layer_dir(&diff);
        assert_eq!(fs::read_to_string(layer.join("etc/conf")).unwrap(), "12345");
        assert!(
            xattr::get(layer.join("etc/conf"), "trusted.overlay.metacopy")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn chain_ids_follow_oci() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        assert_eq!(c[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn compression_is_done_once_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let (info, _) = s
            .ingest_layer(None, &small_layer()[..], "test layer")
            .unwrap();
        let (gz, size) = s
            .compressed_layer(&info.diff_id, Compression::Gzip)
            .unwrap();
        assert!(size < 100_000);
        // The compressed blob decompresses to the diff id.
        let (r, c) = decompressed(s.open_blob(&gz).unwrap(), "gz").unwrap();
        assert_eq!(c, Compression::Gzip);
        assert_eq!(HashingReader::new(r).finish().unwrap().0, info.diff_id);
        // Second call: served from the cache (the blob file is not rewritten).
        let before = fs::metadata(s.blob_path(&gz)).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            s.compressed_layer(&info.diff_id, Compression::Gzip)
                .unwrap()
                .0,
            gz
        );
        assert_eq!(
            fs::metadata(s.blob_path(&gz)).unwrap().modified().unwrap(),
            before
        );
        let (zst, _) = s
            .compressed_layer(&info.diff_id, Compression::Zstd)
            .unwrap();
        assert_ne!(zst, gz);
        // Nothing references the layer: gc removes it, its blobs and the cache entries.
        s.gc(&|_| false).unwrap();
        assert!(!s.has_blob(&gz) && !s.has_blob(&zst) && !s.has_blob(&info.diff_id));
        assert!(!s.has_layer(&info.chain_id));
        assert!(s.compressed_cache_entries().is_empty());
    }

    #[test]
    fn ensure_layer_rejects_content_that_does_not_match_its_diff_id() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let blob = s.write_blob(&small_layer()).unwrap();
        let wrong = Digest::of(b"something else");
        let err = s.ensure_layer(None, &blob, &wrong).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(!s.has_layer(&wrong));
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        let ok = s.ensure_layer(None, &blob, &blob).unwrap();
        assert!(s.layer_dir(&ok.chain_id).join("file").is_file());
    }
}
