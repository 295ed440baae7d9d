//! The container engine (`Runtime`): the stores it works on and the container queries every
//! verb shares. Each verb has its own file: `container_create`, `container_run`,
//! `container_start` (supervisor and restart policy), `container_stop`, `container_pause`,
//! `container_rename`, `container_network`, `container_remove`, …

use std::path::{Path, PathBuf};

use berth_image::Store;

use crate::engine::{OciRuntime, Youki};
use crate::error::Result;
use crate::record::{ContainerRecord, Containers, Status};

pub use crate::container_run::Attach;
pub(crate) use crate::container_run::TtySession;
pub use crate::options::{ExecOptions, INIT_PATH};
pub use crate::process::{parse_signal, pid_alive};

pub struct Runtime {
    pub(crate) root: PathBuf,
    pub(crate) store: Store,
    pub(crate) containers: Containers,
    pub(crate) engine: Box<dyn OciRuntime + Send + Sync>,
    pub(crate) network: berth_network::Networking,
    /// A supervisor started ahead of the next start (`keep_supervisor_standby`).
    pub(crate) standby: Option<std::sync::Arc<crate::supervisor_standby::SupervisorStandby>>,
}

/// Whether a container gets its own network wiring (bridge or user-defined network): not
/// `none`, `host` or another container's (`container:ID`).
pub(crate) fn bridged(network: &str) -> bool {
    !matches!(network, "none" | "host") && !network.starts_with("container:")
}

impl Runtime {
    pub fn open(root: &Path) -> Result<Runtime> {
        let store = Store::open(root)?;
        Ok(Runtime {
            root: root.to_path_buf(),
            containers: Containers::new(root)?,
            engine: Box::new(Youki {
                state_root: root.join("runtime"),
            }),
            store,
            network: berth_network::Networking::open(&berth_network::default_dir()),
            standby: None,
        })
    }

    /// For a long-lived caller (`berth serve`): from the first container started on, keep a
    /// supervisor (`exe __supervise --standby`) started and waiting for the next one, which
    /// saves that start the supervisor's own start-up (see `supervisor_standby`).
    pub fn keep_supervisor_standby(&mut self, exe: &Path) {
        self.standby = Some(crate::supervisor_standby::SupervisorStandby::new(
            exe, &self.root,
        ));
    }

    /// A runtime over the fake OCI runtime (unit tests of the lifecycle, without root).
    #[cfg(test)]
    pub(crate) fn with_engine(
        root: &Path,
        engine: Box<dyn OciRuntime + Send + Sync>,
    ) -> Result<Runtime> {
        let mut rt = Runtime::open(root)?;
        rt.engine = engine;
        Ok(rt)
    }

    /// Host-wide network state (shared by every berth root on the host).
    pub fn networking(&self) -> &berth_network::Networking {
        &self.network
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn containers(&self) -> &Containers {
        &self.containers
    }

    /// Image IDs that containers use (rmi refuses these unless forced).
    pub fn images_in_use(&self) -> Vec<String> {
        self.containers
            .list()
            .map(|l| l.into_iter().map(|c| c.image_id).collect())
            .unwrap_or_default()
    }

    /// Every container, with states corrected for processes that died unobserved (a killed
    /// supervisor).
    pub fn list(&self) -> Result<Vec<ContainerRecord>> {
        let mut all = self.containers.list()?;
        for c in &mut all {
            self.correct_abandoned(c);
        }
        Ok(all)
    }

    /// A container running by its record whose process and monitor are both gone is shown
    /// as what it is: exited, nothing watching it.
    fn correct_abandoned(&self, c: &mut ContainerRecord) {
        let abandoned = |c: &ContainerRecord| {
            c.state.status == Status::Running
                && !pid_alive(c.state.pid)
                && !pid_alive(c.state.monitor_pid)
        };
        if !abandoned(c) {
            return;
        }
        // Its monitor may have recorded the exit and gone between the read and the look at
        // its pid: the record as it is now decides.
        match self.containers.load(&c.id) {
            Ok(now) if !abandoned(&now) => {
                *c = now;
                return;
            }
            Err(_) => return,
            Ok(_) => {}
        }
        c.state.status = Status::Exited;
        c.state.paused = false;
        c.state.exit_code = -1;
        c.state.error = "the container's process ended while nothing was watching it".into();
    }

    pub fn find(&self, key: &str) -> Result<ContainerRecord> {
        let mut c = self.containers.find(key)?;
        self.correct_abandoned(&mut c);
        Ok(c)
    }
    /// Volume names that containers use.
    pub fn volumes_in_use(&self) -> Vec<String> {
        self.containers
            .list()
            .map(|l| {
                l.iter()
                    .flat_map(|c| {
                        c.config
                            .mounts
                            .iter()
                            .filter(|m| m.kind == "volume")
                            .map(|m| m.source.clone())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
