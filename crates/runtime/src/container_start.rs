//! Starting a container under its supervisor (`berth __supervise`), and the supervisor's
//! loop: run, then restart as the restart policy says, with Docker's back-off.

use std::io::Write;
use std::os::fd::FromRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::container_run::Attach;
use crate::error::{Error, IoContext, Result};
use crate::lifecycle::Runtime;
use crate::process::{decode_error, encode_error};
use crate::record::{ContainerRecord, RunConfig, Status};

impl Runtime {
    /// Starts a created container under a detached supervisor (`exe __supervise ID`) and
    /// returns once it runs.
    pub fn start_detached(&self, id: &str, exe: &Path) -> Result<()> {
        self.start_supervised(id, exe, false)
    }

    /// As `start_detached`, for a caller that attaches next (`run -it`, `start -ai`): the
    /// supervisor keeps the output until it connects (see `Attach::AwaitClient`).
    pub fn start_for_attach(&self, id: &str, exe: &Path) -> Result<()> {
        self.start_supervised(id, exe, true)
    }

    fn start_supervised(&self, id: &str, exe: &Path, await_client: bool) -> Result<()> {
        self.clear_stop_request(id);
        let handed = self
            .standby
            .as_ref()
            .and_then(|s| s.hand_over(id, await_client));
        let spawned = match handed {
            Some(sock) => crate::supervisor_standby::read_answer(sock),
            None => {
                let mut cmd = std::process::Command::new(exe);
                cmd.arg("--root").arg(&self.root).arg("__supervise").arg(id);
                if await_client {
                    cmd.arg("--await-client");
                }
                berth_network::daemonize::spawn_and_wait_ready(cmd)
            }
        }
        .ctx("start supervisor", exe);
        // The next start finds one waiting; started only now, so that it does not compete
        // with this container's start for the CPU.
        if let Some(s) = &self.standby {
            s.refill();
        }
        let e = match spawned {
            Ok(msg) => match msg.trim() {
                "ok" => return Ok(()),
                "" => Error::Runtime {
                    id: id.into(),
                    what: "start",
                    reason: "the supervisor exited before the container started".into(),
                },
                m => decode_error(id, m),
            },
            Err(e) => e,
        };
        // A supervisor that never ran cannot have removed an --rm container: as Docker, a
        // failed start removes it (a client waiting for its removal would wait forever).
        if let Ok(rec) = self.containers.load(id) {
            if rec.config.auto_remove && rec.state.status == crate::record::Status::Created {
                let _ = self.remove(id, true, false);
            }
        }
        Err(e)
    }

    /// The supervisor's side of `start_detached` and `start_for_attach`.
    pub fn supervise(&self, id: &str, ready_fd: i32, await_client: bool) -> Result<i32> {
        // SAFETY: the fd was handed to us by the parent for this purpose.
        let mut ready_pipe = Some(unsafe { std::fs::File::from_raw_fd(ready_fd) });
        // Processes started from here (a network's DNS server) must not hold the pipe open,
        // or the CLI waiting for its end would wait for them too.
        // SAFETY: fcntl on the descriptor we were handed.
        unsafe { libc::fcntl(ready_fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        let mut ready = |r: std::result::Result<&ContainerRecord, &Error>| {
            if let Some(mut p) = ready_pipe.take() {
                let _ = match r {
                    Ok(_) => p.write_all(b"ok\n"),
                    Err(e) => p.write_all(encode_error(e).as_bytes()),
                };
            }
        };
        let mut backoff = Backoff::default();
        // Only the first run has a client on its way; restarts are attached to anew.
        let mut attach = if await_client {
            Attach::AwaitClient
        } else {
            Attach::LogOnly
        };
        loop {
            let code = self.run(id, attach, &mut ready)?;
            attach = Attach::LogOnly;
            // `run` recorded the restart policy's decision with the exit.
            let Ok(rec) = self.containers.load(id) else {
                return Ok(code);
            };
            if rec.state.status != Status::Restarting {
                return Ok(code);
            }
            let ran = chrono::DateTime::parse_from_rfc3339(&rec.state.started_at)
                .ok()
                .and_then(|t| chrono::Utc::now().signed_duration_since(t).to_std().ok())
                .unwrap_or_default();
            // Restarting from the exit on, as Docker shows it (an `rm` without -f then
            // refuses it), through the back-off, which a stop or rm cuts short.
            let wait = backoff.next(ran);
            let until = Instant::now() + wait;
            while Instant::now() < until && !self.stop_requested(id) {
                std::thread::sleep(
                    Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())),
                );
            }
            if self.stop_requested(id) {
                self.containers.update(id, |r| {
                    if r.state.status == Status::Restarting {
                        r.state.status = Status::Exited;
                    }
                    Ok(())
                })?;
                return Ok(code);
            }
        }
    }
}

