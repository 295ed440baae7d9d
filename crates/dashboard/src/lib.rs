//! berth's dashboard: the web app that `berth serve --dashboard` serves (built from `web/`
//! with Vite by `build.rs` and embedded in the binary), and the guard every request to it
//! passes. The app itself speaks the Docker Engine API under `/api/`, which the server
//! routes to the same handlers as its sockets: this crate knows nothing of containers.
//!
//! Modules: `assets` (the embedded files and their content types), `access` (the token,
//! its cookie, and the Host/Origin checks against DNS rebinding and cross-site requests).

pub mod access;
pub mod assets;

pub use access::{Admission, Token};
