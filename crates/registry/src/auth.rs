//! Credentials in Docker's `config.json` form (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`), so logins made with Docker work here and the other way round:
//! `auths` entries, or the `credsStore` / `credHelpers` helper programs
//! (`docker-credential-NAME get|store|erase`). And the WWW-Authenticate challenge parsing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// A user name and password (or token). Never printed: Debug hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ username: {:?}, password: <hidden> }}",
            self.username
        )
    }
}

/// The registry a `login` server names: `docker.io` for Docker Hub's spellings
/// (`https://index.docker.io/v1/`, `registry-1.docker.io`), the host otherwise.
pub fn registry_of(server: Option<&str>) -> String {
    let s = server.unwrap_or("docker.io");
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let s = s.strip_suffix("/v1").unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        h => h.to_string(),
    }
}

/// Docker's key for a registry in config.json: Docker Hub is `https://index.docker.io/v1/`.
pub fn config_key(registry: &str) -> String {
    if registry == "docker.io"
        || registry == "index.docker.io"
        || registry == "registry-1.docker.io"
    {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    }
}

pub fn config_path() -> PathBuf {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => PathBuf::from(d).join("config.json"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".docker/config.json"),
    }
}

fn read_config() -> Result<Value> {
    let p = config_path();
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Config {
            path: p,
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(Error::Io {
            what: "read",
            path: p,
            source: e,
        }),
    }
}

/// Writes config.json atomically, readable by its owner only.
fn write_config(v: &Value) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let p = config_path();
    let io = |what: &'static str, e: std::io::Error| Error::Io {
        what,
        path: p.clone(),
        source: e,
    };
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("create directory", e))?;
    }
    let tmp = p.with_extension(format!("json.tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io("create", e))?;
    let body = serde_json::to_vec_pretty(v).map_err(|e| Error::Credentials(e.to_string()))?;
    f.write_all(&body).map_err(|e| io("write", e))?;
    f.sync_all().map_err(|e| io("sync", e))?;
    std::fs::rename(&tmp, &p).map_err(|e| io("rename", e))
}

/// The helper program configured for a registry, if any.
fn helper_for(cfg: &Value, key: &str, registry: &str) -> Option<String> {
    let helpers = &cfg["credHelpers"];
    helpers[registry]
        .as_str()
        .or_else(|| helpers[key].as_str())
        .or_else(|| cfg["credsStore"].as_str())
        .filter(|s| !s.is_empty())
        .map(|s| format!("docker-credential-{s}"))
}

fn run_helper(helper: &str, verb: &str, input: &str) -> Result<(bool, String)> {
    let mut child = Command::new(helper)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Credentials(format!("cannot run {helper}: {e}")))?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Credentials(format!("{helper}: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok((out.status.success(), text))
}

/// Credentials for a registry, from config.json or its credential helper.
pub fn lookup(registry: &str) -> Result<Option<Credentials>> {
    let cfg = read_config()?;
    let key = config_key(registry);
    if let Some(helper) = helper_for(&cfg, &key, registry) {
        let (ok, out) = run_helper(&helper, "get", &key)?;
        if !ok {
            return Ok(None); // "credentials not found in native keychain"
        }
        let v: Value = serde_json::from_str(&out)
            .map_err(|e| Error::Credentials(format!("{helper} get: {e}")))?;
        return Ok(Some(Credentials {
            username: v["Username"].as_str().unwrap_or_default().to_string(),
            password: v["Secret"].as_str().unwrap_or_default().to_string(),
        }));
    }
    let auths = &cfg["auths"];
    let entry = [
        key.clone(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ]
    .iter()
    .find_map(|k| auths.get(k).cloned());
    let Some(entry) = entry else {
        return Ok(None);
    };
    if let Some(a) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .map_err(|_| Error::Credentials(format!("bad auth entry for {key} in config.json")))?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (u, p) = text.split_once(':').ok_or_else(|| {
            Error::Credentials(format!("bad auth entry for {key} in config.json"))
        })?;
        return Ok(Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    Ok(None)
}

/// Saves credentials (`login`), through the helper if one is configured.
pub fn store(registry: &str, c: &Credentials) -> Result<()> {
    let mut cfg = read_config()?;
    let key = config_key(registry);
    if let Some(helper) = helper_for(&cfg, &key, registry) {
        let input = json!({"ServerURL": key, "Username": c.username, "Secret": c.password});
        let (ok, out) = run_helper(&helper, "store", &input.to_string())?;
        if !ok {
            return Err(Error::Credentials(format!(
                "{helper} store: {}",
                out.trim()
            )));
        }
        return Ok(());
    }
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
    if !cfg["auths"].is_object() {
        cfg["auths"] = json!({});
    }
    cfg["auths"][&key] = json!({ "auth": auth });
    write_config(&cfg)
}

/// Removes saved credentials (`logout`); false if there were none.
pub fn erase(registry: &str) -> Result<bool> {
    let mut cfg = read_config()?;
    let key = config_key(registry);
    if let Some(helper) = helper_for(&cfg, &key, registry) {
        let (ok, _) = run_helper(&helper, "erase", &key)?;
        return Ok(ok);
    }
    let removed = cfg["auths"]
        .as_object_mut()
        .map(|m| m.remove(&key).is_some())
        .unwrap_or(false);
    if removed {
        write_config(&cfg)?;
    }
    Ok(removed)
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer` or `basic`, lower case.
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value);
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_commas_in_quotes() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["scope"], "repository:library/busybox:pull,push");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
    }

    #[test]
    fn credentials_round_trip_through_config_json_0600() {
        let d = tempfile::tempdir().unwrap();
        // SAFETY: tests in this module that touch DOCKER_CONFIG run in this one test.
        unsafe { std::env::set_var("DOCKER_CONFIG", d.path()) };
        assert_eq!(lookup("127.0.0.1:5000").unwrap(), None);
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        store("127.0.0.1:5000", &c).unwrap();
        store("docker.io", &c).unwrap();
        assert_eq!(lookup("127.0.0.1:5000").unwrap(), Some(c.clone()));
        let text = std::fs::read_to_string(d.path().join("config.json")).unwrap();
        assert!(text.contains("https://index.docker.io/v1/"));
        assert!(
            !text.contains("p:w"),
            "stored base64-encoded as Docker does"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{c:?}").contains("p:w"));
        assert!(erase("127.0.0.1:5000").unwrap());
        assert!(!erase("127.0.0.1:5000").unwrap());
        assert_eq!(lookup("127.0.0.1:5000").unwrap(), None);
        assert!(lookup("docker.io").unwrap().is_some());
    }
}
