//! A container's filesystem seen from outside: `diff` against its image, `export`, `commit` as
//! a new image, and `cp` in both directions (never following the container's symlinks out).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::lifecycle::Runtime;
use crate::record::ContainerRecord;
use crate::record::Status;
use crate::rootfs::{mount_overlay, unmount, RootfsPaths};

/// The rootfs mounts `with_rootfs` holds in this process: merged dir → (users, whether this
/// process mounted it and so unmounts it).
static ROOTFS_USERS: std::sync::Mutex<std::collections::BTreeMap<PathBuf, (usize, bool)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

impl Runtime {
    /// `docker diff`: changes in the container's filesystem against its image, as
    /// (kind, path) with kind `A`, `C` or `D`, sorted by path.
    pub fn diff(&self, key: &str) -> Result<Vec<(char, String)>> {
        let c = self.find(key)?;
        let (_view, upper) = self.upper_as_in_image(&c)?;
        let mut out = Vec::new();
        diff_walk(&upper, Path::new("/"), &c.lower_dirs, &mut out);
        let skip: Vec<String> = runtime_mount_points(&c)
            .iter()
            .map(|p| format!("/{}", p.display()))
            .collect();
        out.retain(|(_, p)| !skip.contains(p));
        // A directory that the overlay copied up only to hold those skipped mount points
        // (`/etc` for `/etc/hostname`) is no change either, unless its own mode or owner is.
        let changed: Vec<String> = out.iter().map(|(_, p)| p.clone()).collect();
        out.retain(|(kind, p)| {
            *kind != 'C'
                || changed.iter().any(|o| o.starts_with(&format!("{p}/")))
                || !copied_up_only(&upper, p, &c.lower_dirs)
        });
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// The container's upper dir with the owners its image would give (for a remapped
    /// container, its host ids shifted back through an idmapped view the fd holds).
    fn upper_as_in_image(
        &self,
        c: &ContainerRecord,
    ) -> Result<(Option<std::os::fd::OwnedFd>, PathBuf)> {
        let upper = RootfsPaths::of(&self.containers.dir(&c.id)).upper;
        match &c.config.userns_remap {
            Some(m) if upper.exists() => {
                let (fd, path) = crate::userns_remap::unshifted_view(&upper, m)?;
                Ok((Some(fd), path))
            }
            _ => Ok((None, upper)),
        }
    }

    /// Runs `f` with the container's merged filesystem mounted (mounting it for the call if
    /// the container is not running).
    /// Callers in one process share the mount (a server copies from one container for
    /// several clients at once): the last one out unmounts what the first one mounted.
    pub fn with_rootfs<T>(&self, key: &str, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let c = self.find(key)?;
        let paths = RootfsPaths::of(&self.containers.dir(&c.id));
        {
            let mut users = ROOTFS_USERS.lock().unwrap_or_else(|e| e.into_inner());
            let entry = users.entry(paths.merged.clone()).or_insert((0, false));
            if entry.0 == 0 {
                entry.1 = !crate::rootfs::is_mounted(&paths.merged);
                if entry.1 {
                    if let Err(e) =
                        mount_overlay(&c.lower_dirs, &paths, false, c.config.userns_remap.as_ref())
                    {
                        users.remove(&paths.merged);
                        return Err(e);
                    }
                }
            }
            entry.0 += 1;
        }
        let r = f(&paths.merged);
        let mut users = ROOTFS_USERS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = users.get_mut(&paths.merged) {
            entry.0 -= 1;
            if entry.0 == 0 {
                let mounted_here = entry.1;
                users.remove(&paths.merged);
                if mounted_here {
                    unmount(&paths.merged)?;
                }
            }
        }
        r
    }

    /// As `with_rootfs`, with the container's volumes and bind mounts seen where they are
    /// mounted (`cp`, the archive endpoints).
    fn with_view<T>(&self, key: &str, f: impl FnOnce(&View) -> Result<T>) -> Result<T> {
        let c = self.find(key)?;
        self.with_rootfs(key, |root| f(&View::of(self, &c, root)))
    }

    /// `docker commit`: the container's changes become a new layer on its image.
    pub fn commit(
        &self,
        key: &str,
        changes: &[String],
        comment: Option<String>,
        author: Option<String>,
        tag: Option<&str>,
        pause: bool,
    ) -> Result<berth_image::Image> {
        let c = self.find(key)?;
        let base = self.store.lookup(&c.image_id)?;
        // Everything that can be refused is checked before the container is paused.
        let tag = tag
            .map(berth_image::Reference::parse_tagged_default)
            .transpose()?;
        let paused_here = pause && c.state.status == Status::Running && !c.state.paused;
        let _unpause = if paused_here {
            match self.set_paused(&c.id, true) {
                Ok(()) => Some(UnpauseOnDrop {
                    rt: self,
                    id: &c.id,
                }),
                // It exited after the look (its monitor has not recorded that yet): there
                // is nothing left to pause.
                Err(_) if !crate::process::pid_alive(c.state.pid) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let mut cfg = base.config.config.clone().unwrap_or_default();
        cfg.env = Some(
            c.config
                .env
                .iter()
                .filter(|e| !e.starts_with("HOSTNAME="))
                .cloned()
                .collect(),
        );
        cfg.cmd = Some(c.config.cmd.clone());
        cfg.entrypoint = if c.config.entrypoint.is_empty() {
            None
        } else {
            Some(c.config.entrypoint.clone())
        };
        if !c.config.working_dir.is_empty() {
            cfg.working_dir = Some(c.config.working_dir.clone());
        }
        if !c.config.user.is_empty() {
            cfg.user = Some(c.config.user.clone());
        }
        if !c.config.labels.is_empty() {
            cfg.labels = Some(c.config.labels.clone());
        }
        let opts = berth_image::commit::CommitOptions {
            config: cfg,
            changes: changes.to_vec(),
            comment,
            author,
            created_by: c.config.args.join(" "),
            tag,
            exclude: runtime_mount_points(&c),
        };
        let (_view, upper) = self.upper_as_in_image(&c)?;
        Ok(berth_image::commit::commit(
            &self.store,
            &base,
            &upper,
            &opts,
        )?)
    }

    /// The changes of an exited container as a new layer on top of the layer chain `parent`
    /// (its image's top layer): the builder's RUN step. Files that exist only because
    /// something was mounted there are left out, as in `commit`. The container's upper dir
    /// is moved into the store as the layer, so the container can only be removed afterwards.
    /// The caller holds the store's GC lock.
    pub fn layer_from_changes(
        &self,
        key: &str,
        parent: Option<&berth_image::Digest>,
    ) -> Result<(berth_image::Digest, u64)> {
        let c = self.find(key)?;
        if c.state.status == Status::Running {
            return Err(Error::Conflict(format!(
                "container {key} is still running: its changes are not final"
            )));
        }
        let upper = RootfsPaths::of(&self.containers.dir(&c.id)).upper;
        Ok(berth_image::commit::layer_from_finished_upper(
            &self.store,
            parent,
            &upper,
            &runtime_mount_points(&c),
        )?)
    }

    /// `docker export`: the container's whole filesystem as a tar, with the owners its
    /// processes see (a remapped container's host ids shifted back).
    pub fn export<W: std::io::Write>(&self, key: &str, out: W) -> Result<()> {
        let c = self.find(key)?;
        let ids = c.config.userns_remap.as_ref().map(Into::into);
        self.with_rootfs(&c.id, |merged| {
            berth_image::layer::write_layer_tar_with_ids(
                merged,
                berth_image::layer::DiffSource::Full,
                out,
                ids,
            )?;
            Ok(())
        })
    }

    /// `docker cp CONTAINER:SRC DEST`. Paths in the container are resolved inside its root,
    /// so a symlink in the container can never make berth read host files.
    pub fn copy_from(&self, key: &str, src: &str, dest: &Path, o: &CopyOptions) -> Result<()> {
        let remap = self.find(key)?.config.userns_remap;
        self.with_view(key, |view| {
            let from = source_in_view(view, src, o.follow_link, key)?;
            // Docker's rules: SRC/. copies the directory's content; into an existing
            // directory, SRC goes in under its own name; otherwise it becomes DEST.
            let contents_only = src.ends_with("/.");
            let to = if dest.is_dir() && !contents_only {
                dest.join(from.file_name().unwrap_or_default())
            } else {
                dest.to_path_buf()
            };
            let owner = match (o.archive, remap) {
                (true, Some(m)) => Owner::SourceFromContainer(m.into()),
                (true, None) => Owner::Source,
                (false, _) => Owner::Caller,
            };
            copy_tree(&from, &to, owner)
        })
    }

    /// `docker cp SRC CONTAINER:DEST`, writing only inside the container's root.
    pub fn copy_to(&self, key: &str, src: &Path, dest: &str, o: &CopyOptions) -> Result<()> {
        let from = if o.follow_link {
            fs::canonicalize(src).unwrap_or_else(|_| src.to_path_buf())
        } else {
            src.to_path_buf()
        };
        if fs::symlink_metadata(&from).is_err() {
            return Err(Error::Conflict(format!(
                "could not find the file {} on the host",
                src.display()
            )));
        }
        let contents_only = src.as_os_str().as_encoded_bytes().ends_with(b"/.");
        let remap = self.find(key)?.config.userns_remap;
        self.with_view(key, |view| {
            let to = view.resolve(Path::new(dest));
            let to = if to.is_dir() && !contents_only {
                to.join(src.file_name().unwrap_or_default())
            } else {
                to
            };
            if !view.contains(&to) {
                return Err(Error::Conflict(format!(
                    "{dest} resolves outside the container"
                )));
            }
            // Docker: files copied in belong to root unless -a keeps the source's owners
            // (the container's root and owners: shifted into a remapped container's range).
            let owner = match (o.archive, remap) {
                (true, Some(m)) => Owner::SourceIntoContainer(m.into()),
                (true, None) => Owner::Source,
                (false, Some(m)) => Owner::Set(m.uid, m.gid),
                (false, None) => Owner::Set(0, 0),
            };
            copy_tree(&from, &to, owner)
        })
    }

    /// `docker cp CONTAINER:SRC -`: a tar of SRC (top entry named after it) to `out`.
    pub fn copy_from_as_tar<W: std::io::Write>(
        &self,
        key: &str,
        src: &str,
        follow_link: bool,
        out: W,
    ) -> Result<W> {
        let ids = self.find(key)?.config.userns_remap.as_ref().map(Into::into);
        self.with_view(key, |view| {
            let from = source_in_view(view, src, follow_link, key)?;
            let name = if src.ends_with("/.") {
                PathBuf::from(".")
            } else {
                PathBuf::from(from.file_name().unwrap_or_default())
            };
            Ok(berth_image::layer::write_path_tar_with_ids(
                &from, &name, out, ids,
            )?)
        })
    }

    /// `docker cp - CONTAINER:DEST`: extracts a tar read from `input` into the directory
    /// DEST, with the owners the tar records; nothing is written outside the container's root.
    pub fn copy_to_from_tar<R: std::io::Read>(
        &self,
        key: &str,
        input: R,
        dest: &str,
    ) -> Result<()> {
        let ids = self.find(key)?.config.userns_remap.as_ref().map(Into::into);
        self.with_view(key, |view| {
            let to = view.resolve(Path::new(dest));
            if !view.contains(&to) {
                return Err(Error::Conflict(format!(
                    "{dest} resolves outside the container"
                )));
            }
            match fs::metadata(&to) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Error::Conflict(format!(
                        "extraction point is not a directory: {dest}"
                    )))
                }
                Err(_) => {
                    return Err(Error::NotFound(format!(
                        "Could not find the file {dest} in container {key}"
                    )))
                }
            }
            berth_image::layer::apply_layer_with_ids(
                input,
                &to,
                berth_image::layer::WhiteoutMode::Literal,
                ids,
            )?;
            Ok(())
        })
    }
}

