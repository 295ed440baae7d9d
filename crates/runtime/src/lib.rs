//! berth's containers: records and state on disk, the overlay rootfs built from image layers,
//! the OCI runtime spec from image config + run options, and the lifecycle (run, stop, kill,
//! remove, wait, logs). A detached container is watched by a supervisor process (the berth
//! binary re-executed; `attach` talks to it over a socket); a foreground `berth run`
//! supervises its own container. Networking is berth_network's: the runtime calls it once the
//! container's network namespace exists and before its command starts.

pub mod attach;
pub mod block_io;
pub mod cgroups;
pub mod client_io;
pub mod container_config;
pub mod container_create;
pub mod container_events;
pub mod container_inspect;
pub mod container_links;
pub mod container_list;
pub mod container_logs;
pub mod container_network;
pub mod container_pause;
pub mod container_prune;
pub mod container_remove;
pub mod container_rename;
pub mod container_run;
pub mod container_start;
pub mod container_stats;
pub mod container_stop;
pub mod container_top;
pub mod container_update;
pub mod container_wait;
pub mod disk_usage;
pub mod engine;
#[cfg(test)]
mod engine_fake;
pub mod error;
pub mod exec;
pub mod exec_session;
pub mod filesystem;
mod fork_safety;
pub mod health;
pub mod image_prune;
pub mod image_remove;
pub mod lifecycle;
pub mod logs;
pub mod networks;
pub mod options;
pub mod process;
pub mod prune_filters;
pub mod record;
pub mod rootfs;
pub mod seccomp;
pub mod seccomp_program;
pub mod spec;
pub mod supervisor_standby;
pub mod system_info;
pub mod system_version;
pub mod tty;
pub mod userns_remap;
pub mod volume_list;
pub mod volume_remove;
pub mod volumes;

pub use container_config::ContainerCreate;
pub use error::{Error, Result};
pub use lifecycle::Runtime;
pub use options::ExecOptions;
pub use record::ContainerRecord;
