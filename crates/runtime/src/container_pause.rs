//! `pause` / `unpause`: the container's processes frozen and thawed.

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;
use crate::record::Status;

impl Runtime {
    /// `docker pause` / `unpause`, through the freezer cgroup.
    pub fn set_paused(&self, key: &str, pause: bool) -> Result<()> {
        let found = self.find(key)?;
        // Checked and changed under the container's lock; the freezer is changed in it too.
        let _held = self.containers.lock(&found.id)?;
        let mut c = found;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        if c.state.paused == pause {
            return Err(Error::Conflict(format!(
                "container {} is {}",
                c.id,
                if pause {
                    "already paused"
                } else {
                    "not paused"
                }
            )));
        }
        self.engine.set_frozen(&c.id, pause)?;
        c.state.paused = pause;
        let mut fresh = self.containers.load(&c.id)?;
        fresh.state.paused = pause;
        self.containers.save(&fresh)?;
        self.container_event(if pause { "pause" } else { "unpause" }, &c, &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::engine_fake::{create, fake_runtime, run_in_background};

    fn process_state(pid: i32) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.chars().next().unwrap()
    }

    #[test]
    fn pause_freezes_and_unpause_thaws_with_dockers_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let c = create(&rt, "frozen", &["sleep", "30"], |_| {});
        let e = rt.set_paused("frozen", true).unwrap_err();
        assert_eq!(e.to_string(), format!("container {} is not running", c.id));
        std::thread::scope(|s| {
            let run = run_in_background(s, &rt, &c.id);
            let rec = rt.containers().load(&c.id).unwrap();
            rt.set_paused("frozen", true).unwrap();
            let now = rt.find("frozen").unwrap();
            assert_eq!(now.state.docker_status(), "paused");
            // A stop signal is delivered asynchronously: look until it has taken effect (a
            // panic here would leave the stopped process, and the test, waiting forever).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while process_state(rec.state.pid) != 'T' && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let state = process_state(rec.state.pid);
            if state != 'T' {
                // SAFETY: kill(2) of the test's own fake container process.
                unsafe { libc::kill(rec.state.pid, libc::SIGKILL) };
            }
            assert_eq!(state, 'T');
            let e = rt.set_paused("frozen", true).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("container {} is already paused", c.id)
            );
            rt.set_paused("frozen", false).unwrap();
            assert_eq!(rt.find("frozen").unwrap().state.docker_status(), "running");
            let e = rt.set_paused("frozen", false).unwrap_err();
            assert_eq!(e.to_string(), format!("container {} is not paused", c.id));
            rt.stop("frozen", Some(5)).unwrap();
            run.join().unwrap().unwrap();
        });
        assert_eq!(fake.calls_of("freeze"), 1);
        assert_eq!(fake.calls_of("thaw"), 1);
        // The exit clears the paused mark.
        assert!(!rt.containers().load(&c.id).unwrap().state.paused);
    }
}