/// A path in a container as `HEAD/GET /containers/{id}/archive` describe it (Docker's
/// `X-Docker-Container-Path-Stat`): `mode` is Go's `os.FileMode` (type bits on top of the
/// permission bits), `link_target` the absolute path in the container a symlink resolves to.
#[derive(serde::Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: u64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's `os.FileMode` for a file's `st_mode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const NAMED_PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHAR_DEVICE: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut m = st_mode & 0o777;
    m |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => DIR,
        libc::S_IFLNK => SYMLINK,
        libc::S_IFBLK => DEVICE,
        libc::S_IFCHR => DEVICE | CHAR_DEVICE,
        libc::S_IFIFO => NAMED_PIPE,
        libc::S_IFSOCK => SOCKET,
        _ => 0,
    };
    for (bit, go) in [
        (libc::S_ISUID, SETUID),
        (libc::S_ISGID, SETGID),
        (libc::S_ISVTX, STICKY),
    ] {
        if st_mode & bit != 0 {
            m |= go;
        }
    }
    m
}

impl Runtime {
    /// What `path` is in the container (the link itself for a symlink, with its target).
    pub fn stat_path(&self, key: &str, path: &str) -> Result<PathStat> {
        use std::os::unix::fs::MetadataExt;
        let c = self.find(key)?;
        self.with_view(key, |view| {
            let found = source_in_view(view, path, false, &c.name)?;
            let m = fs::symlink_metadata(&found).ctx("stat", &found)?;
            let link_target = if m.file_type().is_symlink() {
                let root = view.root;
                let target = crate::rootfs::resolve_in_root(
                    root,
                    found.strip_prefix(root).unwrap_or(&found),
                );
                format!(
                    "/{}",
                    target.strip_prefix(root).unwrap_or(&target).display()
                )
            } else {
                String::new()
            };
            let mtime = chrono::DateTime::from_timestamp(m.mtime(), m.mtime_nsec() as u32)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                .unwrap_or_default();
            let name = found
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "/".into());
            Ok(PathStat {
                name,
                size: m.len(),
                mode: go_file_mode(m.mode()),
                mtime,
                link_target,
            })
        })
    }
}

