//! `-c`/`--change` for import and commit: the Dockerfile instructions that only touch the image
//! config (CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, LABEL, USER, VOLUME, STOPSIGNAL, HEALTHCHECK,
//! ONBUILD).

use std::collections::BTreeMap;

use crate::config::{ContainerConfig, Empty};
use crate::error::{Error, Result};

/// Applies one change line to `cfg`.
pub fn apply_change(cfg: &mut ContainerConfig, change: &str) -> Result<()> {
    let bad = |reason: &str| Error::BadChange {
        change: change.to_string(),
        reason: reason.to_string(),
    };
    let line = change.trim();
    let (instr, rest) = match line.split_once(|c: char| c.is_whitespace()) {
        Some((i, r)) => (i, r.trim()),
        None => (line, ""),
    };
    let upper = instr.to_ascii_uppercase();
    if rest.is_empty() && upper != "ONBUILD" {
        return Err(bad(&format!("{upper} requires at least one argument")));
    }
    match upper.as_str() {
        "CMD" => cfg.cmd = Some(command_form(rest, cfg)),
        "ENTRYPOINT" => cfg.entrypoint = Some(command_form(rest, cfg)),
        "WORKDIR" => {
            let dir = unquote(rest);
            let base = cfg.working_dir.clone().unwrap_or_else(|| "/".into());
            cfg.working_dir = Some(if dir.starts_with('/') {
                dir
            } else {
                format!("{}/{}", base.trim_end_matches('/'), dir)
            });
        }
        "USER" => cfg.user = Some(unquote(rest)),
        "STOPSIGNAL" => cfg.stop_signal = Some(unquote(rest)),
        "HEALTHCHECK" => cfg.healthcheck = Some(healthcheck(rest).map_err(|r| bad(&r))?),
        "ENV" => {
            let env = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in key_values(rest).map_err(|r| bad(&r))? {
                let prefix = format!("{k}=");
                env.retain(|e| !e.starts_with(&prefix));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in key_values(rest).map_err(|r| bad(&r))? {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in rest.split_whitespace() {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                let proto = proto.to_ascii_lowercase();
                let ok_num = num.parse::<u16>().is_ok_and(|n| n > 0)
                    || num
                        .split_once('-')
                        .is_some_and(|(a, b)| a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok());
                if !ok_num || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
                    return Err(bad(&format!("invalid port {p:?}: expected PORT[/tcp|/udp|/sctp]")));
                }
                ports.insert(format!("{num}/{proto}"), Empty {});
            }
        }
        "VOLUME" => {
            let vols = cfg.volumes.get_or_insert_with(BTreeMap::new);
            let list = if rest.starts_with('[') {
                serde_json::from_str::<Vec<String>>(rest).map_err(|_| bad("VOLUME: invalid JSON array"))?
            } else {
                rest.split_whitespace().map(str::to_string).collect()
            };
            for v in list {
                vols.insert(v, Empty {});
            }
        }
        "ONBUILD" => {
            if rest.is_empty() {
                return Err(bad("ONBUILD requires an instruction"));
            }
            cfg.on_build.get_or_insert_with(Vec::new).push(rest.to_string());
        }
        _ => {
            return Err(bad(&format!(
                "{instr} is not supported here; expected one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR"
            )))
        }
    }
    Ok(())
}

/// Exec form (`["a","b"]`) if it is a JSON array of strings, else shell form.
fn command_form(rest: &str, cfg: &ContainerConfig) -> Vec<String> {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return v;
        }
    }
    let mut shell = cfg
        .shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    shell.push(rest.to_string());
    shell
}

