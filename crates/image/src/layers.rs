//! Unpacked layers, shared by every image (and later every container) that has them.
//!
//! `layers/<chain-id hex>/diff/` holds one layer's own changes in overlayfs form (whiteouts as
//! 0:0 devices, opaque dirs by xattr), ready to be an overlay lower dir; `layer.json` beside it
//! records diff id, parent and size. A layer dir appears by one rename, only when complete.

use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;

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
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
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
        let chain_id = match parent {
            None => diff_id.clone(),
            Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
        };
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
        let chain_id = match parent {
            None => diff_id.clone(),
            Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
        };
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
                    Error::BadTar { source, .. } => Error::BadTar {
                        what: what.to_string(),
                        source,
                    },
                    other => other,
                })
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
