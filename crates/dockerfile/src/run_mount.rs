//! `RUN --mount=…` values, parsed as BuildKit reads them: `type=cache,target=/root/.cache,id=pip`
//! (its CSV form, with `dst`/`destination` and `src` as aliases). What a mount means at build
//! time (cache directories, binds, secrets) is the builder's business.

use std::collections::BTreeMap;

/// One parsed `--mount` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMount {
    /// `bind` (the default), `cache`, `tmpfs` or `secret`.
    pub kind: String,
    pub target: String,
    /// The other `key=value` fields, keys lower-cased and aliases resolved.
    pub fields: BTreeMap<String, String>,
}

impl RunMount {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.fields.get(k).map(String::as_str)
    }

    /// `ro`, `readonly`, `rw`, `readwrite` given bare or as `=true|false`.
    fn flag(&self, k: &str) -> Option<bool> {
        self.fields.get(k).map(|v| v.is_empty() || v == "true")
    }

    /// Whether the mount is writable (`bind` defaults to read-only, the others to writable).
    pub fn writable(&self) -> bool {
        if let Some(ro) = self.flag("ro").or(self.flag("readonly")) {
            return !ro;
        }
        if let Some(rw) = self.flag("rw").or(self.flag("readwrite")) {
            return rw;
        }
        self.kind != "bind"
    }

    /// A `u32` field (`uid`, `gid`: `radix` 10) or an octal `mode` (`radix` 8).
    pub fn number(&self, k: &str, radix: u32, default: u32) -> Result<u32, String> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => {
                u32::from_str_radix(v, radix).map_err(|_| format!("{k}={v}: expected a number"))
            }
        }
    }

    /// Parses one `--mount` value.
    pub fn parse(value: &str) -> Result<RunMount, String> {
        let mut fields = BTreeMap::new();
        for part in value.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let k = k.to_ascii_lowercase();
            let k = match k.as_str() {
                "dst" | "destination" => "target".to_string(),
                "src" => "source".to_string(),
                _ => k,
            };
            fields.insert(k, v.to_string());
        }
        let kind = fields.remove("type").unwrap_or_else(|| "bind".into());
        let known: &[&str] = match kind.as_str() {
            "bind" => &[
                "target",
                "source",
                "from",
                "ro",
                "readonly",
                "rw",
                "readwrite",
            ],
            "cache" => &[
                "target",
                "id",
                "sharing",
                "from",
                "source",
                "mode",
                "uid",
                "gid",
                "ro",
                "readonly",
                "rw",
                "readwrite",
            ],
            "tmpfs" => &["target", "size"],
            "secret" => &["target", "id", "required", "mode", "uid", "gid", "env"],
            "ssh" => &["target", "id", "required", "mode", "uid", "gid"],
            other => {
                return Err(format!(
                    "unsupported mount type {other:?} (expected bind, cache, tmpfs, secret or ssh)"
                ))
            }
        };
        if let Some(k) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("unexpected key {k:?} in a type={kind} mount"));
        }
        let target = match (fields.remove("target"), kind.as_str()) {
            (Some(t), _) if !t.is_empty() => t,
            (_, "secret") => {
                let id = fields.get("id").cloned().unwrap_or_default();
                if id.is_empty() {
                    return Err("a secret mount needs an id or a target".into());
                }
                format!("/run/secrets/{id}")
            }
            // The builder numbers them: /run/buildkit/ssh_agent.N.
            (_, "ssh") => String::new(),
            _ => return Err(format!("a type={kind} mount needs target=PATH")),
        };
        Ok(RunMount {
            kind,
            target,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RunMount;

    #[test]
    fn mount_values_parse_as_buildkit_writes_them() {
        let parse = RunMount::parse;
        let m = parse("type=cache,target=/root/.cache/pip,id=pip,sharing=locked").unwrap();
        assert_eq!(m.kind, "cache");
        assert_eq!(m.target, "/root/.cache/pip");
        assert!(m.writable());
        let b = parse("source=src,dst=/src").unwrap();
        assert_eq!((b.kind.as_str(), b.get("source")), ("bind", Some("src")));
        assert!(!b.writable());
        assert!(parse("type=bind,target=/x,rw").unwrap().writable());
        assert!(!parse("type=cache,target=/x,ro=true").unwrap().writable());
        assert_eq!(
            parse("type=secret,id=token").unwrap().target,
            "/run/secrets/token"
        );
        assert!(parse("type=cache").unwrap_err().contains("needs target"));
        assert!(parse("type=tmpfs,target=/t,bogus=1")
            .unwrap_err()
            .contains("bogus"));
        let ssh = parse("type=ssh,id=gh,required=true").unwrap();
        assert_eq!((ssh.kind.as_str(), ssh.target.as_str()), ("ssh", ""));
        assert!(parse("type=ssh,src=x").unwrap_err().contains("\"source\""));
        assert!(parse("type=nfs,target=/x")
            .unwrap_err()
            .contains("unsupported mount type"));
        let c = parse("type=cache,target=/c,mode=0700,uid=12").unwrap();
        assert_eq!(c.number("mode", 8, 0o755), Ok(0o700));
        assert_eq!(c.number("uid", 10, 0), Ok(12));
        assert_eq!(c.number("gid", 10, 7), Ok(7));
        assert!(parse("type=cache,target=/c,uid=x")
            .unwrap()
            .number("uid", 10, 0)
            .is_err());
    }
}
