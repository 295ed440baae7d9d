//! Layer tars: applying them safely to a directory, and creating them from one.

pub mod apply;
pub mod compress;
pub mod diff;

pub use apply::{apply_layer, apply_layer_with_ids, ApplyStats, WhiteoutMode};
pub use compress::{compress, decompressed, is_tar, sniff, Compression};
pub use diff::{
    write_layer_tar, write_layer_tar_excluding, write_layer_tar_with_ids, write_path_tar,
    write_path_tar_with_ids, DiffSource,
};

/// Owners on disk that are a tar's owners shifted by a base (a user-namespace-remapped
/// container's files): id `n` of the tar is `base + n` on disk, for `n < size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdShift {
    pub uid: u32,
    pub uid_size: u32,
    pub gid: u32,
    pub gid_size: u32,
}

/// The id the kernel shows for one a namespace cannot map (`overflowuid`).
pub const OVERFLOW_ID: u32 = 65534;

impl IdShift {
    /// The tar's (uid, gid) for an owner on disk; ids outside the range are the overflow id,
    /// as the container sees them.
    pub fn to_tar(&self, uid: u32, gid: u32) -> (u32, u32) {
        let back = |id: u32, base: u32, size: u32| match id.checked_sub(base) {
            Some(n) if n < size => n,
            _ => OVERFLOW_ID,
        };
        (
            back(uid, self.uid, self.uid_size),
            back(gid, self.gid, self.gid_size),
        )
    }

    /// The owner on disk for a tar's (uid, gid), or the id that has no place in the range.
    pub fn to_disk(&self, uid: u32, gid: u32) -> std::result::Result<(u32, u32), u32> {
        let on = |id: u32, base: u32, size: u32| if id < size { Ok(base + id) } else { Err(id) };
        Ok((
            on(uid, self.uid, self.uid_size)?,
            on(gid, self.gid, self.gid_size)?,
        ))
    }
}

#[cfg(test)]
mod tests;
