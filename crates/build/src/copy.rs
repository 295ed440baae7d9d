//! Writing COPY/ADD sources into a stage's root filesystem (mounted by `scratch`). Every
//! destination path is resolved inside that root, so a symlink in the image can never make
//! the builder write on the host.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_runtime::rootfs::resolve_in_root;

use crate::context::{join, BuildContext};
use crate::error::{Error, IoContext, Result};

/// How copied entries are owned and moded.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyMode {
    /// `--chown`, or everything root-owned when copying from the context (Docker's rule);
    /// `None` keeps the source's owners (COPY --from).
    pub owner: Option<(u32, u32)>,
    /// `--chmod`: this mode on every copied file and directory.
    pub chmod: Option<u32>,
}

/// Where copied entries come from: the context (with its ignore rules) or another stage's root.
pub enum Source<'a> {
    Context(&'a BuildContext),
    Root(&'a Path),
}

impl Source<'_> {
    fn host_path(&self, rel: &str) -> PathBuf {
        match self {
            Source::Context(c) => c.host_path(rel),
            // Another stage's paths are resolved inside its own root too.
            Source::Root(r) => resolve_in_root(r, Path::new(rel)),
        }
    }
    fn included(&self, rel: &str) -> bool {
        match self {
            Source::Context(c) => c.included(rel),
            Source::Root(_) => true,
        }
    }
    fn may_hold_included(&self) -> bool {
        match self {
            Source::Context(c) => c.ignore.has_exceptions(),
            Source::Root(_) => false,
        }
    }
}

/// Makes the directory `dest` (absolute, as the container sees it) inside `root`, creating
/// missing parents (owned by `owner` when given); returns its host path.
pub fn make_dir(root: &Path, dest: &str, owner: Option<(u32, u32)>) -> Result<PathBuf> {
    let mut cur = PathBuf::from("/");
    for part in Path::new(dest).components().filter_map(|c| match c {
        std::path::Component::Normal(n) => Some(n),
        _ => None,
    }) {
        cur.push(part);
        let host = resolve_in_root(root, &cur);
        match fs::symlink_metadata(&host) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Io {
                    op: "create directory",
                    path: cur.clone(),
                    source: std::io::Error::other("a file of that name is in the way"),
                })
            }
            Err(_) => {
                // Through a dangling link the target's own parents may be missing too.
                fs::create_dir_all(&host).ctx("create directory", &cur)?;
                fs::set_permissions(&host, fs::Permissions::from_mode(0o755)).ctx("chmod", &cur)?;
                if let Some((u, g)) = owner {
                    std::os::unix::fs::lchown(&host, Some(u), Some(g)).ctx("chown", &cur)?;
                }
            }
        }
    }
    Ok(resolve_in_root(root, Path::new(dest)))
}

/// Copies the source `rel` to `dest` (a path inside `root`). A directory's content goes into
/// `dest`; a file becomes `dest`, or goes into it when `into_dir`. A source that is itself a
/// symlink is followed (as BuildKit does); links inside a copied directory are kept as links.
pub fn copy_source(
    src: &Source,
    rel: &str,
    root: &Path,
    dest: &str,
    into_dir: bool,
    mode: CopyMode,
) -> Result<()> {
    let host = src.host_path(rel);
    let m = fs::metadata(&host).map_err(|e| Error::Io {
        op: "copy",
        path: PathBuf::from(rel),
        source: std::io::Error::new(
            e.kind(),
            "not found (links are followed inside the context or stage, never to the host)",
        ),
    })?;
    if m.is_dir() {
        let target = make_dir(root, dest, mode.owner)?;
        copy_dir_content(src, rel, &host, root, &target, mode)?;
        return Ok(());
    }
    let name = Path::new(rel)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (dir, file_name) = if into_dir {
        (dest.to_string(), name)
    } else {
        let p = Path::new(dest);
        (
            p.parent().unwrap_or(Path::new("/")).display().to_string(),
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(name),
        )
    };
    let dir_host = make_dir(root, &dir, mode.owner)?;
    copy_entry(&host, &dir_host.join(file_name), root, true, mode)
}

fn copy_dir_content(
    src: &Source,
    rel: &str,
    from: &Path,
    root: &Path,
    to: &Path,
    mode: CopyMode,
) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(from)
        .ctx("read directory", from)?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let child_rel = join(rel, &name.to_string_lossy());
        let included = src.included(&child_rel);
        let m = fs::symlink_metadata(e.path()).ctx("stat", e.path())?;
        if !(included || m.is_dir() && src.may_hold_included()) {
            continue;
        }
        let target = to.join(&name);
        if m.is_dir() {
            let existing = fs::symlink_metadata(&target).ok();
            let target = match existing {
                // A link in the image to a directory: follow it, inside the root.
                Some(t) if t.file_type().is_symlink() => {
                    resolve_in_root(root, target.strip_prefix(root).unwrap_or(&target))
                }
                _ => target,
            };
            if !target.starts_with(root) {
                continue;
            }
            let created = !target.is_dir();
            if created {
                if !included && !has_included(src, &child_rel, &e.path()) {
                    continue;
                }
                let _ = fs::remove_file(&target);
                fs::create_dir(&target).ctx("create directory", &target)?;
            }
            copy_dir_content(src, &child_rel, &e.path(), root, &target, mode)?;
            set_meta(&target, &m, mode)?;
        } else {
            copy_entry(&e.path(), &target, root, false, mode)?;
        }
    }
    Ok(())
}

