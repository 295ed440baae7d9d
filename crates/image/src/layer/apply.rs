//! Safe application of a layer tar to a directory.
//!
//! The `tar` crate parses the stream (long names, PAX records, sparse files), but its own
//! unpacker writes whiteouts, devices and FIFOs as plain files, so the loop over entries is ours.
//! Every entry is checked before anything is written: no absolute paths, no `..`, no writing
//! through a symlink or a hardlink, no hardlink to outside the target.

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

use crate::error::{Error, IoContext, Result};

/// Prefix of a whiteout entry: `.wh.NAME` deletes NAME from the layers below.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Entry marking its directory opaque: nothing from the layers below shows through.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Extended attribute overlayfs reads to make a directory opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What to do with whiteouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// Keep them in overlayfs form (0:0 character devices, `trusted.overlay.opaque=y`), for a
    /// directory that will be an overlay lower dir on its own.
    Overlay,
    /// Apply them: delete what they name (flattening layers into one tree).
    Delete,
    /// There are none: `.wh.` names are ordinary files (a plain archive, as for `cp -`).
    Literal,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ApplyStats {
    /// Bytes of regular file content written.
    pub bytes: u64,
    pub entries: u64,
}

/// Applies the layer tar read from `reader` to `dest` (which must exist).
pub fn apply_layer<R: Read>(reader: R, dest: &Path, mode: WhiteoutMode) -> Result<ApplyStats> {
    apply_layer_with_ids(reader, dest, mode, None)
}

/// Like [`apply_layer`], with the tar's owners shifted by `ids` on disk (`docker cp` into a
/// user-namespace-remapped container); an owner outside the range is refused.
pub fn apply_layer_with_ids<R: Read>(
    reader: R,
    dest: &Path,
    mode: WhiteoutMode,
    ids: Option<super::IdShift>,
) -> Result<ApplyStats> {
    let consumed = std::rc::Rc::new(std::cell::Cell::new(Position::default()));
    let mut archive = tar::Archive::new(Counted {
        inner: reader,
        consumed: consumed.clone(),
    });
    let mut ap = Applier {
        dest,
        mode,
        stats: ApplyStats::default(),
        known_dirs: HashSet::new(),
        created: HashSet::new(),
        dir_times: Vec::new(),
        is_root: unsafe { libc::geteuid() } == 0,
        buf: vec![0; 1 << 20],
        ids,
    };
    let bad = |e| Error::BadTar {
        what: "layer".into(),
        cause: e,
    };
    let entries = archive.entries().map_err(bad)?;
    // Where the last entry's content ended in the stream.
    let mut content_end = None;
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            // A stream that stops right after the last entry's content, without the padding
            // to a whole block and the end-of-archive blocks, is a complete archive to Go's
            // archive/tar and so to Docker; the docker CLI sends such a build context when
            // the Dockerfile is outside it. An end anywhere else is a truncated archive.
            Err(_) if consumed.get().ended && content_end == Some(consumed.get().bytes) => break,
            Err(e) => return Err(bad(e)),
        };
        content_end = Some(entry.raw_file_position() + entry.size());
        ap.apply_entry(&mut entry)?;
    }
    // Directory mtimes last: creating their children changed them.
    for (path, mtime) in ap.dir_times.iter().rev() {
        let t = filetime::FileTime::from_unix_time(*mtime, 0);
        filetime::set_symlink_file_times(path, t, t).ctx("set mtime", path)?;
    }
    Ok(ap.stats)
}

/// A reader that counts the bytes it has handed out (the tar parser reads no further than
/// it needs, so this is its position in the stream) and notes the stream's end.
struct Counted<R> {
    inner: R,
    consumed: std::rc::Rc<std::cell::Cell<Position>>,
}

#[derive(Clone, Copy, Default)]
struct Position {
    bytes: u64,
    ended: bool,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut p = self.consumed.get();
        p.bytes += n as u64;
        p.ended |= n == 0 && !buf.is_empty();
        self.consumed.set(p);
        Ok(n)
    }
}

struct Applier<'a> {
    dest: &'a Path,
    mode: WhiteoutMode,
    stats: ApplyStats,
    /// Relative directories known to be real directories inside dest.
    known_dirs: HashSet<PathBuf>,
    /// Relative paths this layer created (for opaque directories in Delete mode).
    created: HashSet<PathBuf>,
    dir_times: Vec<(PathBuf, i64)>,
    is_root: bool,
    /// Copy buffer for file content: large, so big files take few write calls.
    buf: Vec<u8>,
    /// Owners on disk shifted from the tar's (a remapped container's files).
    ids: Option<super::IdShift>,
}

