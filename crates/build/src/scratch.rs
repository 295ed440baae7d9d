//! A stage's root filesystem mounted without a container, for COPY, ADD and WORKDIR: an
//! overlay of its layers under a fresh upper dir in the store's scratch space. The upper dir
//! then holds exactly the step's changes, in overlay form, ready to become a layer.

use std::path::{Path, PathBuf};

use berth_image::{Digest, Store};
use berth_runtime::rootfs::{mount_overlay, unmount, RootfsPaths};

use crate::error::Result;

pub struct ScratchRoot {
    dir: PathBuf,
    paths: RootfsPaths,
    mounted: bool,
}

impl ScratchRoot {
    /// Mounts the layers `chain_ids` (bottom first).
    pub fn mount(store: &Store, chain_ids: &[Digest]) -> Result<ScratchRoot> {
        let dir = store.tmp_path("build-root");
        let paths = RootfsPaths::of(&dir);
        let lowers: Vec<PathBuf> = chain_ids.iter().rev().map(|c| store.layer_dir(c)).collect();
        let mut s = ScratchRoot {
            dir,
            paths,
            mounted: false,
        };
        mount_overlay(&lowers, &s.paths, true, None)?;
        s.mounted = true;
        Ok(s)
    }

    pub fn root(&self) -> &Path {
        &self.paths.merged
    }

    /// Unmounts and returns the upper dir (the changes); it goes when `self` is dropped.
    pub fn changes(&mut self) -> Result<&Path> {
        if self.mounted {
            unmount(&self.paths.merged)?;
            self.mounted = false;
        }
        Ok(&self.paths.upper)
    }
}

impl Drop for ScratchRoot {
    fn drop(&mut self) {
        if self.mounted {
            let _ = unmount(&self.paths.merged);
        }
        if !berth_runtime::rootfs::is_mounted(&self.paths.merged) {
            let _ = berth_image::store::remove_tree(&self.dir);
        }
    }
}
