//! Creating a layer tar from a directory, deterministically: entries sorted by name, only
//! content-bearing metadata (mode, owner, mtime, xattrs) recorded, no user/group names, so the
//! same tree always gives the same bytes and so the same digest.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::apply::{OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX};
use crate::error::{Error, IoContext, Result};

/// What the directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffSource {
    /// A complete tree (a rootfs): every file goes in as it is.
    Full,
    /// An overlayfs upper dir: 0:0 character devices become `.wh.` whiteouts and opaque
    /// directories get a `.wh..wh..opq` marker.
    OverlayUpper,
}

/// Writes the layer tar of `dir` to `out`.
pub fn write_layer_tar<W: Write>(dir: &Path, source: DiffSource, out: W) -> Result<W> {
    write_layer_tar_excluding(dir, source, out, &[])
}

/// Like [`write_layer_tar`], for a tree whose owners are shifted by `ids`: the tar gets them
/// shifted back (`docker export` of a user-namespace-remapped container).
pub fn write_layer_tar_with_ids<W: Write>(
    dir: &Path,
    source: DiffSource,
    out: W,
    ids: Option<super::IdShift>,
) -> Result<W> {
    let mut w = TarWriter {
        builder: tar::Builder::new(out),
        source,
        links: HashMap::new(),
        exclude: &[],
        ids,
    };
    w.builder.follow_symlinks(false);
    w.walk(dir, Path::new(""))?;
    w.builder
        .into_inner()
        .map_err(|e| Error::stream("finish layer tar", e))
}

/// Like [`write_layer_tar`], leaving out the given paths (relative to `dir`), such as the mount
/// points a container runtime created in an upper dir.
pub fn write_layer_tar_excluding<W: Write>(
    dir: &Path,
    source: DiffSource,
    out: W,
    exclude: &[PathBuf],
) -> Result<W> {
    let mut w = TarWriter {
        builder: tar::Builder::new(out),
        source,
        links: HashMap::new(),
        exclude,
        ids: None,
    };
    w.builder.follow_symlinks(false);
    w.walk(dir, Path::new(""))?;
    w.builder
        .into_inner()
        .map_err(|e| Error::stream("finish layer tar", e))
}

/// Writes a tar of `path` (a file, symlink or directory tree) whose top entry is `name`, as
/// `docker cp CONTAINER:PATH -` does.
pub fn write_path_tar<W: Write>(path: &Path, name: &Path, out: W) -> Result<W> {
    write_path_tar_with_ids(path, name, out, None)
}

/// Like [`write_path_tar`], with owners on disk shifted by `ids` (shifted back in the tar).
pub fn write_path_tar_with_ids<W: Write>(
    path: &Path,
    name: &Path,
    out: W,
    ids: Option<super::IdShift>,
) -> Result<W> {
    let mut w = TarWriter {
        builder: tar::Builder::new(out),
        source: DiffSource::Full,
        links: HashMap::new(),
        exclude: &[],
        ids,
    };
    w.builder.follow_symlinks(false);
    let meta = fs::symlink_metadata(path).ctx("stat", path)?;
    w.append(path, name, &meta)?;
    if meta.is_dir() {
        w.walk(path, name)?;
    }
    w.builder
        .into_inner()
        .map_err(|e| Error::stream("finish tar", e))
}

struct TarWriter<'e, W: Write> {
    builder: tar::Builder<W>,
    exclude: &'e [PathBuf],
    source: DiffSource,
    /// (dev, inode) of multiply-linked files already written, and where.
    links: HashMap<(u64, u64), PathBuf>,
    /// Owners on disk shifted from the tar's (a remapped container's files).
    ids: Option<super::IdShift>,
}

