//! A container's filesystem seen from outside: `diff` against its image, `export`, `commit` as
//! a new image, and `cp` in both directions (never following the container's symlinks out).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::lifecycle::Runtime;
use crate::record::ContainerRecord;
use crate::rootfs::{mount_overlay, unmount, RootfsPaths};

impl Runtime {
    /// `docker diff`: changes in the container's filesystem against its image, as
    /// (kind, path) with kind `A`, `C` or `D`, sorted by path.
    pub fn diff(&self, key: &str) -> Result<Vec<(char, String)>> {
        let c = self.find(key)?;
        let upper = RootfsPaths::of(&self.containers.dir(&c.id)).upper;
        let mut out = Vec::new();
        diff_walk(&upper, Path::new("/"), &c.lower_dirs, &mut out);
        let skip: Vec<String> = runtime_mount_points(&c)
            .iter()
            .map(|p| format!("/{}", p.display()))
            .collect();
        out.retain(|(_, p)| !skip.contains(p));
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// Runs `f` with the container's merged filesystem mounted (mounting it for the call if
    /// the container is not running).
    pub fn with_rootfs<T>(&self, key: &str, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let c = self.find(key)?;
        let paths = RootfsPaths::of(&self.containers.dir(&c.id));
        let mounted_here = !crate::rootfs::is_mounted(&paths.merged);
        if mounted_here {
            mount_overlay(&c.lower_dirs, &paths)?;
        }
        let r = f(&paths.merged);
        if mounted_here {
            unmount(&paths.merged)?;
        }
        r
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
        let paused_here = pause && c.state.status == "running" && !c.state.paused;
        if paused_here {
            self.set_paused(&c.id, true)?;
        }
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
            tag: tag
                .map(berth_image::Reference::parse_tagged_default)
                .transpose()?,
            exclude: runtime_mount_points(&c),
        };
        let upper = RootfsPaths::of(&self.containers.dir(&c.id)).upper;
        let r = berth_image::commit::commit(&self.store, &base, &upper, &opts);
        if paused_here {
            let _ = self.set_paused(&c.id, false);
        }
        Ok(r?)
    }

    /// `docker cp CONTAINER:SRC DEST`. Paths in the container are resolved inside its root,
    /// so a symlink in the container can never make berth read host files.
    pub fn copy_from(&self, key: &str, src: &str, dest: &Path) -> Result<()> {
        self.with_rootfs(key, |root| {
            let from = crate::rootfs::resolve_in_root(root, Path::new(src));
            if fs::symlink_metadata(&from).is_err() {
                return Err(Error::Conflict(format!(
                    "Could not find the file {src} in container {key}"
                )));
            }
            let to = if dest.is_dir() {
                dest.join(from.file_name().unwrap_or_default())
            } else {
                dest.to_path_buf()
            };
            copy_tree(&from, &to)
        })
    }

    /// `docker cp SRC CONTAINER:DEST`, writing only inside the container's root.
    pub fn copy_to(&self, key: &str, src: &Path, dest: &str) -> Result<()> {
        if fs::symlink_metadata(src).is_err() {
            return Err(Error::Conflict(format!(
                "could not find the file {} on the host",
                src.display()
            )));
        }
        self.with_rootfs(key, |root| {
            let to = crate::rootfs::resolve_in_root(root, Path::new(dest));
            let to = if to.is_dir() {
                to.join(src.file_name().unwrap_or_default())
            } else {
                to
            };
            if !to.starts_with(root) {
                return Err(Error::Conflict(format!(
                    "{dest} resolves outside the container"
                )));
            }
            copy_tree(src, &to)
        })
    }
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
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
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
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777)).ctx("chmod", to)?;
    } else if m.is_file() {
        if fs::symlink_metadata(to).is_ok_and(|t| t.file_type().is_symlink()) {
            fs::remove_file(to).ctx("remove", to)?; // replace a symlink, never write through it
        }
        fs::copy(from, to).ctx("copy", to)?;
    }
    let _ = std::os::unix::fs::lchown(to, Some(m.uid()), Some(m.gid()));
    Ok(())
}

/// Files and dirs that exist in the upper dir only because something was mounted there
/// (generated /etc files, volume and bind targets missing from the image): not content.
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