/// At most this many entries of one directory are listed (the dashboard's files view).
pub const LIST_LIMIT: usize = 5000;

impl Runtime {
    /// The entries of the directory `path` in the container (following `path` if it is a
    /// symlink, as `ls` does), directories first, then by name; at most `LIST_LIMIT`, and
    /// whether there were more. Each entry as `stat_path` gives it, a symlink's target as
    /// it is written.
    pub fn list_dir(&self, key: &str, path: &str) -> Result<(Vec<PathStat>, bool)> {
        use std::os::unix::fs::MetadataExt;
        let c = self.find(key)?;
        self.with_view(key, |view| {
            let dir = source_in_view(view, path, true, &c.name)?;
            if !fs::metadata(&dir).ctx("stat", &dir)?.is_dir() {
                return Err(Error::Conflict(format!("{path} is not a directory")));
            }
            let mut entries = Vec::new();
            let mut more = false;
            for entry in fs::read_dir(&dir).ctx("list", &dir)? {
                let entry = entry.ctx("list", &dir)?;
                if entries.len() == LIST_LIMIT {
                    more = true;
                    break;
                }
                let Ok(m) = entry.metadata() else { continue };
                let link_target = if m.file_type().is_symlink() {
                    fs::read_link(entry.path())
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                entries.push(PathStat {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    size: m.len(),
                    mode: go_file_mode(m.mode()),
                    mtime: chrono::DateTime::from_timestamp(m.mtime(), m.mtime_nsec() as u32)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                    link_target,
                });
            }
            let is_dir = |e: &PathStat| e.mode & (1 << 31) != 0;
            entries.sort_by(|a, b| is_dir(b).cmp(&is_dir(a)).then_with(|| a.name.cmp(&b.name)));
            Ok((entries, more))
        })
    }
}

/// `cp` options.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyOptions {
    /// -L: follow a symlink named as the source (otherwise the link itself is copied).
    pub follow_link: bool,
    /// -a: keep the source's owners.
    pub archive: bool,
}