fn has_included(src: &Source, rel: &str, host: &Path) -> bool {
    let Ok(rd) = fs::read_dir(host) else {
        return false;
    };
    rd.flatten().any(|e| {
        let child = join(rel, &e.file_name().to_string_lossy());
        src.included(&child) || (e.path().is_dir() && has_included(src, &child, &e.path()))
    })
}

/// Copies one non-directory entry to `to` (never writing through a link at `to`).
fn copy_entry(from: &Path, to: &Path, root: &Path, follow: bool, mode: CopyMode) -> Result<()> {
    if !to.starts_with(root) {
        return Err(Error::Io {
            op: "copy to",
            path: to.to_path_buf(),
            source: std::io::Error::other("destination resolves outside the root"),
        });
    }
    let m = if follow {
        fs::metadata(from)
    } else {
        fs::symlink_metadata(from)
    }
    .ctx("stat", from)?;
    if let Ok(t) = fs::symlink_metadata(to) {
        if t.is_dir() {
            return Err(Error::Io {
                op: "copy to",
                path: to.to_path_buf(),
                source: std::io::Error::other("cannot replace a directory with a file"),
            });
        }
        fs::remove_file(to).ctx("replace", to)?;
    }
    let ft = m.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from).ctx("read link", from)?, to)
            .ctx("symlink", to)?;
    } else if ft.is_file() {
        fs::copy(from, to).ctx("copy", to)?;
    } else {
        // Sockets, FIFOs and devices are not build content.
        return Ok(());
    }
    set_meta(to, &m, mode)
}

/// Owner, mode and mtime of a copied entry.
fn set_meta(to: &Path, m: &fs::Metadata, mode: CopyMode) -> Result<()> {
    let (u, g) = mode.owner.unwrap_or((m.uid(), m.gid()));
    std::os::unix::fs::lchown(to, Some(u), Some(g)).ctx("chown", to)?;
    if !m.file_type().is_symlink() {
        let bits = mode.chmod.unwrap_or(m.mode() & 0o7777);
        fs::set_permissions(to, fs::Permissions::from_mode(bits)).ctx("chmod", to)?;
    }
    let mtime = filetime::FileTime::from_last_modification_time(m);
    filetime::set_symlink_file_times(to, mtime, mtime).ctx("set times", to)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_in_the_image_never_lead_out_of_the_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("app")).unwrap();
        let ctxdir = tempfile::tempdir().unwrap();
        fs::write(ctxdir.path().join("f"), "x").unwrap();
        let ctx = BuildContext::open(ctxdir.path(), &ctxdir.path().join("Dockerfile")).unwrap();
        let mode = CopyMode {
            owner: None,
            chmod: Some(0o640),
        };
        copy_source(
            &Source::Context(&ctx),
            "f",
            root.path(),
            "/app/",
            true,
            mode,
        )
        .unwrap();
        // The absolute link is taken relative to the root: a directory made inside it.
        assert!(fs::read_dir(outside.path()).unwrap().next().is_none());
        let written = root
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("f");
        assert_eq!(fs::read_to_string(&written).unwrap(), "x");
        assert_eq!(fs::metadata(&written).unwrap().mode() & 0o777, 0o640);
    }

    #[test]
    fn a_directory_source_copies_its_content_and_keeps_links() {
        let root = tempfile::tempdir().unwrap();
        let ctxdir = tempfile::tempdir().unwrap();
        fs::create_dir_all(ctxdir.path().join("src/sub")).unwrap();
        fs::write(ctxdir.path().join("src/sub/a"), "a").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", ctxdir.path().join("src/link")).unwrap();
        fs::write(ctxdir.path().join(".dockerignore"), "src/skip\n").unwrap();
        fs::write(ctxdir.path().join("src/skip"), "no").unwrap();
        let ctx = BuildContext::open(ctxdir.path(), &ctxdir.path().join("Dockerfile")).unwrap();
        copy_source(
            &Source::Context(&ctx),
            "src",
            root.path(),
            "/opt/app",
            false,
            CopyMode::default(),
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(root.path().join("opt/app/sub/a")).unwrap(),
            "a"
        );
        assert_eq!(
            fs::read_link(root.path().join("opt/app/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert!(!root.path().join("opt/app/skip").exists());
    }
}
