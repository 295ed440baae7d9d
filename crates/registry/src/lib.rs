//! berth's registry client (OCI distribution API, as Docker speaks it): `pull`, `push`,
//! `login`/`logout`, with Docker's reference normalisation, credentials in
//! `~/.docker/config.json` form, bearer-token and basic auth, HTTPS by default and HTTP only
//! for loopback or configured insecure registries.
//!
//! Written on `reqwest` rather than on `oci-client` (tried here: its pull holds whole layers
//! in memory, and under token auth its cross-repository mount fails because it only asks for
//! the target repository's scope). Here blobs stream to disk through the store's digest-
//! checking writer, resume with HTTP Range after a dropped connection, and scopes are asked
//! for per request.

pub mod auth;
pub mod build_cache;
pub mod client;
pub mod config;
pub mod download;
pub mod error;
pub mod pull;
pub mod push;

pub use client::Client;
pub use config::{CredentialSource, RegistryConfig};
pub use error::{Error, Result};

/// Things a transfer reports as it goes; the CLI turns them into Docker-style output.
pub trait Progress: Sync {
    fn event(&self, e: Event<'_>);
}

#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A line of status as Docker prints it (`latest: Pulling from library/busybox`).
    Status(&'a str),
    /// Per-layer status (`Pulling fs layer`, `Download complete`, `Pull complete`,
    /// `Already exists`, `Pushed`, `Layer already exists`, `Mounted from x`).
    Layer { id: &'a str, status: &'a str },
    /// Bytes moved for a layer so far, of its total.
    Bytes { id: &'a str, done: u64, total: u64 },
}

/// Progress that is thrown away (`-q`, tests).
pub struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: Event<'_>) {}
}

/// The short id Docker shows for a layer: 12 hex digits of its digest.
pub(crate) fn short(d: &berth_image::Digest) -> &str {
    let hex = d.hex();
    &hex[..12.min(hex.len())]
}