/// Who owns what `cp` writes.
#[derive(Clone, Copy)]
enum Owner {
    /// Whoever runs berth (the process's own uid/gid, as created).
    Caller,
    /// The source file's uid/gid.
    Source,
    /// The source's, a remapped container's host ids shifted back (`cp -a` out of it).
    SourceFromContainer(berth_image::layer::IdShift),
    /// The source's, shifted into a remapped container's range (`cp -a` into it).
    SourceIntoContainer(berth_image::layer::IdShift),
    Set(u32, u32),
}

/// A container's files as `cp` and the archive endpoints see them: its root, with its
/// volumes and bind mounts over it (Docker copies into and out of them, stopped or running).
/// Every path it gives is inside the root or one of those mounts' sources.
pub(crate) struct View<'a> {
    root: &'a Path,
    /// (target in the container, source on the host), longest target first.
    mounts: Vec<(PathBuf, PathBuf)>,
}

impl View<'_> {
    fn of<'a>(rt: &Runtime, c: &ContainerRecord, root: &'a Path) -> View<'a> {
        let volumes = rt.volumes().ok();
        let mut mounts: Vec<(PathBuf, PathBuf)> = c
            .config
            .mounts
            .iter()
            .filter_map(|m| {
                let source = match m.kind.as_str() {
                    "bind" => PathBuf::from(&m.source),
                    "volume" => volumes.as_ref()?.data_dir(&m.source),
                    _ => return None,
                };
                Some((lexical(Path::new(&m.target)), source))
            })
            .collect();
        mounts.sort_by_key(|(t, _)| std::cmp::Reverse(t.components().count()));
        View { root, mounts }
    }

    /// The mount covering the container path `p` (absolute, lexical) and the rest of it.
    fn mount_of(&self, p: &Path) -> Option<(&Path, PathBuf)> {
        self.mounts.iter().find_map(|(t, src)| {
            p.strip_prefix(t)
                .ok()
                .map(|rest| (src.as_path(), rest.to_path_buf()))
        })
    }

    /// Resolves the container path `p` (symlinks included) to a host path.
    fn resolve(&self, p: &Path) -> PathBuf {
        if let Some((src, rest)) = self.mount_of(&lexical(p)) {
            return crate::rootfs::resolve_in_root(src, &rest);
        }
        let host = crate::rootfs::resolve_in_root(self.root, p);
        // A symlink in the root that leads into a mount.
        let inside = Path::new("/").join(host.strip_prefix(self.root).unwrap_or(&host));
        match self.mount_of(&inside) {
            Some((src, rest)) => crate::rootfs::resolve_in_root(src, &rest),
            None => host,
        }
    }

    /// Whether the host path `p` is inside the root or a mount's source.
    fn contains(&self, p: &Path) -> bool {
        p.starts_with(self.root) || self.mounts.iter().any(|(_, src)| p.starts_with(src))
    }
}

