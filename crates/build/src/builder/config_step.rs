//! The instructions that only change the image config: ENV, LABEL, CMD, ENTRYPOINT, SHELL,
//! EXPOSE, VOLUME, USER, STOPSIGNAL, MAINTAINER, ONBUILD, HEALTHCHECK.

use std::collections::BTreeMap;

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
    pub(super) fn config_step(&mut self, s: &mut State, inst: &Instruction) -> Result<()> {
        let bad = |m: &str| step_error(&self.file, inst, m);
        let kw = inst.keyword.as_str();
        if kw != "healthcheck" {
            self.check_flags(inst, &[])?;
        }
        let first = || {
            inst.args
                .first()
                .cloned()
                .ok_or_else(|| bad("requires an argument"))
        };
        match kw {
            "env" | "label" => {
                let env = s.env();
                let mut pairs = Vec::new();
                for t in inst.args.chunks(3) {
                    let k = self
                        .lex
                        .process_word(&t[0], &env)
                        .map_err(|e| bad(&e.to_string()))?;
                    let v = self
                        .lex
                        .process_word(t.get(1).map(String::as_str).unwrap_or(""), &env)
                        .map_err(|e| bad(&e.to_string()))?;
                    pairs.push((k, v));
                }
                for (k, v) in pairs {
                    if kw == "env" {
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
            "cmd" | "entrypoint" => {
                let cmd = if inst.json {
                    inst.args.clone()
                } else {
                    let mut c = s.shell();
                    c.push(inst.args.join(" "));
                    c
                };
                if kw == "cmd" {
                    s.cc().cmd = Some(cmd);
                    s.cmd_set = true;
                } else {
                    s.cc().entrypoint = Some(cmd);
                    if !s.cmd_set {
                        s.cc().cmd = None;
                    }
                }
            }
            "shell" => {
                if !inst.json || inst.args.is_empty() {
                    return Err(bad("SHELL requires the arguments to be in JSON form, as [\"executable\", \"param\"]"));
                }
                s.cc().shell = Some(inst.args.clone());
            }
            "expose" => {
                let mut ports = Vec::new();
                for a in &inst.args {
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
            "volume" => {
                let mut vols = Vec::new();
                for a in &inst.args {
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
            "user" => {
                let u = self.expand(s, inst, &first()?)?;
                s.cc().user = Some(u);
            }
            "stopsignal" => {
                let sig = self.expand(s, inst, &first()?)?;
                s.cc().stop_signal = Some(sig);
            }
            "maintainer" => s.config.author = Some(first()?),
            "onbuild" => {
                let sub = inst
                    .sub
                    .as_ref()
                    .ok_or_else(|| bad("ONBUILD requires an instruction"))?;
                if matches!(sub.keyword.as_str(), "onbuild" | "from" | "maintainer") {
                    return Err(bad(&format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        sub.keyword.to_ascii_uppercase()
                    )));
                }
                let trigger = inst
                    .original
                    .trim()
                    .get(inst.keyword_as_written.len()..)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                s.cc().on_build.get_or_insert_with(Vec::new).push(trigger);
            }
            "healthcheck" => {
                self.check_flags(
                    inst,
                    &[
                        "interval",
                        "timeout",
                        "start-period",
                        "start-interval",
                        "retries",
                    ],
                )?;
                let kind = first()?.to_ascii_uppercase();
                let hc = match kind.as_str() {
                    "NONE" => Healthcheck {
                        test: Some(vec!["NONE".into()]),
                        ..Healthcheck::default()
                    },
                    "CMD" => {
                        let rest = &inst.args[1..];
                        if rest.is_empty() {
                            return Err(bad("HEALTHCHECK CMD requires a command"));
                        }
                        let test = if inst.json {
                            std::iter::once("CMD".to_string())
                                .chain(rest.iter().cloned())
                                .collect()
                        } else {
                            vec!["CMD-SHELL".to_string(), rest.join(" ")]
                        };
                        let dur = |name: &str| -> Result<Option<i64>> {
                            match inst.flag(name) {
                                None => Ok(None),
                                Some(v) => berth_image::config::parse_go_duration(v)
                                    .filter(|d| *d >= 0)
                                    .map(Some)
                                    .ok_or_else(|| bad(&format!("--{name}: invalid duration {v:?} (expected e.g. 30s, 1m30s)"))),
                            }
                        };
                        let retries = match inst.flag("retries") {
                            None => None,
                            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(
                                || bad(&format!("--retries: {v:?} is not a non-negative number")),
                            )?),
                        };
                        Healthcheck {
                            test: Some(test),
                            interval: dur("interval")?,
                            timeout: dur("timeout")?,
                            start_period: dur("start-period")?,
                            start_interval: dur("start-interval")?,
                            retries,
                        }
                    }
                    other => {
                        return Err(bad(&format!(
                            "unknown type {other:?} in HEALTHCHECK (try CMD or NONE)"
                        )))
                    }
                };
                s.cc().healthcheck = Some(hc);
            }
            other => {
                return Err(bad(&format!(
                    "unknown instruction: {} (berth build --check explains)",
                    other.to_ascii_uppercase()
                )))
            }
        }
        Ok(())
    }
}
