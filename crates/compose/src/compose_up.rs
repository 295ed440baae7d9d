//! `compose up`: the project's networks and volumes, then its containers — created (or
//! recreated when their configuration or image changed), connected and started in
//! dependency order, each waiting for what it depends on (started, healthy, or completed).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use berth_runtime::Runtime;

use crate::error::{Error, Result};
use crate::model::{Build, Condition, Service};
use crate::project_containers::{project_containers, ServiceContainer};
use crate::project_load::Project;
use crate::service_container::{
    config_hash, container_request, endpoint, COMPOSE_VERSION, LABEL_CONFIG_HASH, LABEL_NETWORK,
    LABEL_PROJECT, LABEL_VERSION, LABEL_VOLUME,
};

/// What `up` is told.
#[derive(Clone, Debug, Default)]
pub struct UpOptions {
    /// The services named (with their dependencies); all if empty.
    pub services: Vec<String>,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub remove_orphans: bool,
    /// `--build`: build images first even if they exist.
    pub build: bool,
    /// `--scale SERVICE=N`.
    pub scale: BTreeMap<String, u32>,
    /// `--no-start`: create only.
    pub no_start: bool,
    /// `--wait`: return once the services are running (and healthy where they have a check).
    pub wait: bool,
}

/// One line of Compose's progress: ` Container demo-web-1  Started`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// `Network`, `Volume`, `Container`.
    pub kind: &'static str,
    pub name: String,
    /// `Creating`, `Created`, `Starting`, `Started`, `Running`, `Recreate`, `Waiting`, …
    pub status: String,
}

/// Images a service needs: present, pulled or built. The front end supplies it (the CLI
/// holds the registry credentials and the build's progress display).
pub trait ImageSource {
    /// Makes `image` available; `build` is the service's build section if it has one, and
    /// `force_build` asks for a build even when the image exists.
    fn ensure_image(
        &self,
        service: &str,
        image: &str,
        build: Option<&Build>,
        force_build: bool,
    ) -> Result<()>;
}

/// The engine `up` drives: the runtime and the berth binary that supervises containers.
pub struct Engine<'a> {
    pub rt: &'a Runtime,
    pub exe: &'a Path,
}

