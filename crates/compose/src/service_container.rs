//! A service as the engine's container request (`ContainerCreate`: Docker's Config,
//! HostConfig and NetworkingConfig), with Compose's labels, and the names Compose gives a
//! project's containers, networks and volumes.

use std::collections::BTreeMap;

use berth_runtime::container_config::{
    EndpointIpamConfig, EndpointSettings, Healthcheck, LogConfig, Mount, RestartPolicy,
    TmpfsOptions, Ulimit, VolumeOptions,
};
use berth_runtime::ContainerCreate;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{
    Command, FileReference, Port, Service, ServiceVolume, StringOrNumber, UlimitValue,
};
use crate::project_load::Project;

pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
pub const LABEL_NUMBER: &str = "com.docker.compose.container-number";
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";
pub const LABEL_CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const LABEL_WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const LABEL_CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const LABEL_NETWORK: &str = "com.docker.compose.network";
pub const LABEL_VOLUME: &str = "com.docker.compose.volume";
pub const LABEL_VERSION: &str = "com.docker.compose.version";
pub const LABEL_DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const LABEL_IMAGE: &str = "com.docker.compose.image";

/// The Compose version berth's labels say it speaks (the file format's, as v2 writes it).
pub const COMPOSE_VERSION: &str = "2.29.0";

/// Where a service volume's data comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum VolumeSource {
    Named(String),
    Bind(String),
    Anonymous,
    Tmpfs,
}

/// A service volume's source, in either syntax.
pub fn volume_source(v: &ServiceVolume) -> VolumeSource {
    match v {
        ServiceVolume::Short(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            let src = parts[0];
            let is_target_only =
                parts.len() == 1 || (parts.len() == 2 && !parts[1].starts_with('/'));
            if is_target_only {
                VolumeSource::Anonymous
            } else if src.starts_with('/') || src.starts_with('.') || src.starts_with('~') {
                VolumeSource::Bind(src.to_string())
            } else {
                VolumeSource::Named(src.to_string())
            }
        }
        ServiceVolume::Long(l) => match (l.kind.as_str(), &l.source) {
            ("volume", Some(s)) if !s.is_empty() => VolumeSource::Named(s.clone()),
            ("volume", _) => VolumeSource::Anonymous,
            ("tmpfs", _) => VolumeSource::Tmpfs,
            (_, s) => VolumeSource::Bind(s.clone().unwrap_or_default()),
        },
    }
}

impl Project {
    /// The engine's name for a network the file calls `key`.
    pub fn network_name(&self, key: &str) -> String {
        match self.model.networks.get(key).and_then(|n| n.as_ref()) {
            Some(n) if n.name.is_some() => n.name.clone().unwrap_or_default(),
            Some(n) if n.external == Some(true) => key.to_string(),
            _ => format!("{}_{key}", self.name),
        }
    }

    /// The engine's name for a volume the file calls `key`.
    pub fn volume_name(&self, key: &str) -> String {
        match self.model.volumes.get(key).and_then(|v| v.as_ref()) {
            Some(v) if v.name.is_some() => v.name.clone().unwrap_or_default(),
            Some(v) if v.external == Some(true) => key.to_string(),
            _ => format!("{}_{key}", self.name),
        }
    }

    /// The networks a service joins, by their keys in the file: `default` if it names none.
    pub fn service_networks(&self, svc: &Service) -> Vec<(String, crate::model::ServiceNetwork)> {
        match &svc.networks {
            Some(n) => {
                let mut e = n.entries();
                // Higher priority first, as Compose connects them.
                e.sort_by_key(|(_, s)| std::cmp::Reverse(s.priority.unwrap_or(0)));
                e
            }
            None => vec![("default".to_string(), Default::default())],
        }
    }

    /// The image a service runs: its `image`, or the name Compose gives a built one.
    pub fn image_of(&self, service: &str, svc: &Service) -> String {
        match &svc.image {
            Some(i) => i.clone(),
            None => format!("{}-{service}", self.name),
        }
    }