/// `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D]
/// [--retries=N] CMD command` or `HEALTHCHECK NONE`, as in a Dockerfile.
fn healthcheck(rest: &str) -> std::result::Result<crate::config::Healthcheck, String> {
    let mut hc = crate::config::Healthcheck::default();
    let mut rest = rest.trim();
    while let Some(opt) = rest.strip_prefix("--") {
        let (word, tail) = opt.split_once(char::is_whitespace).unwrap_or((opt, ""));
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| format!("--{word}: expected --{word}=VALUE"))?;
        let dur = || {
            crate::config::parse_go_duration(value)
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("--{key}={value}: expected a duration such as 30s"))
        };
        match key {
            "interval" => hc.interval = Some(dur()?),
            "timeout" => hc.timeout = Some(dur()?),
            "start-period" => hc.start_period = Some(dur()?),
            "start-interval" => hc.start_interval = Some(dur()?),
            "retries" => {
                hc.retries = Some(
                    value
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| format!("--retries={value}: expected a number"))?,
                )
            }
            _ => return Err(format!("unknown flag: --{key}")),
        }
        rest = tail.trim_start();
    }
    let (kind, command) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    match kind.to_ascii_uppercase().as_str() {
        "NONE" if command.trim().is_empty() => hc.test = Some(vec!["NONE".into()]),
        "CMD" if !command.trim().is_empty() => {
            let command = command.trim();
            hc.test = Some(match serde_json::from_str::<Vec<String>>(command) {
                Ok(v) if command.starts_with('[') => {
                    std::iter::once("CMD".to_string()).chain(v).collect()
                }
                _ => vec!["CMD-SHELL".into(), command.to_string()],
            });
        }
        _ => return Err("expected HEALTHCHECK [OPTIONS] CMD command, or HEALTHCHECK NONE".into()),
    }
    Ok(hc)
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')))
    {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// `k=v k2="v 2"` pairs, or the legacy `KEY value with spaces` form.
fn key_values(s: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let first = s.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (k, v) = s
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("{s:?} has no value; expected KEY=VALUE"))?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    let words = split_words(s)?;
    words
        .into_iter()
        .map(|w| {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| format!("{w:?} is not of the form KEY=VALUE"))?;
            if k.is_empty() {
                return Err(format!("{w:?} has an empty key"));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Splits on unquoted whitespace, removing quotes and backslash escapes.
fn split_words(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_changes_like_a_dockerfile() {
        let mut cfg = ContainerConfig::default();
        apply_change(
            &mut cfg,
            "HEALTHCHECK --interval=5s --retries=2 CMD wget -q -O- localhost || exit 1",
        )
        .unwrap();
        let hc = cfg.healthcheck.clone().unwrap();
        assert_eq!(
            hc.test.unwrap(),
            ["CMD-SHELL", "wget -q -O- localhost || exit 1"]
        );
        assert_eq!((hc.interval, hc.retries), (Some(5_000_000_000), Some(2)));
        apply_change(&mut cfg, r#"HEALTHCHECK CMD ["/bin/check", "-q"]"#).unwrap();
        assert_eq!(
            cfg.healthcheck.clone().unwrap().test.unwrap(),
            ["CMD", "/bin/check", "-q"]
        );
        apply_change(&mut cfg, "HEALTHCHECK NONE").unwrap();
        assert_eq!(cfg.healthcheck.clone().unwrap().test.unwrap(), ["NONE"]);
        for bad in [
            "HEALTHCHECK --interval=soon CMD true",
            "HEALTHCHECK --every=5s CMD true",
            "HEALTHCHECK CMD",
            "HEALTHCHECK RUN true",
        ] {
            assert!(apply_change(&mut cfg, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn applies_docker_changes() {
        let mut c = ContainerConfig::default();
        for ch in [
            r#"CMD ["sh", "-c", "echo hi"]"#,
            "ENTRYPOINT /bin/init --x",
            "ENV A=1 B=\"two words\"",
            "ENV A=3",
            "ENV LEGACY some value",
            "WORKDIR /app",
            "WORKDIR sub",
            "EXPOSE 80 53/udp",
            "LABEL a=b \"c d\"=e",
            "USER nobody",
        ] {
            apply_change(&mut c, ch).unwrap();
        }
        assert_eq!(c.cmd.unwrap(), vec!["sh", "-c", "echo hi"]);
        assert_eq!(
            c.entrypoint.unwrap(),
            vec!["/bin/sh", "-c", "/bin/init --x"]
        );
        assert_eq!(
            c.env.unwrap(),
            vec!["B=two words", "A=3", "LEGACY=some value"]
        );
        assert_eq!(c.working_dir.unwrap(), "/app/sub");
        assert_eq!(
            c.exposed_ports.unwrap().keys().cloned().collect::<Vec<_>>(),
            vec!["53/udp", "80/tcp"]
        );
        assert_eq!(c.labels.unwrap()["c d"], "e");
        assert_eq!(c.user.unwrap(), "nobody");
    }

    #[test]
    fn rejects_bad_changes() {
        let mut c = ContainerConfig::default();
        assert!(apply_change(&mut c, "RUN echo")
            .unwrap_err()
            .to_string()
            .contains("RUN is not supported"));
        assert!(apply_change(&mut c, "EXPOSE http").is_err());
        assert!(apply_change(&mut c, "CMD").is_err());
        assert!(apply_change(&mut c, "ENV A=\"unterminated").is_err());
    }
}
