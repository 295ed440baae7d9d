//! `docker wait` and the Engine API's `POST /containers/{id}/wait`: block until a container
//! reaches the condition asked for and return its exit code. The exit code comes from the
//! `die` event in the journal, so it is known even when the container removes itself
//! (`--rm`) right after exiting; the record is looked at too, in case its monitor was killed
//! before it could say so.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;
use crate::process::pid_alive;
use crate::record::{ContainerRecord, Status};

/// Docker's wait conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitCondition {
    /// Return at once if it is not running, else when it exits.
    #[default]
    NotRunning,
    /// Return when it exits next (the docker CLI asks for this before it starts one).
    NextExit,
    /// Return once it is removed.
    Removed,
}

impl std::str::FromStr for WaitCondition {
    type Err = Error;

    fn from_str(s: &str) -> Result<WaitCondition> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(Error::Invalid(format!("invalid condition: \"{other}\""))),
        }
    }
}

/// How often the record is looked at between journal polls.
const LOOK: Duration = Duration::from_millis(20);

/// A wait that has begun: events from its start on count. Made by `Runtime::waiter`, so a
/// server can answer that the wait is registered before it blocks (the docker CLI starts the
/// container once it knows).
pub struct Waiter {
    c: ContainerRecord,
    condition: WaitCondition,
    journal: berth_events::Follower,
    /// Running when the wait began: its exit, whenever it comes, ends a `NotRunning` wait.
    was_running: bool,
}

impl Runtime {
    /// `docker wait`: blocks until the container exits, returns its exit code.
    pub fn wait(&self, key: &str) -> Result<i32> {
        self.wait_for(key, WaitCondition::NotRunning)
    }

    /// Blocks until the container named by `key` meets `condition`; its exit code.
    pub fn wait_for(&self, key: &str, condition: WaitCondition) -> Result<i32> {
        let w = self.waiter(key, condition)?;
        Ok(w.wait(self, &|| false).unwrap_or(-1))
    }

    /// Begins a wait for the container named by `key`.
    pub fn waiter(&self, key: &str, condition: WaitCondition) -> Result<Waiter> {
        // Following first: a `die` written while the record is read is not missed.
        let journal = self.journal().follow();
        let c = self.find(key)?;
        Ok(Waiter {
            was_running: running(&c),
            c,
            condition,
            journal,
        })
    }
}

fn running(r: &ContainerRecord) -> bool {
    r.state.status == Status::Running && (pid_alive(r.state.pid) || pid_alive(r.state.monitor_pid))
}

impl Waiter {
    /// Blocks until the condition is met (the exit code) or `give_up` says so (`None`).
    pub fn wait(mut self, rt: &Runtime, give_up: &dyn Fn() -> bool) -> Option<i32> {
        let (c, condition) = (&self.c, self.condition);
        if condition == WaitCondition::NotRunning && !self.was_running {
            return Some(if c.state.status == Status::Running {
                -1
            } else {
                c.state.exit_code
            });
        }
        let mut exit_code = None;
        loop {
            for e in self.journal.poll() {
                if e.kind != "container" || e.actor.id != c.id {
                    continue;
                }
                match e.action.as_str() {
                    "die" => {
                        let code = exit_code_of(&e).unwrap_or(-1);
                        if condition != WaitCondition::Removed {
                            return Some(code);
                        }
                        exit_code = Some(code);
                    }
                    "destroy" => return Some(exit_code.unwrap_or(c.state.exit_code)),
                    _ => {}
                }
            }
            let r = match rt.containers().load(&c.id) {
                Err(_) => return Some(exit_code.unwrap_or(c.state.exit_code)),
                Ok(r) => r,
            };
            // Not `running(c)` now: a container that was running and has exited since is
            // exactly the one whose exit we are waiting for.
            let ran_since = r.state.started_at != c.state.started_at || self.was_running;
            if condition != WaitCondition::Removed && ran_since {
                // Its monitor was killed: nobody will record an exit. (Unless it recorded
                // the exit and went just after the read: then the next look sees it.)
                if r.state.status == Status::Running && !running(&r) {
                    match rt.containers().load(&c.id) {
                        Ok(now) if now.state.status == Status::Running => return Some(-1),
                        _ => continue,
                    }
                }
                // Exited without a journal entry (it could not be written), or the die event
                // is a write behind the record: one more look first.
                if matches!(r.state.status, Status::Exited | Status::Dead)
                    && r.state.finished_at != c.state.finished_at
                {
                    // Its monitor writes `die` just after the record: while it lives (for at
                    // most half a second), the journal is looked at again.
                    let until = std::time::Instant::now() + Duration::from_millis(500);
                    loop {
                        let monitor_alive = pid_alive(r.state.monitor_pid);
                        self.journal.wait_for_append(LOOK);
                        let code = self
                            .journal
                            .poll()
                            .iter()
                            .filter(|e| e.actor.id == c.id && e.action == "die")
                            .find_map(exit_code_of);
                        if code.is_some() || !monitor_alive || std::time::Instant::now() >= until {
                            return Some(code.unwrap_or(r.state.exit_code));
                        }
                    }
                }
            }
            if give_up() {
                return None;
            }
            // Woken by the journal's next append (a die or destroy), else a look anyway.
            self.journal.wait_for_append(LOOK);
        }
    }
}

fn exit_code_of(e: &berth_events::Event) -> Option<i32> {
    e.actor.attributes.get("exitCode")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A container that exits just after the wait began, with its `die` event missing:
    /// the record's exit ends the wait (it used to wait forever once the process was gone).
    #[test]
    fn an_exit_just_after_the_wait_began_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(dir.path()).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut rec = ContainerRecord {
            id: "a".repeat(64),
            name: "quick".into(),
            created: crate::record::now(),
            image: "busybox".into(),
            image_id: String::new(),
            lower_dirs: Vec::new(),
            config: Default::default(),
            state: Default::default(),
            host_config: None,
        };
        rec.state.status = Status::Running;
        rec.state.pid = child.id() as i32;
        rec.state.started_at = crate::record::now();
        std::fs::create_dir_all(rt.containers().dir(&rec.id)).unwrap();
        rt.containers().save(&rec).unwrap();
        let w = rt.waiter("quick", WaitCondition::NotRunning).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        rec.state.status = Status::Exited;
        rec.state.pid = 0;
        rec.state.exit_code = 7;
        rec.state.finished_at = crate::record::now();
        rt.containers().save(&rec).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let rt2 = Runtime::open(dir.path()).unwrap();
        std::thread::spawn(move || {
            let _ = tx.send(w.wait(&rt2, &|| false));
        });
        let got = rx.recv_timeout(Duration::from_secs(10));
        assert_eq!(got, Ok(Some(7)));
    }

    #[test]
    fn conditions_parse_as_dockers() {
        assert_eq!(
            "".parse::<WaitCondition>().unwrap(),
            WaitCondition::NotRunning
        );
        assert_eq!(
            "next-exit".parse::<WaitCondition>().unwrap(),
            WaitCondition::NextExit
        );
        assert_eq!(
            "removed".parse::<WaitCondition>().unwrap(),
            WaitCondition::Removed
        );
        let e = "soon".parse::<WaitCondition>().unwrap_err();
        assert_eq!(e.to_string(), "invalid condition: \"soon\"");
    }
}
