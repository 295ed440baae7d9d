//! `compose start|stop|restart|kill|rm|pause|unpause`: the engine's verbs applied to the
//! containers of the services named (all if none), in dependency order (stop: reversed).

use crate::compose_up::{progress, Engine, Progress};
use crate::error::Result;
use crate::project_containers::{project_containers, ServiceContainer};
use crate::project_load::Project;

/// A verb over a project's containers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop {
        timeout: Option<u64>,
    },
    Restart {
        timeout: Option<u64>,
    },
    Kill {
        signal: String,
    },
    /// `rm`: stopped containers only unless `force` (`-s` stops them first).
    Remove {
        stop: bool,
        volumes: bool,
    },
    Pause,
    Unpause,
}

impl Engine<'_> {
    /// The project's containers of `services` (all if empty), dependencies first.
    pub fn containers_of(&self, p: &Project, services: &[String]) -> Result<Vec<ServiceContainer>> {
        let order = if services.is_empty() {
            p.model.services.keys().cloned().collect()
        } else {
            p.services_in_order(services)?
                .into_iter()
                .filter(|s| services.contains(s))
                .collect::<Vec<_>>()
        };
        let order = p.services_in_order(&order)?;
        let mut cs: Vec<ServiceContainer> = project_containers(self.rt, &p.name, false)?
            .into_iter()
            .filter(|c| services.is_empty() || services.contains(&c.service))
            .collect();
        cs.sort_by_key(|c| {
            order
                .iter()
                .position(|s| *s == c.service)
                .unwrap_or(usize::MAX)
        });
        Ok(cs)
    }

    pub fn apply(
        &self,
        p: &Project,
        services: &[String],
        verb: &Verb,
        report: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        // A restart takes along the services that depend on it with `restart: true`.
        let services = match verb {
            Verb::Restart { .. } if !services.is_empty() => p.with_restart_dependents(services),
            _ => services.to_vec(),
        };
        let mut cs = self.containers_of(p, &services)?;
        if !matches!(verb, Verb::Start | Verb::Unpause) {
            cs.reverse();
        }
        for c in cs {
            let rec = self.rt.find(&c.record.id)?;
            let name = rec.name.clone();
            let running = rec.state.running();
            match verb {
                Verb::Start if !running => {
                    report(progress("Container", &name, "Starting"));
                    self.rt.start_detached(&rec.id, self.exe)?;
                    report(progress("Container", &name, "Started"));
                }
                Verb::Stop { timeout } if running => {
                    report(progress("Container", &name, "Stopping"));
                    self.rt.stop(&rec.id, *timeout)?;
                    report(progress("Container", &name, "Stopped"));
                }
                Verb::Restart { timeout } => {
                    report(progress("Container", &name, "Restarting"));
                    if running {
                        self.rt.stop(&rec.id, *timeout)?;
                    }
                    self.rt.start_detached(&rec.id, self.exe)?;
                    report(progress("Container", &name, "Started"));
                }
                Verb::Kill { signal } if running => {
                    report(progress("Container", &name, "Killing"));
                    self.rt.kill(&rec.id, signal)?;
                    report(progress("Container", &name, "Killed"));
                }
                Verb::Remove { stop, volumes } => {
                    if running {
                        if !stop {
                            continue;
                        }
                        report(progress("Container", &name, "Stopping"));
                        self.rt.stop(&rec.id, None)?;
                        report(progress("Container", &name, "Stopped"));
                    }
                    report(progress("Container", &name, "Removing"));
                    self.rt.remove(&rec.id, false, *volumes)?;
                    report(progress("Container", &name, "Removed"));
                }
                Verb::Pause if running && !rec.state.paused => {
                    report(progress("Container", &name, "Pausing"));
                    self.rt.set_paused(&rec.id, true)?;
                    report(progress("Container", &name, "Paused"));
                }
                Verb::Unpause if rec.state.paused => {
                    report(progress("Container", &name, "Unpausing"));
                    self.rt.set_paused(&rec.id, false)?;
                    report(progress("Container", &name, "Unpaused"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