impl Engine<'_> {
    /// `compose up -d`. Returns the containers it started (or kept), by service.
    pub fn up(
        &self,
        p: &Project,
        o: &UpOptions,
        images: &dyn ImageSource,
        report: &mut dyn FnMut(Progress),
    ) -> Result<Vec<ServiceContainer>> {
        let order = p.services_in_order(&o.services)?;
        for s in &order {
            let svc = &p.model.services[s];
            let image = p.image_of(s, svc);
            images.ensure_image(
                s,
                &image,
                svc.build.as_ref(),
                o.build && svc.build.is_some(),
            )?;
        }
        self.ensure_networks(p, &order, report)?;
        self.ensure_volumes(p, &order, report)?;
        if o.remove_orphans {
            for c in project_containers(self.rt, &p.name, false)? {
                if !p.model.services.contains_key(&c.service) {
                    self.remove_container(&c, report)?;
                }
            }
        }
        let existing = project_containers(self.rt, &p.name, false)?;
        let mut wanted: Vec<(String, Vec<(ServiceContainer, bool)>)> = Vec::new();
        for s in &order {
            let svc = &p.model.services[s];
            let replicas = o.scale.get(s).copied().unwrap_or_else(|| p.replicas(svc));
            let mine: Vec<&ServiceContainer> =
                existing.iter().filter(|c| &c.service == s).collect();
            let mut list = Vec::new();
            for n in 1..=replicas {
                let current = mine.iter().find(|c| c.number == n);
                list.push(self.converge(p, s, svc, n, current.copied(), o, report)?);
            }
            for extra in mine.iter().filter(|c| c.number > replicas) {
                self.remove_container(extra, report)?;
            }
            wanted.push((s.clone(), list));
        }
        if o.no_start {
            return Ok(wanted
                .into_iter()
                .flat_map(|(_, l)| l.into_iter().map(|(c, _)| c))
                .collect());
        }
        let mut started = Vec::new();
        for (s, list) in &wanted {
            self.wait_for_dependencies(p, &p.model.services[s], report)?;
            for (c, _) in list {
                let rec = self.rt.find(&c.record.id)?;
                if rec.state.running() {
                    report(progress("Container", &rec.name, "Running"));
                } else {
                    report(progress("Container", &rec.name, "Starting"));
                    self.rt.start_detached(&rec.id, self.exe)?;
                    report(progress("Container", &rec.name, "Started"));
                }
                started.push(c.clone());
            }
        }
        if o.wait {
            for c in &started {
                self.wait_healthy(&c.record.id, &c.record.name, report)?;
            }
        }
        Ok(started)
    }

    /// The container for replica `n`: the current one if nothing changed, else a new one.
    /// The bool says whether it was (re)created.
    #[allow(clippy::too_many_arguments)]
    fn converge(
        &self,
        p: &Project,
        service: &str,
        svc: &Service,
        n: u32,
        current: Option<&ServiceContainer>,
        o: &UpOptions,
        report: &mut dyn FnMut(Progress),
    ) -> Result<(ServiceContainer, bool)> {
        let image_id = berth_image::Store::open(self.rt.root())
            .and_then(|s| s.lookup(&p.image_of(service, svc)))
            .map(|i| i.id().to_string())
            .ok();
        if let Some(c) = current {
            let same_config =
                c.record.config.labels.get(LABEL_CONFIG_HASH) == Some(&config_hash(svc));
            let same_image = image_id.as_deref() == Some(c.record.image_id.as_str());
            if o.no_recreate || (!o.force_recreate && same_config && same_image) {
                return Ok((c.clone(), false));
            }
            report(progress("Container", &c.record.name, "Recreate"));
            if c.record.state.running() {
                self.rt.stop(&c.record.id, None)?;
            }
            self.rt.remove(&c.record.id, true, false)?;
            let made = self.create(p, service, svc, n)?;
            report(progress("Container", &made.record.name, "Recreated"));
            return Ok((made, true));
        }
        let name = p.container_name(service, svc, n);
        report(progress("Container", &name, "Creating"));
        let made = self.create(p, service, svc, n)?;
        report(progress("Container", &made.record.name, "Created"));
        Ok((made, true))
    }

    fn create(
        &self,
        p: &Project,
        service: &str,
        svc: &Service,
        n: u32,
    ) -> Result<ServiceContainer> {
        if svc.container_name.is_some() && p.replicas(svc) > 1 {
            return Err(Error::Invalid(format!(
                "services.{service}: can't set container_name and {service} as container name must be unique: invalid compose project"
            )));
        }
        let req = container_request(p, service, svc, n, false)?;
        let name = p.container_name(service, svc, n);
        let rec = self.rt.create(Some(&name), &req)?;
        if svc.network_mode.is_none() {
            for (key, settings) in p.service_networks(svc).iter().skip(1) {
                let e = endpoint(service, settings, false)?;
                self.rt.connect(&rec.id, &p.network_name(key), &e)?;
            }
        }
        Ok(ServiceContainer {
            service: service.to_string(),
            number: n,
            oneoff: false,
            record: self.rt.find(&rec.id)?,
        })
    }

    /// Stops and removes one container, reporting as Compose does.
    pub fn remove_container(
        &self,
        c: &ServiceContainer,
        report: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let name = &c.record.name;
        let rec = self.rt.find(&c.record.id)?;
        if rec.state.running() {
            report(progress("Container", name, "Stopping"));
            self.rt.stop(&rec.id, None)?;
            report(progress("Container", name, "Stopped"));
        }
        report(progress("Container", name, "Removing"));
        self.rt.remove(&rec.id, true, false)?;
        report(progress("Container", name, "Removed"));
        Ok(())
    }

    fn ensure_networks(
        &self,
        p: &Project,
        order: &[String],
        report: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let mut keys: Vec<String> = Vec::new();
        for s in order {
            let svc = &p.model.services[s];
            if svc.network_mode.is_some() {
                continue;
            }
            for (k, _) in p.service_networks(svc) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        for key in keys {
            let def = p
                .model
                .networks
                .get(&key)
                .cloned()
                .flatten()
                .unwrap_or_default();
            let name = p.network_name(&key);
            let exists = self.rt.networking().get(&name).is_ok();
            if def.external == Some(true) {
                if !exists {
                    return Err(Error::NotFound(format!(
                        "network {name} declared as external, but could not be found"
                    )));
                }
                continue;
            }
            if exists {
                continue;
            }
            if let Some(d) = def.driver.as_deref().filter(|d| *d != "bridge") {
                return Err(Error::Invalid(format!(
                    "networks.{key}: driver {d:?} is not supported (berth has bridge networks)"
                )));
            }
            // One IPv4 and one IPv6 pool, told apart by their subnet.
            let pools = def
                .ipam
                .as_ref()
                .map(|i| i.config.as_slice())
                .unwrap_or_default();
            let is_v6 =
                |c: &&crate::model::IpamPool| c.subnet.as_deref().is_some_and(|s| s.contains(':'));
            let pool = pools.iter().find(|c| !is_v6(c));
            let pool6 = pools.iter().find(is_v6);
            let mut labels: Vec<String> = def
                .labels
                .iter()
                .flat_map(|l| l.pairs(&['=']))
                .map(|(k, v)| format!("{k}={}", v.unwrap_or_default()))
                .collect();
            labels.push(format!("{LABEL_NETWORK}={key}"));
            labels.push(format!("{LABEL_PROJECT}={}", p.name));
            labels.push(format!("{LABEL_VERSION}={COMPOSE_VERSION}"));
            report(progress("Network", &name, "Creating"));
            self.rt.create_network(&berth_network::CreateOptions {
                name: name.clone(),
                driver: Some("bridge".into()),
                subnet: pool.and_then(|c| c.subnet.clone()),
                gateway: pool.and_then(|c| c.gateway.clone()),
                ip_range: pool.and_then(|c| c.ip_range.clone()),
                aux_addresses: Vec::new(),
                internal: def.internal.unwrap_or(false),
                labels,
                ipam_options_given: false,
                enable_ipv6: def.enable_ipv6.unwrap_or(false),
                ipv6_subnet: pool6.and_then(|c| c.subnet.clone()),
                ipv6_gateway: pool6.and_then(|c| c.gateway.clone()),
                ipv6_ip_range: pool6.and_then(|c| c.ip_range.clone()),
            })?;
            report(progress("Network", &name, "Created"));
        }
        Ok(())
    }

    fn ensure_volumes(
        &self,
        p: &Project,
        order: &[String],
        report: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let vols = self.rt.volumes()?;
        let mut keys: Vec<String> = Vec::new();
        for s in order {
            for v in &p.model.services[s].volumes {
                if let crate::service_container::VolumeSource::Named(k) =
                    crate::service_container::volume_source(v)
                {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
        }
        for key in keys {
            let def = p
                .model
                .volumes
                .get(&key)
                .cloned()
                .flatten()
                .unwrap_or_default();
            let name = p.volume_name(&key);
            if def.external == Some(true) {
                if !vols.exists(&name) {
                    return Err(Error::NotFound(format!(
                        "external volume \"{name}\" not found"
                    )));
                }
                continue;
            }
            if vols.exists(&name) {
                continue;
            }
            if let Some(d) = def.driver.as_deref().filter(|d| *d != "local") {
                return Err(Error::Invalid(format!(
                    "volumes.{key}: driver {d:?} is not supported (berth has local volumes)"
                )));
            }
            let mut labels: BTreeMap<String, String> = def
                .labels
                .iter()
                .flat_map(|l| l.pairs(&['=']))
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect();
            labels.insert(LABEL_VOLUME.into(), key.clone());
            labels.insert(LABEL_PROJECT.into(), p.name.clone());
            labels.insert(LABEL_VERSION.into(), COMPOSE_VERSION.into());
            report(progress("Volume", &format!("\"{name}\""), "Creating"));
            vols.create(&name, false, Some(labels))?;
            report(progress("Volume", &format!("\"{name}\""), "Created"));
        }
        Ok(())
    }

    /// Blocks until each dependency of `svc` meets its condition.
    fn wait_for_dependencies(
        &self,
        p: &Project,
        svc: &Service,
        report: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let containers = project_containers(self.rt, &p.name, false)?;
        for (dep, d) in svc.depends_on.iter().flat_map(|d| d.entries()) {
            for c in containers.iter().filter(|c| c.service == dep) {
                let name = &c.record.name;
                match d.condition {
                    Condition::ServiceStarted => {}
                    Condition::ServiceHealthy => {
                        report(progress("Container", name, "Waiting"));
                        self.wait_healthy(&c.record.id, name, report)?;
                    }
                    Condition::ServiceCompletedSuccessfully => {
                        report(progress("Container", name, "Waiting"));
                        let code = self.rt.wait(&c.record.id)?;
                        if code != 0 {
                            return Err(Error::Dependency(format!(
                                "service {dep:?} didn't complete successfully: exit {code}"
                            )));
                        }
                        report(progress("Container", name, "Exited"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Until the container is healthy (or, with no health check, running); an error if it
    /// becomes unhealthy or exits.
    fn wait_healthy(&self, id: &str, name: &str, report: &mut dyn FnMut(Progress)) -> Result<()> {
        loop {
            let c = self.rt.find(id)?;
            if !c.state.running() {
                return Err(Error::Dependency(format!(
                    "dependency failed to start: container {name} exited ({})",
                    c.state.exit_code
                )));
            }
            match self.rt.health(&c).map(|h| h.status) {
                None => return Ok(()),
                Some(s) if s == "healthy" => {
                    report(progress("Container", name, "Healthy"));
                    return Ok(());
                }
                Some(s) if s == "unhealthy" => {
                    return Err(Error::Dependency(format!(
                        "dependency failed to start: container {name} is unhealthy"
                    )))
                }
                Some(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

pub(crate) fn progress(kind: &'static str, name: &str, status: &str) -> Progress {
    Progress {
        kind,
        name: name.to_string(),
        status: status.to_string(),
    }
}