impl<W: Write> TarWriter<'_, W> {
    fn walk(&mut self, dir: &Path, rel: &Path) -> Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .ctx("read directory", dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .ctx("read directory", dir)?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            if self.exclude.contains(&rel) {
                continue;
            }
            let meta = fs::symlink_metadata(&path).ctx("stat", &path)?;
            let ft = meta.file_type();
            if self.source == DiffSource::OverlayUpper && ft.is_char_device() && meta.rdev() == 0 {
                let mut wh_name = WHITEOUT_PREFIX.as_bytes().to_vec();
                wh_name.extend_from_slice(name.as_bytes());
                let wh = rel.with_file_name(std::ffi::OsStr::from_bytes(&wh_name));
                self.append_marker(&wh, &meta)?;
                continue;
            }
            self.append(&path, &rel, &meta)?;
            if ft.is_dir() {
                if self.source == DiffSource::OverlayUpper
                    && xattr::get(&path, OVERLAY_OPAQUE_XATTR)
                        .ok()
                        .flatten()
                        .as_deref()
                        == Some(b"y")
                {
                    self.append_marker(&rel.join(OPAQUE_MARKER), &meta)?;
                }
                self.walk(&path, &rel)?;
            }
        }
        Ok(())
    }

    fn header(&self, meta: &fs::Metadata, kind: EntryType) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(meta.mode() & 0o7777);
        let (uid, gid) = match &self.ids {
            Some(ids) => ids.to_tar(meta.uid(), meta.gid()),
            None => (meta.uid(), meta.gid()),
        };
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mtime(meta.mtime().max(0) as u64);
        h.set_size(0);
        h
    }

    /// An empty regular file standing for a whiteout or opaque marker.
    fn append_marker(&mut self, rel: &Path, meta: &fs::Metadata) -> Result<()> {
        let mut h = self.header(meta, EntryType::Regular);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        self.builder
            .append_data(&mut h, rel, io::empty())
            .map_err(|e| Error::stream(format!("write layer tar entry {}", rel.display()), e))
    }

    fn append(&mut self, path: &Path, rel: &Path, meta: &fs::Metadata) -> Result<()> {
        let ft = meta.file_type();
        let werr =
            |e: io::Error| Error::stream(format!("write layer tar entry {}", rel.display()), e);
        self.append_xattrs(path, rel)?;
        if !ft.is_dir() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                let mut h = self.header(meta, EntryType::Link);
                let first = first.clone();
                return self.builder.append_link(&mut h, rel, &first).map_err(werr);
            }
            self.links.insert(key, rel.to_path_buf());
        }
        if ft.is_dir() {
            let mut h = self.header(meta, EntryType::Directory);
            self.builder
                .append_data(&mut h, rel, io::empty())
                .map_err(werr)
        } else if ft.is_file() {
            let mut h = self.header(meta, EntryType::Regular);
            h.set_size(meta.len());
            let f = File::open(path).ctx("open", path)?;
            self.builder.append_data(&mut h, rel, f).map_err(werr)
        } else if ft.is_symlink() {
            let mut h = self.header(meta, EntryType::Symlink);
            let target = fs::read_link(path).ctx("read symlink", path)?;
            self.builder.append_link(&mut h, rel, &target).map_err(werr)
        } else {
            let kind = if ft.is_char_device() {
                EntryType::Char
            } else if ft.is_block_device() {
                EntryType::Block
            } else if ft.is_fifo() {
                EntryType::Fifo
            } else {
                return Ok(()); // sockets are not layer content (Docker skips them too)
            };
            let mut h = self.header(meta, kind);
            if kind != EntryType::Fifo {
                let rdev = meta.rdev();
                h.set_device_major(libc::major(rdev)).map_err(werr)?;
                h.set_device_minor(libc::minor(rdev)).map_err(werr)?;
            }
            self.builder
                .append_data(&mut h, rel, io::empty())
                .map_err(werr)
        }
    }

    fn append_xattrs(&mut self, path: &Path, rel: &Path) -> Result<()> {
        let Ok(names) = xattr::list(path) else {
            return Ok(()); // filesystem without xattr support
        };
        let mut records: Vec<(String, Vec<u8>)> = Vec::new();
        for n in names {
            let Some(ns) = n.to_str() else { continue };
            if ns.starts_with("trusted.overlay.") {
                continue;
            }
            if let Ok(Some(v)) = xattr::get(path, &n) {
                records.push((format!("SCHILY.xattr.{ns}"), v));
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        records.sort();
        self.builder
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(|e| Error::stream(format!("write layer tar entry {}", rel.display()), e))
    }
}
