//! Compose files run natively, over berth's engine (no shelling out, no daemon): a project is
//! loaded as Docker Compose loads it (`project_load`: discovery, `.env`, interpolation,
//! `include`, `extends`, merging, profiles), read into a typed model (`model`), turned into
//! the engine's container requests with Compose's labels (`service_container`), and brought
//! up or down by the verbs in `compose_up`, `compose_down` and `compose_lifecycle`. Front
//! ends (the CLI's `berth compose`) parse flags and render what these return.

pub mod compose_down;
pub mod compose_events;
pub mod compose_lifecycle;
pub mod compose_ls;
pub mod compose_up;
pub mod env_file;
pub mod error;
pub mod interpolation;
pub mod merge;
pub mod model;
pub mod project_containers;
pub mod project_load;
pub mod service_container;

pub use compose_up::{Engine, ImageSource, Progress, UpOptions};
pub use error::{Error, Result};
pub use project_load::{load, Project, ProjectOptions};
