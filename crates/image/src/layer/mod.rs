//! Layer tars: applying them safely to a directory, and creating them from one.

pub mod apply;
pub mod compress;
pub mod diff;

pub use apply::{apply_layer, ApplyStats, WhiteoutMode};
pub use compress::{compress, decompressed, is_tar, sniff, Compression};
pub use diff::{write_layer_tar, write_layer_tar_excluding, write_path_tar, DiffSource};

#[cfg(test)]
mod tests;
