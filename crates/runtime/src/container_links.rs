//! Legacy links (`--link NAME:ALIAS`, `HostConfig.Links`) on the default bridge, as Docker
//! keeps them: the linked container gets the name `/CONTAINER/ALIAS` (so `inspect`, `rm`
//! and `ps --no-trunc` know it by that name too), and at each start the container sees it
//! in its environment (`ALIAS_PORT_80_TCP_ADDR=…`, `ALIAS_ENV_…`) and in /etc/hosts. On a
//! user-defined network a link is the network's business instead: its DNS server answers
//! the alias for the linking container alone (`berth_network::dns`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;
use crate::record::{ContainerRecord, Status};

/// A file in a container's directory: some container links to it.
const LINKED_MARK: &str = "link-target";

/// One legacy link of a container: the linked container by ID (a rename of either keeps
/// the link) and the alias it is known by.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub container_id: String,
    pub alias: String,
}

/// What the links of a container add at its start.
#[derive(Debug, Default, PartialEq)]
pub struct LinkedView {
    /// Environment entries, before the container's own (which win).
    pub env: Vec<String>,
    /// /etc/hosts entries: (names, address).
    pub hosts: Vec<(String, String)>,
}

/// Docker's `NAME[:ALIAS]` (also `/NAME:/CONTAINER/ALIAS`, as inspect shows links): the
/// container's name and the alias (the name when none is given).
pub fn parse_link(spec: &str) -> Result<(String, String)> {
    let bad = || Error::Invalid(format!("bad format for links: {spec}"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (name, alias) = match parts.as_slice() {
        [""] => return Err(Error::Invalid("empty string specified for links".into())),
        [name] => (*name, *name),
        [name, alias] => (*name, alias.rsplit('/').next().unwrap_or(alias)),
        _ => return Err(bad()),
    };
    let name = name.strip_prefix('/').unwrap_or(name);
    if name.is_empty() || alias.is_empty() {
        return Err(bad());
    }
    Ok((name.to_string(), alias.to_string()))
}

/// The environment a link gives: Docker's `ALIAS_NAME`, `ALIAS_PORT…` for each port the
/// linked container exposes (TCP first, then by number; runs of consecutive ports also get
/// `…_START`/`…_END`) and `ALIAS_ENV_…` for its environment (except HOME and PATH).
/// `link_name` is `/CONTAINER/ALIAS`; `exposed` as `80/tcp`.
pub fn link_env(link_name: &str, ip: &str, env: &[String], exposed: &[String]) -> Vec<String> {
    let alias = link_name
        .rsplit('/')
        .next()
        .unwrap_or(link_name)
        .to_uppercase()
        .replace('-', "_");
    let mut ports: Vec<(u16, String)> = exposed
        .iter()
        .filter_map(|p| {
            let (n, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            Some((n.parse().ok()?, proto.to_lowercase()))
        })
        .collect();
    ports.sort_by(|(a, pa), (b, pb)| (pa != "tcp", pa, a).cmp(&(pb != "tcp", pb, b)));
    ports.dedup();
    let mut out = Vec::new();
    if let Some((n, proto)) = ports.first() {
        out.push(format!("{alias}_PORT={proto}://{ip}:{n}"));
    }
    let mut run_start = 0;
    for (i, (n, proto)) in ports.iter().enumerate() {
        let prefix = format!("{alias}_PORT_{n}_{}", proto.to_uppercase());
        out.push(format!("{prefix}={proto}://{ip}:{n}"));
        out.push(format!("{prefix}_ADDR={ip}"));
        out.push(format!("{prefix}_PORT={n}"));
        out.push(format!("{prefix}_PROTO={proto}"));
        let continues = ports
            .get(i + 1)
            .is_some_and(|(m, p)| p == proto && u32::from(*m) == u32::from(*n) + 1);
        if continues {
            continue;
        }
        if i > run_start {
            let (first, _) = &ports[run_start];
            let prefix = format!("{alias}_PORT_{first}_{}", proto.to_uppercase());
            out.push(format!("{prefix}_START={proto}://{ip}:{first}"));
            out.push(format!("{prefix}_PORT_START={first}"));
            out.push(format!("{prefix}_END={proto}://{ip}:{n}"));
            out.push(format!("{prefix}_PORT_END={n}"));
        }
        run_start = i + 1;
    }
    out.push(format!("{alias}_NAME={link_name}"));
    for e in env {
        let Some((k, v)) = e.split_once('=') else {
            continue;
        };
        if k != "HOME" && k != "PATH" {
            out.push(format!("{alias}_ENV_{k}={v}"));
        }
    }
    out
}

impl Runtime {
    /// [`link_names`] of the containers there are now.
    pub fn link_names(&self) -> HashMap<String, Vec<String>> {
        self.containers
            .list()
            .map(|all| link_names(&all))
            .unwrap_or_default()
    }

    /// Checks `HostConfig.Links` of a container about to be created on `network` and
    /// resolves them to containers. On a user-defined network they are endpoint links
    /// (`network_options`), not these.
    pub(crate) fn resolve_links(&self, links: &[String], network: &str) -> Result<Vec<Link>> {
        if links.is_empty() || !legacy_network(network) {
            return Ok(Vec::new());
        }
        if network == "host" {
            return Err(Error::Invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior".into()));
        }
        if network.starts_with("container:") {
            return Err(Error::Invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior".into()));
        }
        let mut out: Vec<Link> = Vec::new();
        for spec in links {
            let (name, alias) = parse_link(spec)?;
            let mut target = self.containers.find(&name).map_err(|e| match e {
                Error::NoSuchContainer(_) => Error::Invalid(format!(
                    "could not get container for {name}: No such container: {name}"
                )),
                e => e,
            })?;
            // A container in another's network namespace is reached through that one.
            while let Some(donor) = target.config.network.strip_prefix("container:") {
                target = self.containers.find(donor)?;
            }
            if target.config.network == "host" {
                return Err(Error::Invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior".into()));
            }
            if out.iter().any(|l| l.alias == alias) {
                return Err(Error::Conflict(format!(
                    "Conflict. The link alias \"{alias}\" is given twice"
                )));
            }
            // Read at the linked container's removal, which then looks for links to drop.
            let _ = std::fs::write(self.containers.dir(&target.id).join(LINKED_MARK), b"");
            out.push(Link {
                container_id: target.id,
                alias,
            });
        }
        Ok(out)
    }

    /// What the links of `rec` add at its start: every linked container must be running on
    /// the default bridge (Docker refuses the start otherwise).
    pub(crate) fn linked_view(
        &self,
        rec: &ContainerRecord,
        all: &[ContainerRecord],
    ) -> Result<LinkedView> {
        let mut view = LinkedView::default();
        if rec.config.links.is_empty() || !crate::lifecycle::bridged(&rec.config.network) {
            return Ok(view);
        }
        for l in &rec.config.links {
            let link_name = format!("/{}/{}", rec.name, l.alias);
            let target = all.iter().find(|c| c.id == l.container_id);
            let Some(target) = target.filter(|t| t.state.status == Status::Running) else {
                let name = target.map(|t| t.name.as_str()).unwrap_or(&l.container_id);
                return Err(Error::Conflict(format!(
                    "Cannot link to a non running container: /{name} AS {link_name}"
                )));
            };
            let ip = self
                .network
                .container_endpoints(&target.id)
                .into_iter()
                .find(|(n, _)| n.is_default())
                .map(|(_, e)| e.ip.to_string())
                .ok_or_else(|| {
                    Error::Conflict(format!(
                        "Cannot link to /{}, as it does not belong to the default network",
                        target.name
                    ))
                })?;
            // Its Config.Env, as Docker has it: without the HOSTNAME berth records there.
            let env: Vec<String> = target
                .config
                .env
                .iter()
                .filter(|e| !e.starts_with("HOSTNAME="))
                .cloned()
                .collect();
            view.env
                .extend(link_env(&link_name, &ip, &env, &target.config.exposed));
            // Reached by the alias, the container's hostname and its name, as with Docker.
            let mut names = vec![l.alias.clone(), target.config.hostname.clone()];
            if l.alias != target.name {
                names.push(target.name.clone());
            }
            view.hosts.push((names.join(" "), ip));
        }
        Ok(view)
    }

    /// `docker rm --link /CONTAINER/ALIAS`: the link goes, both containers stay.
    pub fn remove_link(&self, link_name: &str) -> Result<()> {
        let full = link_name.strip_prefix('/').unwrap_or(link_name);
        let Some((parent, alias)) = full.rsplit_once('/') else {
            return Err(Error::Conflict(
                "Conflict, cannot remove the default link name of the container".into(),
            ));
        };
        let p = self.containers.find(parent).map_err(|_| {
            Error::NotFound(format!("Cannot get parent /{parent} for link name /{full}"))
        })?;
        let _held = self.containers.lock(&p.id)?;
        let mut p = self.containers.load(&p.id)?;
        if !drop_links(&mut p, |l| l.alias == alias) {
            return Err(Error::NoSuchContainer(format!("/{full}")));
        }
        self.containers.save(&p)
    }

    /// Whether another container was ever linked to `id` (read before its directory goes).
    pub(crate) fn is_link_target(&self, id: &str) -> bool {
        self.containers.dir(id).join(LINKED_MARK).exists()
    }

    /// Links from other containers to the one that has been removed go with it.
    pub(crate) fn drop_links_to(&self, id: &str) {
        let Ok(all) = self.containers.list() else {
            return;
        };
        for c in all
            .iter()
            .filter(|c| c.config.links.iter().any(|l| l.container_id == id))
        {
            let Ok(_held) = self.containers.lock(&c.id) else {
                continue;
            };
            if let Ok(mut c) = self.containers.load(&c.id) {
                if drop_links(&mut c, |l| l.container_id == id) {
                    let _ = self.containers.save(&c);
                }
            }
        }
    }
}

/// Drops the links `gone` picks from a container's record: from what berth acts on and
/// from the HostConfig it shows. True if there were any.
fn drop_links(c: &mut ContainerRecord, gone: impl Fn(&Link) -> bool) -> bool {
    let aliases: Vec<String> = c
        .config
        .links
        .iter()
        .filter(|l| gone(l))
        .map(|l| l.alias.clone())
        .collect();
    c.config.links.retain(|l| !gone(l));
    if let Some(h) = &mut c.host_config {
        h.links.retain(|s| {
            parse_link(s)
                .map(|(_, a)| !aliases.contains(&a))
                .unwrap_or(true)
        });
    }
    !aliases.is_empty()
}

/// Docker's further names of containers that others link to: container ID →
/// `/OTHER/ALIAS` for each link to it.
pub fn link_names(all: &[ContainerRecord]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for c in all {
        for l in &c.config.links {
            out.entry(l.container_id.clone())
                .or_default()
                .push(format!("/{}/{}", c.name, l.alias));
        }
    }
    out
}

/// The container a link name (`/CONTAINER/ALIAS`, the leading slash optional) stands for.
pub(crate) fn find_by_link_name<'a>(
    key: &str,
    all: &'a [ContainerRecord],
) -> Option<&'a ContainerRecord> {
    let key = key.strip_prefix('/').unwrap_or(key);
    let (parent, alias) = key.rsplit_once('/')?;
    let p = all.iter().find(|c| c.name == parent)?;
    let l = p.config.links.iter().find(|l| l.alias == alias)?;
    all.iter().find(|c| c.id == l.container_id)
}

/// Networks where `HostConfig.Links` are legacy links: the default bridge and the modes
/// that have no network of their own to resolve names in.
fn legacy_network(network: &str) -> bool {
    !crate::lifecycle::bridged(network) || matches!(network, "bridge" | "default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_go_with_rm_link_and_with_the_linked_container() {
        use crate::engine_fake::{create, fake_runtime};
        let dir = tempfile::tempdir().unwrap();
        let (rt, _fake) = fake_runtime(dir.path());
        let db = create(&rt, "db", &["true"], |h| h.network_mode = "none".into());
        let web = create(&rt, "web", &["true"], |h| {
            h.network_mode = "none".into();
            h.links = vec!["db:data".into(), "db".into()];
        });
        assert_eq!(rt.find("web/data").unwrap().id, db.id);
        assert_eq!(rt.link_names()[&db.id], ["/web/data", "/web/db"]);
        rt.remove_link("/web/data").unwrap();
        let w = rt.containers().load(&web.id).unwrap();
        let aliases: Vec<&str> = w.config.links.iter().map(|l| l.alias.as_str()).collect();
        assert_eq!(aliases, ["db"]);
        assert_eq!(w.host_config.unwrap().links, ["db"]);
        assert!(rt.remove_link("web/data").is_err());
        let e = rt.remove_link("web").unwrap_err().to_string();
        assert!(e.contains("cannot remove the default link name"), "{e}");
        rt.remove("db", true, false).unwrap();
        let w = rt.containers().load(&web.id).unwrap();
        assert!(w.config.links.is_empty());
        assert!(w.host_config.unwrap().links.is_empty());
    }

    #[test]
    fn links_parse_as_docker_parses_them() {
        let p = |s| parse_link(s).map_err(|e| e.to_string());
        assert_eq!(p("db"), Ok(("db".into(), "db".into())));
        assert_eq!(p("db:data"), Ok(("db".into(), "data".into())));
        assert_eq!(p("/db:/web/data"), Ok(("db".into(), "data".into())));
        assert_eq!(p("a:b:c"), Err("bad format for links: a:b:c".into()));
        assert_eq!(p(""), Err("empty string specified for links".into()));
        assert_eq!(p("db:"), Err("bad format for links: db:".into()));
    }

    #[test]
    fn the_environment_of_a_link_is_dockers() {
        let env = link_env(
            "/web/my-db",
            "172.17.0.3",
            &[
                "PATH=/bin".into(),
                "HOME=/root".into(),
                "FOO=1=2".into(),
                "BARE".into(),
            ],
            &[
                "53/udp".into(),
                "8081/tcp".into(),
                "80/tcp".into(),
                "8080/tcp".into(),
            ],
        );
        let want = [
            "MY_DB_PORT=tcp://172.17.0.3:80",
            "MY_DB_PORT_80_TCP=tcp://172.17.0.3:80",
            "MY_DB_PORT_80_TCP_ADDR=172.17.0.3",
            "MY_DB_PORT_80_TCP_PORT=80",
            "MY_DB_PORT_80_TCP_PROTO=tcp",
            "MY_DB_PORT_8080_TCP=tcp://172.17.0.3:8080",
            "MY_DB_PORT_8080_TCP_ADDR=172.17.0.3",
            "MY_DB_PORT_8080_TCP_PORT=8080",
            "MY_DB_PORT_8080_TCP_PROTO=tcp",
            "MY_DB_PORT_8081_TCP=tcp://172.17.0.3:8081",
            "MY_DB_PORT_8081_TCP_ADDR=172.17.0.3",
            "MY_DB_PORT_8081_TCP_PORT=8081",
            "MY_DB_PORT_8081_TCP_PROTO=tcp",
            "MY_DB_PORT_8080_TCP_START=tcp://172.17.0.3:8080",
            "MY_DB_PORT_8080_TCP_PORT_START=8080",
            "MY_DB_PORT_8080_TCP_END=tcp://172.17.0.3:8081",
            "MY_DB_PORT_8080_TCP_PORT_END=8081",
            "MY_DB_PORT_53_UDP=udp://172.17.0.3:53",
            "MY_DB_PORT_53_UDP_ADDR=172.17.0.3",
            "MY_DB_PORT_53_UDP_PORT=53",
            "MY_DB_PORT_53_UDP_PROTO=udp",
            "MY_DB_NAME=/web/my-db",
            "MY_DB_ENV_FOO=1=2",
        ];
        assert_eq!(env, want);
        // No ports: the name and the environment only.
        assert_eq!(
            link_env("/a/b", "10.0.0.2", &[], &[]),
            ["B_NAME=/a/b".to_string()]
        );
    }
}
