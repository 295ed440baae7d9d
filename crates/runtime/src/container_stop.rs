//! `stop`, `kill`: signals to a running container, and the stop request that keeps its
//! restart policy from starting it again.

use std::cell::Cell;
use std::fs;
use std::time::{Duration, Instant};

use crate::container_wait::WaitCondition;
use crate::error::{Error, Result};
use crate::lifecycle::Runtime;
use crate::process::{parse_signal, pid_alive};
use crate::record::Status;

impl Runtime {
    /// Marks a container as stopped on purpose, so its restart policy leaves it stopped. A
    /// marker file rather than a field of the record: the supervisor rewrites the record as
    /// the container starts, and must never overwrite this request.
    pub(crate) fn request_stop(&self, id: &str) {
        let _ = fs::write(self.containers.dir(id).join("stop-requested"), b"");
    }

    pub(crate) fn stop_requested(&self, id: &str) -> bool {
        self.containers.dir(id).join("stop-requested").exists()
    }

    /// A user's `start`/`restart`: the restart policy applies again.
    pub fn clear_stop_request(&self, id: &str) {
        let _ = fs::remove_file(self.containers.dir(id).join("stop-requested"));
    }
    /// `docker kill -s SIGNAL`.
    pub fn kill(&self, key: &str, signal: &str) -> Result<()> {
        let c = self.find(key)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "cannot kill container: {key}: container {} is not running",
                c.id
            )));
        }
        let sig = parse_signal(signal)?;
        if matches!(sig, libc::SIGKILL | libc::SIGTERM | libc::SIGINT) {
            self.request_stop(&c.id);
        }
        self.engine.kill(&c.id, c.state.pid, sig);
        self.container_event("kill", &c, &[("signal", &sig.to_string())]);
        Ok(())
    }

    /// `docker kill` without a signal: SIGKILL, then (as dockerd) a wait of at most 10 s for
    /// the exit to be recorded, so that what the caller does next (inspect, rm, start) finds
    /// the container stopped with its exit code.
    pub fn kill_and_wait(&self, key: &str) -> Result<()> {
        self.kill(key, "KILL")?;
        let c = self.find(key)?;
        self.wait_exit(&c.id, Duration::from_secs(10));
        Ok(())
    }

    /// `docker stop -t`: the stop signal, then SIGKILL after the timeout.
    pub fn stop(&self, key: &str, timeout: Option<u64>) -> Result<()> {
        let id = self.containers.find(key)?.id;
        // The request is made under the container's lock, where the supervisor decides on a
        // restart at an exit and before each new run: either it sees the request, or what is
        // read here is the run it started.
        let held = self.containers.lock(&id)?;
        let c = self.find(&id)?;
        if c.state.status == Status::Restarting {
            // Between two runs: tell the supervisor not to start it again.
            self.request_stop(&c.id);
            drop(held);
            self.wait_exit(&c.id, Duration::from_secs(10));
            return Ok(());
        }
        if c.state.status != Status::Running {
            return Ok(());
        }
        let t = timeout.or(c.config.stop_timeout).unwrap_or(10);
        let sig = parse_signal(&c.config.stop_signal)?;
        // Waiting on the journal, not only the record: the supervisor saves the exit before
        // it writes `die`, and Docker's order is `die` then `stop`.
        let waiter = self.waiter(&c.id, WaitCondition::NotRunning)?;
        self.request_stop(&c.id);
        drop(held);
        self.engine.kill(&c.id, c.state.pid, sig);
        self.container_event("kill", &c, &[("signal", &sig.to_string())]);
        let killed = Cell::new(false);
        let deadline = Cell::new(Instant::now() + Duration::from_secs(t));
        let give_up = || {
            if Instant::now() < deadline.get() {
                return false;
            }
            if killed.replace(true) {
                return true;
            }
            self.engine.kill(&c.id, c.state.pid, libc::SIGKILL);
            self.container_event("kill", &c, &[("signal", &libc::SIGKILL.to_string())]);
            deadline.set(Instant::now() + Duration::from_secs(10));
            false
        };
        waiter.wait(self, &give_up);
        self.container_event("stop", &c, &[]);
        Ok(())
    }

    /// Waits until the record says exited (or its pid is gone); true if it did in time.
    pub(crate) fn wait_exit(&self, id: &str, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            match self.containers.load(id) {
                // Still running, or exited but its monitor is still recording that, or between
                // two runs of a restart policy with its supervisor deciding.
                Ok(c)
                    if (c.state.status == Status::Running
                        && (pid_alive(c.state.pid) || pid_alive(c.state.monitor_pid)))
                        || (c.state.status == Status::Restarting
                            && pid_alive(c.state.monitor_pid)) => {}
                _ => return true,
            }
            if start.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine_fake::{actions, create, fake_runtime, run_in_background};
    use crate::record::Status;

    #[test]
    fn stop_sends_the_stop_signal_and_the_exit_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let c = create(&rt, "sleeper", &["sleep", "30"], |_| {});
        std::thread::scope(|s| {
            let run = run_in_background(s, &rt, &c.id);
            rt.stop("sleeper", Some(5)).unwrap();
            assert_eq!(run.join().unwrap().unwrap(), 128 + libc::SIGTERM);
        });
        let rec = rt.containers().load(&c.id).unwrap();
        assert_eq!(
            (rec.state.status, rec.state.exit_code),
            (Status::Exited, 143)
        );
        let kills: Vec<String> = fake
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("kill"))
            .collect();
        assert_eq!(kills, [format!("kill {} {}", c.id, libc::SIGTERM)]);
        assert_eq!(
            actions(&rt, &c.id),
            ["create", "start", "kill", "die", "stop"]
        );
        // Stopping a stopped container is not an error (Docker's rule).
        rt.stop("sleeper", Some(1)).unwrap();
    }

    #[test]
    fn stop_kills_what_ignores_the_stop_signal_after_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let script = "trap '' TERM; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done";
        let c = create(&rt, "stubborn", &["sh", "-c", script], |_| {});
        std::thread::scope(|s| {
            let run = run_in_background(s, &rt, &c.id);
            // Give sh the time to set its trap.
            std::thread::sleep(std::time::Duration::from_millis(200));
            rt.stop("stubborn", Some(1)).unwrap();
            assert_eq!(run.join().unwrap().unwrap(), 128 + libc::SIGKILL);
        });
        let calls = fake.calls();
        assert!(calls.contains(&format!("kill {} {}", c.id, libc::SIGTERM)));
        assert!(calls.contains(&format!("kill {} {}", c.id, libc::SIGKILL)));
    }

    #[test]
    fn kill_delivers_the_signal_asked_for_and_refuses_a_stopped_container() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _fake) = fake_runtime(dir.path());
        let script =
            "trap 'exit 7' USR1; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done";
        let c = create(&rt, "signalled", &["sh", "-c", script], |_| {});
        std::thread::scope(|s| {
            let run = run_in_background(s, &rt, &c.id);
            std::thread::sleep(std::time::Duration::from_millis(200));
            rt.kill("signalled", "USR1").unwrap();
            assert_eq!(run.join().unwrap().unwrap(), 7);
        });
        let e = rt.kill("signalled", "KILL").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot kill container: signalled: container {} is not running",
                c.id
            )
        );
        assert!(rt.kill(&c.id, "NOSUCHSIGNAL").is_err());
    }
}