    /// The container name of replica `n`.
    pub fn container_name(&self, service: &str, svc: &Service, n: u32) -> String {
        match &svc.container_name {
            Some(c) => c.clone(),
            None => format!("{}-{service}-{n}", self.name),
        }
    }

    /// How many containers the service runs (`deploy.replicas`, `scale`; 1 if neither).
    pub fn replicas(&self, svc: &Service) -> u32 {
        svc.deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .or(svc.scale)
            .unwrap_or(1)
    }
}

/// The hash Compose keeps in `com.docker.compose.config-hash`: of the service's resolved
/// configuration, not of its replica count.
pub fn config_hash(svc: &Service) -> String {
    let mut s = svc.clone();
    s.scale = None;
    if let Some(d) = s.deploy.as_mut() {
        d.replicas = None;
    }
    let json = serde_json::to_vec(&s).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// The container request for replica `number` of `service` (`oneoff` for `compose run`).
pub fn container_request(
    p: &Project,
    service: &str,
    svc: &Service,
    number: u32,
    oneoff: bool,
) -> Result<ContainerCreate> {
    let at =
        |key: &str, what: String| Error::Invalid(format!("service {service:?}: {key}: {what}"));
    let mut c = ContainerCreate::default();
    let cfg = &mut c.config;
    cfg.image = p.image_of(service, svc);
    cfg.cmd = svc
        .command
        .as_ref()
        .map(command_words)
        .transpose()
        .map_err(|e| at("command", e))?;
    cfg.entrypoint = svc
        .entrypoint
        .as_ref()
        .map(command_words)
        .transpose()
        .map_err(|e| at("entrypoint", e))?;
    cfg.env = environment(p, svc)?;
    cfg.user = svc.user.clone().unwrap_or_default();
    cfg.working_dir = svc.working_dir.clone().unwrap_or_default();
    cfg.hostname = svc.hostname.clone().unwrap_or_default();
    cfg.tty = svc.tty.unwrap_or(false);
    cfg.open_stdin = svc.stdin_open.unwrap_or(false);
    cfg.stop_signal = svc.stop_signal.clone().unwrap_or_default();
    if let Some(g) = &svc.stop_grace_period {
        let ns = berth_image::config::parse_go_duration(g)
            .ok_or_else(|| at("stop_grace_period", format!("invalid duration {g:?}")))?;
        cfg.stop_timeout = Some(ns / 1_000_000_000);
    }
    if let Some(h) = &svc.healthcheck {
        cfg.healthcheck = Some(healthcheck(h).map_err(|e| at("healthcheck", e))?);
    }
    let mut labels: BTreeMap<String, String> = svc
        .labels
        .iter()
        .flat_map(|l| l.pairs(&['=']))
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    labels.insert(LABEL_PROJECT.into(), p.name.clone());
    labels.insert(LABEL_SERVICE.into(), service.into());
    labels.insert(LABEL_NUMBER.into(), number.to_string());
    labels.insert(
        LABEL_ONEOFF.into(),
        if oneoff { "True" } else { "False" }.into(),
    );
    labels.insert(LABEL_CONFIG_HASH.into(), config_hash(svc));
    labels.insert(
        LABEL_WORKING_DIR.into(),
        p.working_dir.display().to_string(),
    );
    labels.insert(
        LABEL_CONFIG_FILES.into(),
        p.config_files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    labels.insert(LABEL_VERSION.into(), COMPOSE_VERSION.into());
    let deps: Vec<String> = svc
        .depends_on
        .iter()
        .flat_map(|d| d.entries())
        .map(|(n, d)| {
            let cond = serde_json::to_value(d.condition)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("{n}:{cond}:{}", d.restart.unwrap_or(false))
        })
        .collect();
    labels.insert(LABEL_DEPENDS_ON.into(), deps.join(","));
    labels.insert(LABEL_IMAGE.into(), cfg.image.clone());
    cfg.labels = labels;
    for e in &svc.expose {
        let s = e.to_string();
        let spec = if s.contains('/') {
            s
        } else {
            format!("{s}/tcp")
        };
        cfg.exposed_ports.insert(spec, Default::default());
    }

    let h = &mut c.host_config;
    for port in &svc.ports {
        let spec = match port {
            Port::Number(n) => n.to_string(),
            Port::Short(s) => s.clone(),
            Port::Long(l) => {
                let mut s = String::new();
                if let Some(ip) = &l.host_ip {
                    s.push_str(ip);
                    s.push(':');
                }
                if let Some(pb) = &l.published {
                    s.push_str(&pb.to_string());
                    s.push(':');
                } else if l.host_ip.is_some() {
                    s.push(':');
                }
                s.push_str(&l.target.to_string());
                if let Some(proto) = &l.protocol {
                    s.push('/');
                    s.push_str(proto);
                }
                s
            }
        };
        let reqs = berth_network::parse_publish(&spec).map_err(|e| at("ports", e.to_string()))?;
        for r in &reqs {
            h.add_port_binding(r);
            c.config.exposed_ports.insert(
                format!("{}/{}", r.container_port, r.proto.as_str()),
                Default::default(),
            );
        }
    }
    for v in &svc.volumes {
        volume(p, v, &mut c).map_err(|e| at("volumes", e))?;
    }
    let h = &mut c.host_config;
    if let Some(t) = &svc.tmpfs {
        for item in t.items() {
            let (dst, opts) = item.split_once(':').unwrap_or((&item, ""));
            h.tmpfs.insert(dst.to_string(), opts.to_string());
        }
    }
    if let Some(r) = &svc.restart {
        let (name, count) = match r.split_once(':') {
            Some((n, c)) => (
                n,
                c.parse()
                    .map_err(|_| at("restart", format!("invalid restart policy {r:?}")))?,
            ),
            None => (r.as_str(), 0),
        };
        h.restart_policy = RestartPolicy {
            name: name.to_string(),
            maximum_retry_count: count,
        };
    }
    h.init = svc.init;
    h.readonly_rootfs = svc.read_only.unwrap_or(false);
    h.privileged = svc.privileged.unwrap_or(false);
    h.cap_add = svc.cap_add.clone();
    h.cap_drop = svc.cap_drop.clone();
    h.security_opt = svc.security_opt.clone();
    for (name, u) in &svc.ulimits {
        let (soft, hard) = match u {
            UlimitValue::Single(n) => (*n, *n),
            UlimitValue::Pair { soft, hard } => (*soft, *hard),
        };
        h.ulimits.push(Ulimit {
            name: name.clone(),
            soft,
            hard,
        });
    }
    // Links name the linked service's containers (the alias defaults to the service).
    for l in svc.links.iter().flatten() {
        let (target, alias) = l.split_once(':').unwrap_or((l, l));
        let linked = p
            .model
            .services
            .get(target)
            .ok_or_else(|| at("links", format!("no such service: {target}")))?;
        for n in 1..=p.replicas(linked) {
            h.links
                .push(format!("{}:{alias}", p.container_name(target, linked, n)));
        }
    }
    h.links.extend(svc.external_links.iter().flatten().cloned());
    if let Some(x) = &svc.extra_hosts {
        for (host, ip) in x.pairs(&['=', ':']) {
            let ip = ip.ok_or_else(|| at("extra_hosts", format!("{host:?} needs an address")))?;
            h.extra_hosts.push(format!("{host}:{ip}"));
        }
    }
    h.dns = svc.dns.as_ref().map(|d| d.items()).unwrap_or_default();
    h.dns_search = svc
        .dns_search
        .as_ref()
        .map(|d| d.items())
        .unwrap_or_default();
    if let Some(l) = &svc.logging {
        h.log_config = LogConfig {
            kind: l.driver.clone().unwrap_or_default(),
            config: l.options.clone(),
        };
    }
    let limits = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    if let Some(m) = limits
        .and_then(|l| l.memory.as_ref())
        .or(svc.mem_limit.as_ref())
    {
        h.memory = bytes(m).map_err(|e| at("memory", e))?;
    }
    if let Some(cpus) = limits.and_then(|l| l.cpus.as_ref()).or(svc.cpus.as_ref()) {
        let n: f64 = cpus
            .to_string()
            .parse()
            .map_err(|_| at("cpus", format!("invalid number of CPUs {cpus}")))?;
        h.nano_cpus = (n * 1e9) as i64;
    }
    if let Some(pids) = limits.and_then(|l| l.pids).or(svc.pids_limit) {
        h.pids_limit = Some(pids);
    }
    if let Some(s) = &svc.shm_size {
        h.shm_size = bytes(s).map_err(|e| at("shm_size", e))?;
    }
    for (kind, refs) in [("secret", &svc.secrets), ("config", &svc.configs)] {
        for r in refs {
            file_mount(p, kind, r, &mut c.host_config).map_err(|e| at(&format!("{kind}s"), e))?;
        }
    }

    // The first network is joined at create, the others by connect (as Compose does).
    match &svc.network_mode {
        Some(m) => c.host_config.network_mode = m.clone(),
        None => {
            let nets = p.service_networks(svc);
            if let Some((key, settings)) = nets.first() {
                let name = p.network_name(key);
                c.host_config.network_mode = name.clone();
                c.networking_config
                    .endpoints_config
                    .insert(name, endpoint(service, settings, oneoff)?);
            }
        }
    }
    Ok(c)
}

/// The endpoint settings on one network: the service name (and the file's aliases) as DNS
/// names, the fixed address if one is asked for.
pub fn endpoint(
    service: &str,
    n: &crate::model::ServiceNetwork,
    oneoff: bool,
) -> Result<EndpointSettings> {
    let mut e = EndpointSettings::default();
    if !oneoff {
        e.aliases.push(service.to_string());
    }
    e.aliases.extend(n.aliases.iter().cloned());
    if n.ipv4_address.is_some() || n.ipv6_address.is_some() {
        e.ipam_config = Some(EndpointIpamConfig {
            ipv4_address: n.ipv4_address.clone().unwrap_or_default(),
            ipv6_address: n.ipv6_address.clone().unwrap_or_default(),
            ..Default::default()
        });
    }
    Ok(e)
}

fn bytes(v: &StringOrNumber) -> std::result::Result<i64, String> {
    match v {
        StringOrNumber::Number(n) => n.as_i64().ok_or_else(|| format!("invalid size {n}")),
        StringOrNumber::Text(s) => berth_runtime::options::parse_bytes(s),
    }
}

/// `command: a "b c"` split as a shell would; the list form as it is.
pub fn command_words(c: &Command) -> std::result::Result<Vec<String>, String> {
    match c {
        Command::Exec(v) => Ok(v.clone()),
        Command::Shell(s) => shell_words::split(s).map_err(|e| format!("{e} in {s:?}")),
    }
}

/// `env_file` then `environment` (which wins); a key without a value takes it from the
/// project's variables, or is left out when there is none, as Compose does.
fn environment(p: &Project, svc: &Service) -> Result<Vec<String>> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String| match env.iter_mut().find(|(x, _)| *x == k) {
        Some(e) => e.1 = v,
        None => env.push((k, v)),
    };
    for f in svc.env_file.iter().flat_map(|e| e.items()) {
        let path = std::path::Path::new(&f);
        let text =
            std::fs::read_to_string(path).map_err(crate::error::io("read env file", path))?;
        for (k, v) in crate::env_file::parse(&text, path)? {
            match v.or_else(|| p.variables.get(&k).cloned()) {
                Some(v) => set(k, v),
                None => continue,
            }
        }
    }
    for (k, v) in svc.environment.iter().flat_map(|e| e.pairs(&['='])) {
        if let Some(v) = v.or_else(|| p.variables.get(&k).cloned()) {
            set(k, v);
        }
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

fn healthcheck(h: &crate::model::Healthcheck) -> std::result::Result<Healthcheck, String> {
    if h.disable == Some(true) {
        return Ok(Healthcheck {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        });
    }
    let dur = |name: &str, v: &Option<String>| -> std::result::Result<Option<i64>, String> {
        v.as_ref()
            .map(|s| {
                berth_image::config::parse_go_duration(s)
                    .ok_or_else(|| format!("{name}: invalid duration {s:?}"))
            })
            .transpose()
    };
    Ok(Healthcheck {
        test: h.test.as_ref().map(|t| match t {
            crate::model::StringOrList::One(s) => vec!["CMD-SHELL".to_string(), s.clone()],
            crate::model::StringOrList::Many(v) => v.clone(),
        }),
        interval: dur("interval", &h.interval)?,
        timeout: dur("timeout", &h.timeout)?,
        start_period: dur("start_period", &h.start_period)?,
        start_interval: dur("start_interval", &h.start_interval)?,
        retries: h.retries.map(i64::from),
    })
}

/// One service volume as a bind, a named volume (the project's name for it), an anonymous
/// volume or a tmpfs.
fn volume(
    p: &Project,
    v: &ServiceVolume,
    c: &mut ContainerCreate,
) -> std::result::Result<(), String> {
    match v {
        ServiceVolume::Short(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match volume_source(v) {
                VolumeSource::Anonymous => {
                    c.config
                        .volumes
                        .insert(parts[0].to_string(), Default::default());
                }
                VolumeSource::Named(n) => {
                    let rest = parts[1..].join(":");
                    c.host_config
                        .binds
                        .push(format!("{}:{rest}", p.volume_name(&n)));
                }
                VolumeSource::Bind(_) | VolumeSource::Tmpfs => c.host_config.binds.push(s.clone()),
            }
        }
        ServiceVolume::Long(l) => {
            let mut m = Mount {
                kind: l.kind.clone(),
                target: l.target.clone(),
                read_only: l.read_only.unwrap_or(false),
                ..Default::default()
            };
            match volume_source(v) {
                VolumeSource::Named(n) => m.source = p.volume_name(&n),
                VolumeSource::Bind(src) => {
                    let create = l
                        .bind
                        .as_ref()
                        .and_then(|b| b.create_host_path)
                        .unwrap_or(true);
                    if create && !std::path::Path::new(&src).exists() {
                        std::fs::create_dir_all(&src).map_err(|e| format!("create {src}: {e}"))?;
                    }
                    m.source = src;
                }
                VolumeSource::Anonymous | VolumeSource::Tmpfs => {}
            }
            if let Some(o) = &l.volume {
                m.volume_options = Some(VolumeOptions {
                    no_copy: o.nocopy,
                    subpath: o.subpath.clone().unwrap_or_default(),
                    ..Default::default()
                });
            }
            if let Some(t) = &l.tmpfs {
                m.tmpfs_options = Some(TmpfsOptions {
                    size_bytes: t.size.as_ref().map(bytes).transpose()?.unwrap_or(0),
                    mode: t.mode.unwrap_or(0),
                    ..Default::default()
                });
            }
            c.host_config.mounts.push(m);
        }
    }
    Ok(())
}

/// A file-based secret (at /run/secrets/NAME) or config (at /NAME), bound read-only.
fn file_mount(
    p: &Project,
    kind: &str,
    r: &FileReference,
    h: &mut berth_runtime::container_config::HostConfig,
) -> std::result::Result<(), String> {
    let (source, target) = match r {
        FileReference::Name(n) => (n.clone(), None),
        FileReference::Long { source, target, .. } => (source.clone(), target.clone()),
    };
    let def = if kind == "secret" {
        p.model.secrets.get(&source)
    } else {
        p.model.configs.get(&source)
    }
    .ok_or_else(|| format!("undefined {kind} {source}"))?;
    let file = def
        .file
        .clone()
        .ok_or_else(|| format!("{kind} {source:?}: only file-based {kind}s are supported"))?;
    let target = match (kind, target) {
        ("secret", Some(t)) if t.starts_with('/') => t,
        ("secret", Some(t)) => format!("/run/secrets/{t}"),
        ("secret", None) => format!("/run/secrets/{source}"),
        (_, Some(t)) => t,
        (_, None) => format!("/{source}"),
    };
    h.mounts.push(Mount {
        kind: "bind".into(),
        source: file,
        target,
        read_only: true,
        ..Default::default()
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The project of `yaml`, with its directory (which requests read env files from).
    fn project(yaml: &str) -> (Project, tempfile::TempDir) {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("compose.yaml"), yaml).unwrap();
        std::fs::write(t.path().join("app.env"), "FROM_FILE=1\nBOTH=file\n").unwrap();
        let o = crate::ProjectOptions {
            working_dir: t.path().to_path_buf(),
            project_name: Some("demo".into()),
            environment: [("SHELL_VAR".to_string(), "from-shell".to_string())].into(),
            ..Default::default()
        };
        (crate::load(&o).unwrap(), t)
    }

    #[test]
    fn links_name_the_linked_containers_and_start_them_first() {
        let (p, _dir) = project(
            r#"
services:
  web:
    image: app:1
    links: [db:database, cache]
    external_links: [legacy-box:old]
  db: {image: db:1, deploy: {replicas: 2}}
  cache: {image: cache:1, depends_on: {db: {condition: service_healthy}}}
"#,
        );
        let svc = &p.model.services["web"];
        let c = container_request(&p, "web", svc, 1, false).unwrap();
        assert_eq!(
            c.host_config.links,
            [
                "demo-db-1:database",
                "demo-db-2:database",
                "demo-cache-1:cache",
                "legacy-box:old"
            ]
        );
        let deps: Vec<String> = svc
            .depends_on
            .iter()
            .flat_map(|d| d.entries())
            .map(|(s, _)| s)
            .collect();
        assert_eq!(deps, ["db", "cache"]);
        // A link to a service the file does not have is refused at load.
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("compose.yaml"),
            "services:\n  web: {image: a, links: [nope]}\n",
        )
        .unwrap();
        let o = crate::ProjectOptions {
            working_dir: t.path().to_path_buf(),
            ..Default::default()
        };
        let e = crate::load(&o).unwrap_err().to_string();
        assert!(e.contains("depends on undefined service \"nope\""), "{e}");
    }

    #[test]
    fn a_service_becomes_dockers_create_request() {
        let (p, _dir) = project(
            r#"
services:
  web:
    image: app:1
    command: serve --name "a b"
    env_file: app.env
    environment: {BOTH: env, SHELL_VAR: null, NOT_SET: null}
    ports: ["127.0.0.1:8080:80", {target: 443, published: "8443", protocol: tcp}, 9000]
    expose: [7000]
    volumes: [data:/data, /anon, {type: tmpfs, target: /scratch, tmpfs: {size: 1m}}]
    networks:
      back: {aliases: [api], ipv4_address: 10.9.0.5, ipv6_address: "2001:db8::5"}
      front:
    restart: on-failure:3
    stop_grace_period: 1m30s
    healthcheck: {test: "curl -f localhost", interval: 5s, retries: 2}
    ulimits: {nofile: {soft: 100, hard: 200}, nproc: 50}
    extra_hosts: ["db.local:10.0.0.2"]
    deploy: {resources: {limits: {cpus: "0.5", memory: 64m, pids: 20}}}
    secrets: [token]
secrets:
  token: {file: ./token.txt}
networks:
  back: {}
  front: {}
volumes:
  data: {}
"#,
        );
        let svc = &p.model.services["web"];
        let c = container_request(&p, "web", svc, 2, false).unwrap();
        let cfg = &c.config;
        assert_eq!(
            cfg.cmd,
            Some(vec!["serve".into(), "--name".into(), "a b".into()])
        );
        assert_eq!(
            cfg.env,
            vec!["FROM_FILE=1", "BOTH=env", "SHELL_VAR=from-shell"]
        );
        assert_eq!(cfg.labels[LABEL_PROJECT], "demo");
        assert_eq!(cfg.labels[LABEL_NUMBER], "2");
        assert_eq!(cfg.labels[LABEL_CONFIG_HASH], config_hash(svc));
        assert_eq!(cfg.stop_timeout, Some(90));
        let hc = cfg.healthcheck.as_ref().unwrap();
        assert_eq!(
            hc.test,
            Some(vec!["CMD-SHELL".into(), "curl -f localhost".into()])
        );
        assert_eq!(hc.interval, Some(5_000_000_000));
        for port in ["80/tcp", "443/tcp", "9000/tcp", "7000/tcp"] {
            assert!(cfg.exposed_ports.contains_key(port), "{port}");
        }
        let h = &c.host_config;
        let b80 = h.port_bindings["80/tcp"].as_ref().unwrap();
        assert_eq!(
            (b80[0].host_ip.as_str(), b80[0].host_port.as_str()),
            ("127.0.0.1", "8080")
        );
        assert_eq!(
            h.port_bindings["443/tcp"].as_ref().unwrap()[0].host_port,
            "8443"
        );
        assert_eq!(
            h.port_bindings["9000/tcp"].as_ref().unwrap()[0].host_port,
            ""
        );
        assert_eq!(h.binds, vec!["demo_data:/data".to_string()]);
        assert!(cfg.volumes.contains_key("/anon"));
        let tmpfs = h.mounts.iter().find(|m| m.target == "/scratch").unwrap();
        assert_eq!(tmpfs.tmpfs_options.as_ref().unwrap().size_bytes, 1 << 20);
        let secret = h
            .mounts
            .iter()
            .find(|m| m.target == "/run/secrets/token")
            .unwrap();
        assert!(secret.read_only && secret.source.ends_with("/token.txt"));
        assert_eq!(
            (
                h.restart_policy.name.as_str(),
                h.restart_policy.maximum_retry_count
            ),
            ("on-failure", 3)
        );
        assert_eq!(h.ulimits.len(), 2);
        assert_eq!(h.extra_hosts, vec!["db.local:10.0.0.2".to_string()]);
        assert_eq!(
            (h.nano_cpus, h.memory, h.pids_limit),
            (500_000_000, 64 << 20, Some(20))
        );
        // The first network at create (the others are connected after), with the service
        // name and the file's aliases.
        assert_eq!(h.network_mode, "demo_back");
        let ep = &c.networking_config.endpoints_config["demo_back"];
        assert_eq!(ep.aliases, vec!["web".to_string(), "api".into()]);
        assert_eq!(ep.ipam_config.as_ref().unwrap().ipv4_address, "10.9.0.5");
        assert_eq!(ep.ipam_config.as_ref().unwrap().ipv6_address, "2001:db8::5");
        assert_eq!(p.container_name("web", svc, 2), "demo-web-2");
    }

    #[test]
    fn the_config_hash_ignores_replicas_but_not_config() {
        let (p, _dir) = project("services:\n  w:\n    image: a\n    deploy: {replicas: 3}\n");
        let mut s = p.model.services["w"].clone();
        let h = config_hash(&s);
        s.deploy.as_mut().unwrap().replicas = Some(1);
        assert_eq!(config_hash(&s), h);
        s.image = Some("b".into());
        assert_ne!(config_hash(&s), h);
    }
}
