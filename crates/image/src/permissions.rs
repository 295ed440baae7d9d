//! Owner-only modes for berth's state. A store holds container environments (often secrets),
//! logs and private images, so no other local user may read it; as Docker keeps
//! /var/lib/docker 0710, berth keeps its root 0710 and what lies under it owner-only.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// The mode of a berth root: the owner (root) does everything, its group may only traverse.
pub const ROOT_DIR_MODE: u32 = 0o710;
/// Directories and files under the root that only berth reads.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with `mode`, or narrows an existing `dir` to `mode` when
/// it grants more than that (a store made before berth kept its state private). Returns true
/// when an existing directory was narrowed, so callers can fix what older versions wrote in it.
pub fn ensure_private_dir(dir: &Path, mode: u32) -> io::Result<bool> {
    match fs::metadata(dir) {
        Ok(m) => {
            let current = m.permissions().mode() & 0o7777;
            // Search permission for others is left alone: a user-namespace-remapped
            // container's root needs it to reach its rootfs (berth_runtime::userns_remap).
            if current & !(mode | 0o001) == 0 {
                return Ok(false);
            }
            fs::set_permissions(dir, fs::Permissions::from_mode(current & mode))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(dir)?;
            // The umask may have taken bits away, never added any: set exactly `mode`.
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Narrows a file to owner-only if it grants anything to others or its group.
pub fn make_file_private(path: &Path) -> io::Result<()> {
    let m = fs::symlink_metadata(path)?;
    if !m.is_file() {
        return Ok(());
    }
    let current = m.permissions().mode() & 0o7777;
    if current & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(current & 0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_directory_gets_exactly_the_mode() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b");
        assert!(!ensure_private_dir(&d, ROOT_DIR_MODE).unwrap());
        assert_eq!(mode(&d), 0o710);
    }

    #[test]
    fn an_open_directory_is_narrowed_and_reported() {
        let t = tempfile::tempdir().unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(ensure_private_dir(t.path(), ROOT_DIR_MODE).unwrap());
        assert_eq!(mode(t.path()), 0o710);
        // Already narrow: nothing to do, nothing reported.
        assert!(!ensure_private_dir(t.path(), ROOT_DIR_MODE).unwrap());
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!ensure_private_dir(t.path(), ROOT_DIR_MODE).unwrap());
        assert_eq!(mode(t.path()), 0o700);
    }

    #[test]
    fn a_readable_file_becomes_owner_only() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("config.json");
        fs::write(&f, "{}").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        make_file_private(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
    }
}
