//! berth's containers: records and state on disk, the overlay rootfs built from image layers,
//! the OCI runtime spec from image config + run options, and the lifecycle (run, stop, kill,
//! remove, wait, logs). A detached container is watched by a supervisor process (the berth
//! binary re-executed); a foreground `berth run` supervises its own container.
//!
//! Networking beyond `none`/`host` is not here yet: every container gets its own network
//! namespace, so the network crate can plug in by configuring it.

pub mod cgroups;
pub mod engine;
pub mod error;
pub mod exec;
pub mod filesystem;
pub mod lifecycle;
pub mod logs;
pub mod options;
pub mod process;
pub mod record;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod tty;
pub mod volumes;

pub use error::{Error, Result};
pub use lifecycle::Runtime;
pub use options::{ExecOptions, RunOptions};
pub use record::ContainerRecord;