/// `p` as an absolute path with `.` and `..` taken lexically (no symlinks looked at).
fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The container path `src`: its directories are resolved inside the container (its root
/// and mounts), and so is a symlink named as the source itself only with `follow_link`
/// (Docker's -L).
fn source_in_view(view: &View, src: &str, follow_link: bool, key: &str) -> Result<PathBuf> {
    let trimmed = src.strip_suffix("/.").unwrap_or(src);
    let path = Path::new(trimmed);
    let is_mount_point = view.mounts.iter().any(|(t, _)| *t == lexical(path));
    let from = match (
        follow_link || is_mount_point,
        path.parent(),
        path.file_name(),
    ) {
        (false, Some(parent), Some(name)) => view.resolve(parent).join(name),
        _ => view.resolve(path),
    };
    if !view.contains(&from) || fs::symlink_metadata(&from).is_err() {
        return Err(Error::NotFound(format!(
            "Could not find the file {src} in container {key}"
        )));
    }
    Ok(from)
}

/// Walks an overlay upper dir and classifies each entry against the lower dirs.
fn diff_walk(dir: &Path, shown: &Path, lowers: &[PathBuf], out: &mut Vec<(char, String)>) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let path = e.path();
        let rel = shown.join(e.file_name());
        let Ok(m) = fs::symlink_metadata(&path) else {
            continue;
        };
        let rel_inner = rel.strip_prefix("/").unwrap_or(&rel).to_path_buf();
        let in_lower = lowers
            .iter()
            .any(|l| fs::symlink_metadata(l.join(&rel_inner)).is_ok());
        if m.file_type().is_char_device() && m.rdev() == 0 {
            out.push(('D', rel.display().to_string()));
            continue;
        }
        out.push((if in_lower { 'C' } else { 'A' }, rel.display().to_string()));
        if m.is_dir() {
            diff_walk(&path, &rel, lowers, out);
        }
    }
}