/// Copies with a large buffer (std's `io::copy` uses 8 KiB, which costs a write call per
/// 8 KiB of layer content).
fn copy_large<R: Read, W: io::Write>(r: &mut R, w: &mut W, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0;
    loop {
        let n = match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn unsafe_entry(entry: &Path, reason: impl Into<String>) -> Error {
    Error::UnsafeEntry {
        entry: entry.display().to_string(),
        reason: reason.into(),
    }
}

/// Turns an entry name into a clean relative path, refusing anything that could leave the target.
pub fn clean_entry_path(raw: &[u8]) -> std::result::Result<PathBuf, &'static str> {
    if raw.first() == Some(&b'/') {
        return Err("absolute paths are not allowed in a layer");
    }
    let mut out = PathBuf::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err("'..' in a path would escape the target directory"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not allowed in a layer")
            }
        }
    }
    Ok(out)
}

impl Applier<'_> {
    fn apply_entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let shown = PathBuf::from(OsStr::from_bytes(&raw));
        let rel = clean_entry_path(&raw).map_err(|r| unsafe_entry(&shown, r))?;
        self.stats.entries += 1;
        if rel.as_os_str().is_empty() {
            return Ok(()); // the layer's root itself: dest keeps its own metadata
        }
        let name = rel
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        let parent_rel = rel.parent().map(Path::to_path_buf).unwrap_or_default();
        self.ensure_parent(&parent_rel, &shown)?;

        if let (false, Some(wh)) = (
            self.mode == WhiteoutMode::Literal,
            name.strip_prefix(WHITEOUT_PREFIX.as_bytes()),
        ) {
            return self.whiteout(&parent_rel, wh, &shown);
        }

        let path = self.dest.join(&rel);
        let header = entry.header().clone();
        let kind = header.entry_type();
        let existing = fs::symlink_metadata(&path).ok();
        let keep_existing_dir =
            kind == EntryType::Directory && existing.as_ref().is_some_and(|m| m.is_dir());
        if existing.is_some() && !keep_existing_dir {
            remove_any(&path)?;
        }
        let mode = header.mode().map_err(|e| bad_header(&shown, e))? & 0o7777;
        match kind {
            EntryType::Directory => {
                if !keep_existing_dir {
                    fs::create_dir(&path).ctx("create directory", &path)?;
                }
                self.known_dirs.insert(rel.clone());
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .ctx("create", &path)?;
                let n = copy_large(entry, &mut f, &mut self.buf).map_err(|e| Error::BadTar {
                    what: format!("layer entry {}", shown.display()),
                    cause: e,
                })?;
                self.stats.bytes += n;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(&shown, "symlink without a target"))?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .ctx("create symlink", &path)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(&shown, "hardlink without a target"))?;
                let target_rel = clean_entry_path(&target)
                    .map_err(|r| unsafe_entry(&shown, format!("hardlink target: {r}")))?;
                self.check_existing_parents(&target_rel, &shown)?;
                let target_path = self.dest.join(&target_rel);
                match fs::symlink_metadata(&target_path) {
                    Ok(m) if !m.is_dir() => {}
                    Ok(_) => return Err(unsafe_entry(&shown, "hardlink to a directory")),
                    Err(_) => {
                        return Err(unsafe_entry(
                            &shown,
                            format!(
                                "hardlink target {} is not in this layer",
                                target_rel.display()
                            ),
                        ))
                    }
                }
                fs::hard_link(&target_path, &path).ctx("create hardlink", &path)?;
                // A hardlink shares its target's metadata; nothing more to set.
                self.note_created(&rel);
                return Ok(());
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let fmt = match kind {
                    EntryType::Char => libc::S_IFCHR,
                    EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                mknod(&path, fmt | mode, libc::makedev(major, minor))?;
            }
            EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink => {
                return Ok(());
            }
            other => {
                return Err(unsafe_entry(
                    &shown,
                    format!("unsupported tar entry type {other:?}"),
                ))
            }
        }
        self.note_created(&rel);

        // Ownership first: chown clears setuid bits and security.capability.
        if self.is_root {
            // Go's tar (Docker's) reads an empty numeric field as 0; so do we.
            let uid = header.uid().unwrap_or(0) as u32;
            let gid = header.gid().unwrap_or(0) as u32;
            let (uid, gid) = match &self.ids {
                Some(ids) => ids.to_disk(uid, gid).map_err(|id| {
                    unsafe_entry(
                        &shown,
                        format!("container ID {id} cannot be mapped to a host ID"),
                    )
                })?,
                None => (uid, gid),
            };
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).ctx("chown", &path)?;
        }
        if kind != EntryType::Symlink {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).ctx("chmod", &path)?;
        }
        if let Some(exts) = entry.pax_extensions().map_err(|e| bad_header(&shown, e))? {
            for ext in exts {
                let ext = ext.map_err(|e| bad_header(&shown, e))?;
                let Some(attr) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                    continue;
                };
                // overlayfs's own attributes could redirect lookups to other paths: never
                // take them from a tar.
                if attr.starts_with(b"trusted.overlay.") {
                    continue;
                }
                xattr::set(&path, OsStr::from_bytes(attr), ext.value_bytes())
                    .map_err(|e| Error::io("set extended attribute", &path, e))?;
            }
        }
        let mtime = header.mtime().unwrap_or(0) as i64;
        if kind == EntryType::Directory {
            self.dir_times.push((path, mtime));
        } else {
            let t = filetime::FileTime::from_unix_time(mtime, 0);
            filetime::set_symlink_file_times(&path, t, t).ctx("set mtime", &path)?;
        }
        Ok(())
    }

    fn note_created(&mut self, rel: &Path) {
        if self.mode == WhiteoutMode::Delete {
            self.created.insert(rel.to_path_buf());
        }
    }

    /// Makes sure every parent of an entry is a real directory inside dest, creating missing
    /// ones; a symlink on the way would let the entry be written outside, so it is refused.
    fn ensure_parent(&mut self, parent_rel: &Path, shown: &Path) -> Result<()> {
        if parent_rel.as_os_str().is_empty() || self.known_dirs.contains(parent_rel) {
            return Ok(());
        }
        let mut cur = PathBuf::new();
        for c in parent_rel.components() {
            cur.push(c);
            if self.known_dirs.contains(&cur) {
                continue;
            }
            let p = self.dest.join(&cur);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(unsafe_entry(
                        shown,
                        format!(
                            "{} is a symlink; writing through it could escape the target",
                            cur.display()
                        ),
                    ))
                }
                Ok(_) => {
                    return Err(unsafe_entry(
                        shown,
                        format!("parent {} is not a directory", cur.display()),
                    ))
                }
                Err(_) => {
                    fs::create_dir(&p).ctx("create directory", &p)?;
                    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).ctx("chmod", &p)?;
                }
            }
            self.known_dirs.insert(cur.clone());
        }
        Ok(())
    }

    /// Like `ensure_parent` but creates nothing (for hardlink targets).
    fn check_existing_parents(&self, rel: &Path, shown: &Path) -> Result<()> {
        let mut cur = PathBuf::new();
        if let Some(parent) = rel.parent() {
            for c in parent.components() {
                cur.push(c);
                if self.known_dirs.contains(&cur) {
                    continue;
                }
                match fs::symlink_metadata(self.dest.join(&cur)) {
                    Ok(m) if m.is_dir() => {}
                    _ => {
                        return Err(unsafe_entry(
                            shown,
                            format!(
                                "hardlink target goes through {}, which is not a directory",
                                cur.display()
                            ),
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    fn whiteout(&mut self, parent_rel: &Path, name: &[u8], shown: &Path) -> Result<()> {
        let parent = self.dest.join(parent_rel);
        if format!("{WHITEOUT_PREFIX}{}", String::from_utf8_lossy(name)) == OPAQUE_MARKER {
            match self.mode {
                WhiteoutMode::Overlay => {
                    xattr::set(&parent, OVERLAY_OPAQUE_XATTR, b"y")
                        .map_err(|e| Error::io("set extended attribute", &parent, e))?;
                }
                WhiteoutMode::Literal => {}
                WhiteoutMode::Delete => {
                    for e in fs::read_dir(&parent).ctx("read directory", &parent)? {
                        let e = e.ctx("read directory", &parent)?;
                        let child_rel = parent_rel.join(e.file_name());
                        if !self.created.contains(&child_rel) {
                            remove_any(&e.path())?;
                        }
                    }
                }
            }
            return Ok(());
        }
        if name.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return Ok(()); // other aufs metadata (.wh..wh.plnk etc.): not content
        }
        if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
            return Err(unsafe_entry(shown, "malformed whiteout name"));
        }
        let target = parent.join(OsStr::from_bytes(name));
        if fs::symlink_metadata(&target).is_ok() {
            remove_any(&target)?;
        }
        if self.mode == WhiteoutMode::Overlay {
            mknod(&target, libc::S_IFCHR, libc::makedev(0, 0))?;
        }
        Ok(())
    }
}

fn bad_header(entry: &Path, e: io::Error) -> Error {
    Error::BadTar {
        what: format!("layer entry {}", entry.display()),
        cause: e,
    }
}

fn remove_any(p: &Path) -> Result<()> {
    let m = fs::symlink_metadata(p).ctx("stat", p)?;
    if m.is_dir() {
        crate::store::remove_tree(p).ctx("remove", p)
    } else {
        fs::remove_file(p).ctx("remove", p)
    }
}

fn mknod(path: &Path, mode: u32, dev: libc::dev_t) -> Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::io("mknod", path, io::Error::from(io::ErrorKind::InvalidInput)))?;
    // SAFETY: c is a valid NUL-terminated path.
    let r = unsafe { libc::mknod(c.as_ptr(), mode as libc::mode_t, dev) };
    if r != 0 {
        return Err(Error::io("mknod", path, io::Error::last_os_error()));
    }
    Ok(())
}
