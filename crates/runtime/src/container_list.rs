//! `docker ps` and the Engine API's `GET /containers/json`: which containers a query selects
//! (Docker's filters and their rules) and the Status text Docker shows for each. Front ends
//! only parse their input into `ListOptions` and render what comes back.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;
use crate::record::{ContainerRecord, Status};

/// Docker's filter keys for containers that berth supports.
const FILTER_KEYS: [&str; 11] = [
    "ancestor", "before", "exited", "health", "id", "label", "name", "network", "since", "status",
    "volume",
];

/// Docker's container status words, as the `status` filter accepts them.
const STATUS_WORDS: [&str; 7] = [
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Filters as Docker applies them: a container must match every key, and for a key any one
/// of its values (`--filter status=exited --filter status=created` lists both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// From the CLI's `--filter key=value` arguments.
    pub fn parse_args(args: &[String]) -> Result<Filters> {
        let mut f = Filters::default();
        for a in args {
            let (k, v) = a.split_once('=').ok_or_else(|| {
                Error::Invalid(format!("bad format of filter (expected name=value): {a}"))
            })?;
            f.add(k, v);
        }
        Ok(f)
    }

    pub fn add(&mut self, key: &str, value: &str) {
        self.0
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.0.get(key).map(Vec::as_slice)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Stopped containers too (`-a`); implied by `limit`.
    pub all: bool,
    /// The newest N only (`-n`, `-l`).
    pub limit: Option<usize>,
    pub filters: Filters,
}

impl Runtime {
    /// The containers `o` selects, newest first, as Docker's daemon selects them.
    pub fn list_containers(&self, o: &ListOptions) -> Result<Vec<ContainerRecord>> {
        let f = &o.filters;
        for key in f.0.keys() {
            if !FILTER_KEYS.contains(&key.as_str()) {
                return Err(Error::Invalid(format!("invalid filter '{key}'")));
            }
        }
        for v in f.values("status").unwrap_or_default() {
            if !STATUS_WORDS.contains(&v.as_str()) {
                return Err(Error::Invalid(format!("invalid filter 'status={v}'")));
            }
        }
        for v in f.values("health").unwrap_or_default() {
            if !matches!(v.as_str(), "starting" | "healthy" | "unhealthy" | "none") {
                return Err(Error::Invalid(format!(
                    "Unrecognised filter value for health: {v}"
                )));
            }
        }
        let mut exited = Vec::new();
        for v in f.values("exited").unwrap_or_default() {
            exited.push(
                v.parse::<i32>()
                    .map_err(|_| Error::Invalid(format!("invalid filter 'exited={v}'")))?,
            );
        }
        let all = self.list()?;
        // before/since name containers; their creation times bound the list.
        let created_of = |key: &str| -> Result<String> { Ok(self.find(key)?.created) };
        let before = match f.values("before").and_then(|v| v.last()) {
            Some(k) => Some(created_of(k)?),
            None => None,
        };
        let since = match f.values("since").and_then(|v| v.last()) {
            Some(k) => Some(created_of(k)?),
            None => None,
        };
        // As Docker's daemon: a status filter looks at stopped containers too.
        let show_all = o.all || o.limit.is_some() || f.0.contains_key("status");
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| -> bool {
            f.values(key).is_none_or(|vs| vs.iter().any(|v| pred(v)))
        };
        // Labels are the exception: every label filter must match (moby's MatchKVList).
        let every = |key: &str, pred: &dyn Fn(&str) -> bool| -> bool {
            f.values(key).is_none_or(|vs| vs.iter().all(|v| pred(v)))
        };
        let mut out = Vec::new();
        for c in all {
            if !show_all && !c.state.running() {
                continue;
            }
            if before.as_ref().is_some_and(|t| c.created >= *t)
                || since.as_ref().is_some_and(|t| c.created <= *t)
            {
                continue;
            }
            let exit_matches =
                c.state.status == Status::Exited && exited.contains(&c.state.exit_code);
            if !exited.is_empty() && !exit_matches {
                continue;
            }
            let networks = self.networks_of(&c);
            let matches = any("status", &|v| c.state.docker_status() == v)
                && any("name", &|v| c.name.contains(v.trim_start_matches('/')))
                && any("id", &|v| c.id.starts_with(v))
                && every("label", &|v| match v.split_once('=') {
                    Some((k, val)) => c.config.labels.get(k).is_some_and(|x| x == val),
                    None => c.config.labels.contains_key(v),
                })
                && any("ancestor", &|v| ancestor_matches(&c, v))
                && any("health", &|v| self.health_word(&c) == v)
                && any("network", &|v| {
                    networks
                        .iter()
                        .any(|(id, name)| name == v || id.starts_with(v))
                })
                && any("volume", &|v| {
                    c.config
                        .mounts
                        .iter()
                        .any(|m| m.source == v || m.target == v)
                });
            if matches {
                out.push(c);
            }
        }
        if let Some(n) = o.limit {
            out.truncate(n);
        }
        Ok(out)
    }

    /// Docker's Status column: `Up 5 minutes (healthy)`, `Exited (0) 2 hours ago`, ….
    pub fn status_text(&self, c: &ContainerRecord) -> String {
        let since = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| {
                    chrono::Utc::now()
                        .signed_duration_since(d)
                        .num_milliseconds()
                        .max(0) as f64
                        / 1000.0
                })
                .unwrap_or(0.0)
        };
        match c.state.status {
            Status::Running if c.state.paused => {
                format!("Up {} (Paused)", human_duration(since(&c.state.started_at)))
            }
            Status::Running => {
                let up = format!("Up {}", human_duration(since(&c.state.started_at)));
                match self.health(c).map(|h| h.status) {
                    Some(s) if s == "starting" => format!("{up} (health: starting)"),
                    Some(s) => format!("{up} ({s})"),
                    None => up,
                }
            }
            Status::Restarting => format!(
                "Restarting ({}) {} ago",
                c.state.exit_code,
                human_duration(since(&c.state.finished_at))
            ),
            // A container whose monitor was killed has no known end time.
            Status::Exited if c.state.finished_at == crate::record::ZERO_TIME => {
                format!("Exited ({})", c.state.exit_code)
            }
            Status::Exited => format!(
                "Exited ({}) {} ago",
                c.state.exit_code,
                human_duration(since(&c.state.finished_at))
            ),
            Status::Created => "Created".into(),
            Status::Removing => "Removal In Progress".into(),
            Status::Dead => "Dead".into(),
        }
    }

    /// One container as `GET /containers/json` lists it (Docker's `ContainerSummary`), with
    /// the names others' links give it (`Runtime::link_names`).
    pub fn container_summary(
        &self,
        c: &ContainerRecord,
        link_names: &[String],
    ) -> serde_json::Value {
        use serde_json::{json, Value};
        let inspect = self.container_json(c);
        let created = chrono::DateTime::parse_from_rfc3339(&c.created)
            .map(|t| t.timestamp())
            .unwrap_or(0);
        let mut ports: Vec<Value> = Vec::new();
        if c.state.status == Status::Running {
            for p in self.networking().published(&c.id) {
                ports.push(json!({
                    "IP": p.host_ip.to_string(),
                    "PrivatePort": p.container_port,
                    "PublicPort": p.host_port,
                    "Type": p.proto.as_str(),
                }));
            }
        }
        for e in &c.config.exposed {
            let (port, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
            let port: u16 = port.parse().unwrap_or(0);
            if !ports
                .iter()
                .any(|p| p["PrivatePort"] == port && p["Type"] == proto)
            {
                ports.push(json!({"PrivatePort": port, "Type": proto}));
            }
        }
        let mounts: Vec<Value> = inspect["Mounts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut m| {
                if let Some(o) = m.as_object_mut() {
                    o.insert("Mode".into(), "".into());
                    o.insert("Propagation".into(), "".into());
                    if o.get("Name").is_some_and(Value::is_null) {
                        o.remove("Name");
                    }
                }
                m
            })
            .collect();
        json!({
            "Id": c.id,
            "Names": std::iter::once(format!("/{}", c.name)).chain(link_names.iter().cloned()).collect::<Vec<_>>(),
            "Image": c.image,
            "ImageID": c.image_id,
            "Command": c.config.args.join(" "),
            "Created": created,
            "Ports": ports,
            "Labels": c.config.labels,
            "State": c.state.docker_status(),
            "Status": self.status_text(c),
            "HostConfig": {"NetworkMode": c.config.network},
            "NetworkSettings": {"Networks": inspect["NetworkSettings"]["Networks"]},
            "Mounts": mounts,
        })
    }

    /// The health a running container with a check last recorded.
    pub fn health(&self, c: &ContainerRecord) -> Option<crate::health::Health> {
        crate::health::Probe::from_config(c.config.healthcheck.as_ref())?;
        c.state
            .running()
            .then(|| crate::health::read(&self.containers().dir(&c.id)))
            .flatten()
    }

    /// The `health` filter's word: a status, or `none` without a check.
    fn health_word(&self, c: &ContainerRecord) -> String {
        self.health(c)
            .map(|h| h.status)
            .unwrap_or_else(|| "none".into())
    }

    /// The names of the networks the container is on (`ps --format {{.Networks}}`).
    pub fn network_names(&self, c: &ContainerRecord) -> Vec<String> {
        self.networks_of(c).into_iter().map(|(_, n)| n).collect()
    }

    /// (id, name) of every network the container is on: its primary one and those it was
    /// connected to.
    fn networks_of(&self, c: &ContainerRecord) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .networking()
            .container_endpoints(&c.id)
            .into_iter()
            .map(|(n, _)| (n.id, n.name))
            .collect();
        // In another container's network, the container is on no network of its own.
        if !out.iter().any(|(_, name)| *name == c.config.network)
            && !c.config.network.starts_with("container:")
        {
            out.push((String::new(), c.config.network.clone()));
        }
        out
    }
}

