//! `rm [-f] [-v]`: a container taken apart (runtime state, rootfs, network, anonymous
//! volumes, record).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::lifecycle::{bridged, Runtime};
use crate::process::pid_alive;
use crate::record::{ContainerRecord, Status};
use crate::rootfs::RootfsPaths;

impl Runtime {
    pub(crate) fn remove_anonymous_volumes(&self, rec: &ContainerRecord) {
        if let Ok(v) = self.volumes() {
            for m in rec.config.mounts.iter().filter(|m| m.anonymous) {
                let _ = v.remove(&m.source);
            }
        }
    }
    /// `docker rm [-f] [-v]`: also cleans up after a supervisor or CLI that was killed.
    pub fn remove(&self, key: &str, force: bool, volumes: bool) -> Result<()> {
        let c = self.find(key)?;
        if matches!(c.state.status, Status::Running | Status::Restarting) {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"{key}\": container is {}: stop the container before removing or force remove",
                    c.state.status.as_str()
                )));
            }
            self.request_stop(&c.id);
            if c.state.status == Status::Running {
                self.engine.kill(&c.id, c.state.pid, libc::SIGKILL);
            }
            self.wait_exit(&c.id, Duration::from_secs(10));
        }
        // From here on the container is taken apart under its lock; one started meanwhile
        // (a concurrent start won the race) is left alone.
        let _held = self.containers.lock(&c.id)?;
        let now = self.containers.load(&c.id)?;
        if now.state.status == Status::Running && pid_alive(now.state.pid) {
            return Err(Error::Conflict(format!(
                "cannot remove container \"{key}\": container is running: stop the container before removing or force remove"
            )));
        }
        let dir = self.containers.dir(&c.id);
        self.engine.delete(&c.id)?;
        self.engine.unmount_rootfs(&RootfsPaths::of(&dir).merged)?;
        crate::rootfs::unmount(&crate::rootfs::shm_dir(&dir))?;
        if volumes {
            self.remove_anonymous_volumes(&c);
        }
        if bridged(&c.config.network) {
            self.network.release(&c.id)?;
        }
        let linked = self.is_link_target(&c.id);
        self.containers.remove_dir(&c.id)?;
        if linked {
            self.drop_links_to(&c.id);
        }
        self.container_event("destroy", &c, &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::engine_fake::{actions, create, fake_runtime, run_in_background};
    use crate::Error;

    #[test]
    fn rm_refuses_a_running_container_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let c = create(&rt, "busy", &["sleep", "30"], |_| {});
        std::thread::scope(|s| {
            let run = run_in_background(s, &rt, &c.id);
            let e = rt.remove("busy", false, false).unwrap_err();
            assert!(matches!(e, Error::Conflict(_)));
            assert_eq!(
                e.to_string(),
                "cannot remove container \"busy\": container is running: stop the container before removing or force remove"
            );
            rt.remove("busy", true, false).unwrap();
            assert_eq!(run.join().unwrap().unwrap(), 128 + libc::SIGKILL);
        });
        assert!(!rt.containers().dir(&c.id).exists());
        assert_eq!(
            actions(&rt, &c.id).last().map(String::as_str),
            Some("destroy")
        );
        assert!(fake.calls_of("delete") >= 1);
        assert!(matches!(
            rt.remove("busy", false, false),
            Err(Error::NoSuchContainer(_))
        ));
    }

    #[test]
    fn rm_of_an_exited_container_frees_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _fake) = fake_runtime(dir.path());
        let c = create(&rt, "done", &["true"], |_| {});
        rt.run(
            &c.id,
            crate::container_run::Attach::Client(crate::client_io::ClientIo::discard()),
            &mut |_| {},
        )
        .unwrap();
        rt.remove("done", false, false).unwrap();
        assert!(rt.containers().list().unwrap().is_empty());
        let again = create(&rt, "done", &["true"], |_| {});
        assert_ne!(again.id, c.id);
    }
}
