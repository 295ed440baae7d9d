//! `berth serve`: the Docker Engine API, so the docker CLI, docker-py, docker-compose and
//! testcontainers drive berth unchanged. A thin front end: requests are parsed into the
//! engine's typed operations (`berth_runtime`, `berth_image`) and their reports serialized;
//! errors map to HTTP status codes by their kind (`berth_error_kind`), as moby's `errdefs`.
//!
//! Modules: `listen` (`-H` addresses, sockets), `server` (version prefixes, the Origin/Host
//! guard, routing, shutdown), `dashboard` (the dashboard's listener: its guard, `/api`, the web app's files), `system` (`/_ping`, `/version`, `/info`), `containers`, `container_attach` (the hijacked
//! attach connection, resize), `container_files` (changes, export, archive for `docker
//! cp`), `container_stats`, `streaming` (tar bodies to and from blocking work), `exec`, `events`, `networks`,
//! `build` (`POST /build`), `images` (with `progress`, Docker's JSON progress stream for pull and push), `volumes`, `compose_projects` (berth's own: Compose projects for the dashboard), `registry_auth` (`/auth`), `query` (Docker's query-parameter conventions), `error` (Docker's JSON errors).

mod build;
mod client_departure;
mod compose_projects;
mod container_attach;
mod container_attach_ws;
mod container_files;
mod container_stats;
mod containers;
mod dashboard;
mod error;
mod events;
mod exec;
mod images;
mod listen;
mod networks;
mod progress;
mod query;
mod registry_auth;
mod server;
mod streaming;
mod swarm;
mod system;
mod volumes;

pub use error::ApiError;
pub use listen::{Host, DEFAULT_SOCKET, DOCKER_SOCKET};
pub use server::{serve, Ready, ServeError, ServeOptions};
pub use system::{API_VERSION, MIN_API_VERSION};
