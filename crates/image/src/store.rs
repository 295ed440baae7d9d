//! The on-disk store: content-addressed blobs, temp space, and the locks writers take.
//!
//! Layout under the root (see docs/architecture.md):
//! ```text
//! blobs/sha256/<hex>   immutable content, visible only after its digest was verified
//! layers/<chain-hex>/  unpacked layers (see `layers`)
//! images.json          tags and images (see `index`)
//! tmp/<pid>-<n>/       per-process scratch space; removed when the process is gone
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::{Digest, Hasher};
use crate::error::{Error, IoContext, Result};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Handle on a berth state directory. Cheap to clone; every method works on disk directly, so
/// several berth processes can use one root at once.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store under `root`, keeping the root closed to other users
    /// (see `permissions`), and removes scratch space left by berth processes that no longer
    /// exist (killed in the middle of a write).
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        crate::permissions::ensure_private_dir(&root, crate::permissions::ROOT_DIR_MODE)
            .ctx("create directory", &root)?;
        for dir in ["blobs/sha256", "layers", "tmp"] {
            let p = root.join(dir);
            fs::create_dir_all(&p).ctx("create directory", &p)?;
        }
        let store = Store { root };
        store.remove_stale_tmp();
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    pub fn blob_size(&self, d: &Digest) -> Result<u64> {
        let p = self.blob_path(d);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::MissingBlob(d.to_string())),
            Err(e) => Err(Error::io("stat", p, e)),
        }
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.blob_path(d);
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::MissingBlob(d.to_string()),
            _ => Error::io("open", p, e),
        })
    }

    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        let p = self.blob_path(d);
        self.open_blob(d)?.read_to_end(&mut buf).ctx("read", &p)?;
        Ok(buf)
    }

    /// Writes a small blob (JSON) in one go and returns its digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let d = Digest::of(bytes);
        if self.has_blob(&d) {
            return Ok(d);
        }
        let mut w = self.blob_writer()?;
        w.write_all(bytes).ctx("write", w.path().to_path_buf())?;
        w.commit(Some(&d))?;
        Ok(d)
    }

    /// Starts ingesting a blob of unknown digest.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let path = self.tmp_path("blob");
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .ctx("create", &path)?;
        Ok(BlobWriter {
            file: Some(io::BufWriter::with_capacity(1 << 20, file)),
            path,
            hasher: Hasher::default(),
            store: self.clone(),
            writeback_from: 0,
        })
    }

    /// Deletes a blob (garbage collection only).
    pub(crate) fn remove_blob(&self, d: &Digest) -> Result<()> {
        let p = self.blob_path(d);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove", p, e)),
            _ => Ok(()),
        }
    }

    /// All blobs in the store.
    pub fn list_blobs(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("blobs/sha256");
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

    /// A fresh path in this process's scratch space (same filesystem as the store, so it
    /// can be renamed into place).
    pub fn tmp_path(&self, what: &str) -> PathBuf {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.root
            .join("tmp")
            .join(format!("{}-{n}-{nanos}-{what}", std::process::id()))
    }

    fn remove_stale_tmp(&self) {
        let dir = self.root.join("tmp");
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() as i32 && !process_alive(pid) {
                let p = e.path();
                // A killed build may have left its scratch root mounted here: detach it
                // first, so the removal below can never reach into the layers under it.
                unmount_detached(&p.join("rootfs"));
                // Best effort: a scratch entry nobody owns any more.
                let _ = if p.is_dir() && !p.is_symlink() {
                    remove_tree(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
        }
    }

    /// Takes the lock that every writer holds while it adds content that is not yet referenced
    /// by an image (shared), and that garbage collection holds while it deletes (exclusive).
    pub fn gc_lock(&self, exclusive: bool) -> Result<LockGuard> {
        self.lock_file("gc.lock", exclusive)
    }

    pub(crate) fn lock_file(&self, name: &str, exclusive: bool) -> Result<LockGuard> {
        let p = self.root.join(name);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .ctx("open lock file", &p)?;
        if exclusive {
            f.lock().ctx("lock", &p)?;
        } else {
            f.lock_shared().ctx("lock", &p)?;
        }
        Ok(LockGuard { _file: f })
    }
}

/// Holds a file lock until dropped.
pub struct LockGuard {
    _file: File,
}

impl Drop for LockGuard {
    /// flock locks belong to the open file, which a container process cloned (not exec'd) from
    /// this one meanwhile shares: closing ours would leave the lock held for as long as that
    /// process lives, so the lock is released explicitly.
    fn drop(&mut self) {
        let _ = self._file.unlock();
    }
}

fn unmount_detached(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) {
        // SAFETY: a valid C string; failure (not a mount point) is fine.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes a directory tree, first making directories writable (layers may hold read-only dirs).
pub fn remove_tree(p: &Path) -> io::Result<()> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(p);
            fs::remove_dir_all(p)
        }
    }
}