/// Docker's `ancestor` filter: the image as named, its ID (or a prefix of it).
fn ancestor_matches(c: &ContainerRecord, v: &str) -> bool {
    let hex = c.image_id.trim_start_matches("sha256:");
    c.image == v
        || c.image == format!("{v}:latest")
        || c.image_id == v
        || (v.len() >= 4 && hex.starts_with(v.trim_start_matches("sha256:")))
}

/// go-units' HumanDuration, which Docker's Status and CREATED columns use.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds as i64;
    let minutes = (seconds / 60.0) as i64;
    let hours = (seconds / 3600.0 + 0.5) as i64;
    if seconds < 1.0 {
        "Less than a second".into()
    } else if s == 1 {
        "1 second".into()
    } else if s < 60 {
        format!("{s} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", (seconds / 3600.0 / 24.0 / 365.0) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_group_values_by_key() {
        let f = Filters::parse_args(&[
            "status=exited".into(),
            "status=created".into(),
            "label=a=b".into(),
        ])
        .unwrap();
        assert_eq!(f.values("status").unwrap(), ["exited", "created"]);
        assert_eq!(f.values("label").unwrap(), ["a=b"]);
        let e = Filters::parse_args(&["status".into()]).unwrap_err();
        assert!(e.to_string().contains("expected name=value"), "{e}");
    }

    #[test]
    fn durations_read_as_go_units() {
        assert_eq!(human_duration(0.2), "Less than a second");
        assert_eq!(human_duration(59.0), "59 seconds");
        assert_eq!(human_duration(90.0), "About a minute");
        assert_eq!(human_duration(3.0 * 3600.0), "3 hours");
        assert_eq!(human_duration(3.0 * 86400.0), "3 days");
    }

    /// Just started, before the first probe: "starting", also over a previous run's state
    /// (compose's service_healthy once took a missing state for "no check" and went on at
    /// once). The start writes it before the record says running (`health::begin`).
    #[test]
    fn a_checked_container_is_starting_until_its_first_probe() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(dir.path()).unwrap();
        let mut rec = ContainerRecord {
            id: "b".repeat(64),
            name: "fresh".into(),
            created: crate::record::now(),
            image: "busybox".into(),
            image_id: String::new(),
            lower_dirs: Vec::new(),
            config: Default::default(),
            state: Default::default(),
            host_config: None,
        };
        rec.state.status = crate::record::Status::Running;
        assert!(rt.health(&rec).is_none(), "no check, no health");
        rec.config.healthcheck = Some(berth_image::config::Healthcheck {
            test: Some(vec!["CMD".into(), "true".into()]),
            ..Default::default()
        });
        let dir = rt.containers().dir(&rec.id);
        std::fs::create_dir_all(&dir).unwrap();
        let stale = crate::health::Health {
            status: "healthy".into(),
            ..Default::default()
        };
        std::fs::write(
            dir.join(crate::health::FILE),
            serde_json::to_vec(&stale).unwrap(),
        )
        .unwrap();
        crate::health::begin(&dir).unwrap();
        assert_eq!(rt.health(&rec).unwrap().status, "starting");
        rec.state.status = crate::record::Status::Exited;
        assert!(rt.health(&rec).is_none(), "not running, no health");
    }
}
