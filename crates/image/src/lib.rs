//! berth's image store: OCI content-addressed blobs, tags, unpacked layers shared as overlay
//! lower dirs, and the image operations behind `berth images`, `import`, `save`, `load`, …
//!
//! Knows nothing about containers: callers pass what containers use as plain predicates.

pub mod archive;
pub mod build_cache;
pub mod build_cache_exchange;
pub mod changes;
pub mod commit;
pub mod config;
pub mod digest;
pub mod disk_usage;
pub mod error;
pub mod image_events;
pub mod image_history;
pub mod image_list;
pub mod images;
pub mod import;
pub mod inspect;
pub mod layer;
pub mod layers;
pub mod permissions;
pub mod reference;
pub mod store;

pub use config::ImageConfig;
pub use digest::Digest;
pub use error::{Error, Result};
pub use images::{Image, RemoveEvent};
pub use reference::Reference;
pub use store::Store;
