//! berth's image builder (`berth build`): Dockerfile stages from `berth_dockerfile`, the build
//! context read in place with its `.dockerignore`, RUN steps as containers through
//! `berth_runtime`, COPY/ADD/WORKDIR on a mounted scratch root, every step's result kept as
//! an unregistered image in the store and found again through the build cache; every build
//! recorded in the build history (`build_history`).

pub mod build_cache_transfer;
pub mod build_events;
pub mod build_history;
pub mod build_output;
pub mod builder;
pub mod context;
pub mod copy;
pub mod error;
pub mod git_source;
pub mod prune;
pub mod run_mounts;
pub mod scratch;
pub mod ssh_forwarding;
pub mod stages;
pub mod streamed_context;

pub use build_events::{BuildEvent, LineSplitter, OutputStream};
pub use builder::{build, BuildHost, BuildOptions, RunSignals};
pub use error::{Error, Result};