/// Copies a file, symlink (as a symlink, never followed) or directory tree.
fn copy_tree(from: &Path, to: &Path, owner: Owner) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = fs::symlink_metadata(from).ctx("stat", from)?;
    if m.file_type().is_symlink() {
        let _ = fs::remove_file(to);
        std::os::unix::fs::symlink(fs::read_link(from).ctx("read link", from)?, to)
            .ctx("symlink", to)?;
    } else if m.is_dir() {
        if !to.is_dir() {
            fs::create_dir(to).ctx("create directory", to)?;
        }
        for e in fs::read_dir(from).ctx("read directory", from)?.flatten() {
            copy_tree(&e.path(), &to.join(e.file_name()), owner)?;
        }
        fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777)).ctx("chmod", to)?;
    } else if m.is_file() {
        if fs::symlink_metadata(to).is_ok_and(|t| t.file_type().is_symlink()) {
            fs::remove_file(to).ctx("remove", to)?; // replace a symlink, never write through it
        }
        fs::copy(from, to).ctx("copy", to)?;
    }
    let ids = match owner {
        Owner::Caller => None,
        Owner::Source => Some((m.uid(), m.gid())),
        Owner::SourceFromContainer(ids) => Some(ids.to_tar(m.uid(), m.gid())),
        Owner::SourceIntoContainer(ids) => Some(ids.to_disk(m.uid(), m.gid()).map_err(|id| {
            Error::Invalid(format!(
                "{}: container ID {id} cannot be mapped to a host ID",
                from.display()
            ))
        })?),
        Owner::Set(u, g) => Some((u, g)),
    };
    if let Some((u, g)) = ids {
        std::os::unix::fs::lchown(to, Some(u), Some(g)).ctx("chown", to)?;
    }
    Ok(())
}

/// Files and dirs that exist in the upper dir only because something was mounted there
/// (generated /etc files, volume and bind targets missing from the image): not content.
/// Whether `path` is a directory in the upper layer whose mode and owner are those of the
/// same directory in the topmost lower layer that has it (a plain copy-up).
fn copied_up_only(upper: &Path, path: &str, lower_dirs: &[PathBuf]) -> bool {
    use std::os::unix::fs::MetadataExt;
    let rel = path.trim_start_matches('/');
    let Ok(up) = fs::symlink_metadata(upper.join(rel)) else {
        return false;
    };
    if !up.is_dir() {
        return false;
    }
    lower_dirs
        .iter()
        .find_map(|l| fs::symlink_metadata(l.join(rel)).ok())
        .is_some_and(|low| {
            low.is_dir()
                && low.mode() == up.mode()
                && low.uid() == up.uid()
                && low.gid() == up.gid()
        })
}

fn runtime_mount_points(c: &ContainerRecord) -> Vec<PathBuf> {
    let mut targets: Vec<PathBuf> = ["etc/hostname", "etc/hosts", "etc/resolv.conf"]
        .iter()
        .map(PathBuf::from)
        .collect();
    targets.extend(
        c.config
            .mounts
            .iter()
            .map(|m| PathBuf::from(m.target.trim_start_matches('/'))),
    );
    targets.retain(|t| {
        !c.lower_dirs
            .iter()
            .any(|l| fs::symlink_metadata(l.join(t)).is_ok())
    });
    targets
}

/// Unpauses a container that `commit` paused, on every way out of it (errors included).
struct UnpauseOnDrop<'a> {
    rt: &'a Runtime,
    id: &'a str,
}

impl Drop for UnpauseOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.rt.set_paused(self.id, false);
    }
}

#[cfg(test)]
mod tests {
    use super::go_file_mode;

    #[test]
    fn modes_are_gos() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
        assert_eq!(
            go_file_mode(libc::S_IFDIR | libc::S_ISVTX | 0o777),
            (1 << 31) | (1 << 20) | 0o777
        );
    }
}
