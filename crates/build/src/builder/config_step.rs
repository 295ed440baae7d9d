//! The instructions that only change the image config: ENV, LABEL, CMD, ENTRYPOINT, SHELL,
//! EXPOSE, VOLUME, USER, STOPSIGNAL, MAINTAINER, ONBUILD, HEALTHCHECK.

use std::collections::BTreeMap;

use berth_dockerfile::instructions::{Command, HealthcheckCommand};
use berth_dockerfile::Instruction;
use berth_image::config::{Empty, Healthcheck};

use super::{Builder, State};
use crate::error::Result;
use crate::stages::step_error;

impl Builder<'_> {
    /// What a config-only instruction's result depends on besides its text: the values its
    /// variables expand to.
    pub(super) fn meta_desc(&self, s: &State, inst: &Instruction) -> Result<String> {
        let mut out = String::new();
        for a in &inst.args {
            out.push_str(&self.expand(s, inst, a).unwrap_or_default());
            out.push('\0');
        }
        Ok(out)
    }

    /// ENV, LABEL, CMD, ENTRYPOINT, EXPOSE, VOLUME, USER, STOPSIGNAL, SHELL, HEALTHCHECK,
    /// ONBUILD, MAINTAINER: changes to the image config.
    pub(super) fn config_step(
        &self,
        s: &mut State,
        inst: &Instruction,
        cmd: &Command,
    ) -> Result<()> {
        let bad = |m: &str| step_error(&self.file, inst, m);
        match cmd {
            Command::Env(pairs) | Command::Label(pairs) => {
                let env = s.env();
                let mut expanded = Vec::new();
                for (k, v) in pairs {
                    let k = self
                        .lex
                        .process_word(k, &env)
                        .map_err(|e| bad(&e.to_string()))?;
                    let v = self
                        .lex
                        .process_word(v, &env)
                        .map_err(|e| bad(&e.to_string()))?;
                    expanded.push((k, v));
                }
                for (k, v) in expanded {
                    if matches!(cmd, Command::Env(_)) {
                        let e = s.cc().env.get_or_insert_with(Vec::new);
                        let prefix = format!("{k}=");
                        match e.iter_mut().find(|x| x.starts_with(&prefix)) {
                            Some(x) => *x = format!("{k}={v}"),
                            None => e.push(format!("{k}={v}")),
                        }
                    } else {
                        s.cc().labels.get_or_insert_with(BTreeMap::new).insert(k, v);
                    }
                }
            }
            Command::Cmd(line) | Command::Entrypoint(line) => {
                let words = if line.exec_form {
                    line.words.clone()
                } else {
                    let mut c = s.shell();
                    c.push(line.words.join(" "));
                    c
                };
                if matches!(cmd, Command::Cmd(_)) {
                    s.cc().cmd = Some(words);
                    s.cmd_set = true;
                } else {
                    s.cc().entrypoint = Some(words);
                    if !s.cmd_set {
                        s.cc().cmd = None;
                    }
                }
            }
            Command::Shell(words) => s.cc().shell = Some(words.clone()),
            Command::Expose(words) => {
                let mut ports = Vec::new();
                for a in words {
                    for p in self
                        .lex
                        .process_words(a, &s.env())
                        .map_err(|e| bad(&e.to_string()))?
                    {
                        let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                        let proto = proto.to_ascii_lowercase();
                        let ok = num.parse::<u16>().is_ok()
                            || num.split_once('-').is_some_and(|(a, b)| {
                                a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok()
                            });
                        if !ok || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
                            return Err(bad(&format!("invalid containerPort: {p}")));
                        }
                        ports.push(format!("{num}/{proto}"));
                    }
                }
                let e = s.cc().exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in ports {
                    e.insert(p, Empty {});
                }
            }
            Command::Volume(words) => {
                let mut vols = Vec::new();
                for a in words {
                    let v = self.expand(s, inst, a)?;
                    if v.is_empty() {
                        return Err(bad("VOLUME specified can not be an empty string"));
                    }
                    vols.push(v);
                }
                let e = s.cc().volumes.get_or_insert_with(BTreeMap::new);
                for v in vols {
                    e.insert(v, Empty {});
                }
            }
            Command::User(u) => {
                let u = self.expand(s, inst, u)?;
                s.cc().user = Some(u);
            }
            Command::StopSignal(sig) => {
                let sig = self.expand(s, inst, sig)?;
                s.cc().stop_signal = Some(sig);
            }
            Command::Maintainer(m) => s.config.author = Some(m.clone()),
            Command::Onbuild(o) => {
                s.cc()
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(o.trigger.clone());
            }
            Command::Healthcheck(HealthcheckCommand::None) => {
                s.cc().healthcheck = Some(Healthcheck {
                    test: Some(vec!["NONE".into()]),
                    ..Healthcheck::default()
                });
            }
            Command::Healthcheck(HealthcheckCommand::Cmd {
                command,
                interval,
                timeout,
                start_period,
                start_interval,
                retries,
            }) => {
                let test = if command.exec_form {
                    std::iter::once("CMD".to_string())
                        .chain(command.words.iter().cloned())
                        .collect()
                } else {
                    vec!["CMD-SHELL".to_string(), command.words.join(" ")]
                };
                // Checked before the build started (`check_supported`).
                let dur = |v: &Option<String>| {
                    v.as_deref()
                        .and_then(berth_image::config::parse_go_duration)
                };
                s.cc().healthcheck = Some(Healthcheck {
                    test: Some(test),
                    interval: dur(interval),
                    timeout: dur(timeout),
                    start_period: dur(start_period),
                    start_interval: dur(start_interval),
                    retries: retries.map(i64::from),
                });
            }
            Command::From(_)
            | Command::Run(_)
            | Command::Copy(_)
            | Command::Add(_)
            | Command::Arg(_)
            | Command::Workdir(_) => {
                return Err(bad("not an instruction that only changes the image config"))
            }
        }
        Ok(())
    }
}