/// Whether the restart policy starts a container again after it exited with `code`, having
/// been restarted `restart_count` times (a stop request is the caller's to check).
pub(crate) fn restarts(cfg: &RunConfig, restart_count: u32, code: i32) -> bool {
    match cfg.restart_policy.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => code != 0 && (cfg.restart_max == 0 || restart_count < cfg.restart_max),
        _ => false,
    }
}

/// Docker's back-off between restarts: 100 ms, doubling up to a minute, and back to 100 ms
/// after a run of 10 s or more.
pub(crate) struct Backoff {
    next: Duration,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            next: FIRST_BACKOFF,
        }
    }
}

impl Backoff {
    /// The wait before the next start, after a run that lasted `ran`.
    pub(crate) fn next(&mut self, ran: Duration) -> Duration {
        if ran >= Duration::from_secs(10) {
            self.next = FIRST_BACKOFF;
        }
        let wait = self.next;
        self.next = (wait * 2).min(MAX_BACKOFF);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container_config::RestartPolicy;
    use crate::engine_fake::{actions, create, fake_runtime, wait_for};
    use std::io::Read;
    use std::os::fd::IntoRawFd;

    #[test]
    fn an_rm_container_whose_supervisor_cannot_start_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _fake) = fake_runtime(dir.path());
        let gone = create(&rt, "gone", &["true"], |h| h.auto_remove = true);
        let kept = create(&rt, "kept", &["true"], |_| {});
        let nowhere = Path::new("/nonexistent/berth");
        assert!(rt.start_detached(&gone.id, nowhere).is_err());
        assert!(rt.start_detached(&kept.id, nowhere).is_err());
        assert!(
            rt.containers().load(&gone.id).is_err(),
            "--rm container left"
        );
        let kept = rt.containers().load(&kept.id).unwrap();
        assert_eq!(kept.state.status, crate::record::Status::Created);
    }

    fn policy(name: &str, max: i64) -> RestartPolicy {
        RestartPolicy {
            name: name.into(),
            maximum_retry_count: max,
        }
    }

    fn config(name: &str, max: u32) -> RunConfig {
        RunConfig {
            restart_policy: name.into(),
            restart_max: max,
            ..RunConfig::default()
        }
    }

    #[test]
    fn restart_policies_decide_as_dockers() {
        assert!(!restarts(&config("no", 0), 0, 1));
        assert!(restarts(&config("always", 0), 5, 0));
        assert!(restarts(&config("unless-stopped", 0), 5, 0));
        assert!(
            !restarts(&config("on-failure", 0), 0, 0),
            "a success ends it"
        );
        assert!(restarts(&config("on-failure", 0), 1000, 1), "0: no limit");
        assert!(restarts(&config("on-failure", 2), 1, 1));
        assert!(!restarts(&config("on-failure", 2), 2, 1));
    }

    #[test]
    fn backoff_doubles_to_a_minute_and_resets_after_a_long_run() {
        let mut b = Backoff::default();
        let quick = Duration::from_millis(50);
        let waits: Vec<u128> = (0..12).map(|_| b.next(quick).as_millis()).collect();
        assert_eq!(&waits[..4], [100, 200, 400, 800]);
        assert_eq!(waits[10], 60_000);
        assert_eq!(waits[11], 60_000);
        assert_eq!(b.next(Duration::from_secs(10)).as_millis(), 100);
        assert_eq!(b.next(quick).as_millis(), 200);
    }

    /// The supervisor's loop with the fake runtime: on-failure:2 runs the container three
    /// times, waiting 100 then 200 ms between runs, and tells its parent once, at the first
    /// start.
    #[test]
    fn on_failure_restarts_up_to_its_limit_with_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let c = create(&rt, "flaky", &["sh", "-c", "exit 1"], |h| {
            h.restart_policy = policy("on-failure", 2)
        });
        let (told, ready) = crate::process::pipe().unwrap();
        let began = Instant::now();
        let code = rt.supervise(&c.id, ready.into_raw_fd(), false).unwrap();
        assert_eq!(code, 1);
        assert!(began.elapsed() >= Duration::from_millis(300));
        assert_eq!(fake.calls_of("run"), 3);
        let rec = rt.containers().load(&c.id).unwrap();
        assert_eq!(
            (rec.state.status, rec.state.restart_count),
            (Status::Exited, 2)
        );
        let mut msg = String::new();
        std::fs::File::from(told).read_to_string(&mut msg).unwrap();
        assert_eq!(msg, "ok\n");
        let starts = actions(&rt, &c.id).iter().filter(|a| *a == "start").count();
        assert_eq!(starts, 3);
    }

    /// A stop that lands anywhere in a restart loop (during a run, at its exit, in the
    /// back-off, as the next run starts) leaves the container exited when it returns, and
    /// nothing starts it again: the restart decision and the stop request meet under the
    /// container's lock.
    #[test]
    fn a_stop_at_any_moment_of_a_restart_loop_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        for step in 0..12u64 {
            let name = format!("loop{step}");
            let c = create(&rt, &name, &["sleep", "0.03"], |h| {
                h.restart_policy = policy("always", 0)
            });
            let (_told, ready) = crate::process::pipe().unwrap();
            std::thread::scope(|s| {
                let supervisor = s.spawn(|| rt.supervise(&c.id, ready.into_raw_fd(), false));
                std::thread::sleep(Duration::from_millis(20 + step * 13));
                rt.stop(&name, Some(1)).unwrap();
                let rec = rt.containers().load(&c.id).unwrap();
                assert_eq!(
                    rec.state.status,
                    Status::Exited,
                    "after a stop at step {step}"
                );
                supervisor.join().unwrap().unwrap();
            });
        }
        let runs = fake.calls_of("run");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(fake.calls_of("run"), runs, "started again after a stop");
    }

    /// `always` restarts after every exit until a stop, which also cuts a back-off short.
    #[test]
    fn always_restarts_until_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let c = create(&rt, "loop", &["sh", "-c", "exit 0"], |h| {
            h.restart_policy = policy("always", 0)
        });
        let (_told, ready) = crate::process::pipe().unwrap();
        std::thread::scope(|s| {
            let supervisor = s.spawn(|| rt.supervise(&c.id, ready.into_raw_fd(), false));
            wait_for(&rt, &c.id, |r| r.state.restart_count >= 2);
            rt.stop("loop", Some(1)).unwrap();
            assert_eq!(supervisor.join().unwrap().unwrap(), 0);
        });
        let runs = fake.calls_of("run");
        let rec = rt.containers().load(&c.id).unwrap();
        assert_eq!(rec.state.status, Status::Exited);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(fake.calls_of("run"), runs, "started again after the stop");
        // A user's start clears the stop request: the policy applies again.
        rt.clear_stop_request(&c.id);
        assert!(!rt.stop_requested(&c.id));
    }
}