fn make_writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = fs::symlink_metadata(p) {
        if m.is_dir() {
            let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    make_writable(&e.path());
                }
            }
        }
    }
}

/// fsync a directory so a rename inside it is durable.
pub(crate) fn sync_dir(p: &Path) -> Result<()> {
    File::open(p).and_then(|f| f.sync_all()).ctx("sync", p)
}

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename.
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    {
        let mut f = File::create(&tmp).ctx("create", &tmp)?;
        f.write_all(bytes).ctx("write", &tmp)?;
        f.sync_all().ctx("sync", &tmp)?;
    }
    fs::rename(&tmp, path).ctx("rename", path)?;
    sync_dir(dir)
}

/// A blob being ingested. Bytes are hashed as they are written; the blob becomes visible only
/// through [`BlobWriter::commit`] after its digest was checked. Dropping it uncommitted deletes
/// the temp file.
pub struct BlobWriter {
    file: Option<io::BufWriter<File>>,
    path: PathBuf,
    hasher: Hasher,
    store: Store,
    writeback_from: u64,
}

const WRITEBACK_CHUNK: u64 = 8 << 20;

impl BlobWriter {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// Digest of what was written so far.
    pub fn digest(&self) -> Digest {
        self.hasher.clone().finish()
    }

    /// Closes the temp file without publishing it yet (keeps file descriptors few when an
    /// archive has many entries).
    pub fn finish(mut self) -> Result<PendingBlob> {
        let file = self.file.take();
        if let Some(w) = file {
            let f = w
                .into_inner()
                .map_err(|e| Error::io("write", &self.path, e.into_error()))?;
            f.sync_all().ctx("sync", &self.path)?;
        }
        Ok(PendingBlob {
            path: std::mem::take(&mut self.path),
            digest: self.hasher.clone().finish(),
            size: self.hasher.len(),
            store: self.store.clone(),
        })
    }

    /// Verifies the digest (if one is expected) and moves the blob into place.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        self.finish()?.commit(expected, "")
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already finished"))?;
        let n = f.write(buf)?;
        self.hasher.update(&buf[..n]);
        // Start writeback of what is written so far every few MiB, so the fsync at commit
        // finds little left to do instead of the whole blob.
        if self.hasher.len() - self.writeback_from >= WRITEBACK_CHUNK {
            f.flush()?;
            use std::os::fd::AsRawFd;
            let fd = f.get_ref().as_raw_fd();
            let len = self.hasher.len() - self.writeback_from;
            // SAFETY: fd is our open file; the call only schedules writeback.
            unsafe {
                libc::sync_file_range(
                    fd,
                    self.writeback_from as i64,
                    len as i64,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
            self.writeback_from = self.hasher.len();
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A fully written, fsynced blob in scratch space, not yet visible in the store.
pub struct PendingBlob {
    path: PathBuf,
    pub digest: Digest,
    pub size: u64,
    store: Store,
}

impl PendingBlob {
    /// Checks the digest and renames the blob into `blobs/sha256/`. `what` names the blob in
    /// errors (an archive path, a layer).
    pub fn commit(mut self, expected: Option<&Digest>, what: &str) -> Result<(Digest, u64)> {
        if let Some(exp) = expected {
            if *exp != self.digest {
                return Err(Error::DigestMismatch {
                    what: if what.is_empty() {
                        exp.to_string()
                    } else {
                        what.to_string()
                    },
                    expected: exp.to_string(),
                    actual: self.digest.to_string(),
                });
            }
        }
        let dest = self.store.blob_path(&self.digest);
        let path = std::mem::take(&mut self.path);
        if dest.exists() {
            let _ = fs::remove_file(&path);
        } else {
            fs::rename(&path, &dest).ctx("rename", &dest)?;
            sync_dir(dest.parent().unwrap_or(Path::new(".")))?;
        }
        Ok((self.digest.clone(), self.size))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PendingBlob {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_visible_only_after_verified_commit() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut w = s.blob_writer().unwrap();
        w.write_all(b"hello").unwrap();
        let wrong = Digest::of(b"other");
        let err = w.commit(Some(&wrong)).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }));
        assert!(s.list_blobs().unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);

        let d = s.write_blob(b"hello").unwrap();
        assert_eq!(s.read_blob(&d).unwrap(), b"hello");
        assert_eq!(s.list_blobs().unwrap(), vec![d]);
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut w = s.blob_writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(s.list_blobs().unwrap().is_empty());
    }

    #[test]
    fn stale_tmp_of_dead_process_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("tmp")).unwrap();
        // pid 2^22+1 is above the kernel's pid_max limit, so never alive.
        let stale = dir.path().join("tmp/4194305-0-0-blob");
        fs::write(&stale, b"x").unwrap();
        Store::open(dir.path()).unwrap();
        assert!(!stale.exists());
    }
}
