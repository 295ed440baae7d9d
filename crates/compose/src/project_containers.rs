//! The containers of a project, found by Compose's labels, so that berth and `docker compose`
//! see the same project.

use berth_runtime::{ContainerRecord, Runtime};

use crate::error::Result;
use crate::service_container::{LABEL_NUMBER, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE};

/// One container of the project.
#[derive(Clone, Debug)]
pub struct ServiceContainer {
    pub service: String,
    pub number: u32,
    pub oneoff: bool,
    pub record: ContainerRecord,
}

impl ServiceContainer {
    /// As Compose's logs and ps show it: the name without the project's prefix when it has
    /// it (`web-1`).
    pub fn short_name(&self, project: &str) -> String {
        let name = &self.record.name;
        name.strip_prefix(&format!("{project}-"))
            .unwrap_or(name)
            .to_string()
    }
}

/// The project's containers (one-off `run` containers too, if `oneoff`), by service and
/// number.
pub fn project_containers(
    rt: &Runtime,
    project: &str,
    oneoff: bool,
) -> Result<Vec<ServiceContainer>> {
    let mut out: Vec<ServiceContainer> = rt
        .list()?
        .into_iter()
        .filter(|c| c.config.labels.get(LABEL_PROJECT).map(String::as_str) == Some(project))
        .filter_map(|c| {
            let l = &c.config.labels;
            let is_oneoff = l.get(LABEL_ONEOFF).map(String::as_str) == Some("True");
            Some(ServiceContainer {
                service: l.get(LABEL_SERVICE)?.clone(),
                number: l
                    .get(LABEL_NUMBER)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
                oneoff: is_oneoff,
                record: c,
            })
        })
        .filter(|c| oneoff || !c.oneoff)
        .collect();
    out.sort_by(|a, b| {
        (&a.service, a.number, &a.record.name).cmp(&(&b.service, b.number, &b.record.name))
    });
    Ok(out)
}

/// The names of projects that have containers here, with their containers (`compose ls`).
pub fn projects(rt: &Runtime) -> Result<Vec<(String, Vec<ContainerRecord>)>> {
    let mut map: std::collections::BTreeMap<String, Vec<ContainerRecord>> = Default::default();
    for c in rt.list()? {
        if let Some(p) = c.config.labels.get(LABEL_PROJECT).cloned() {
            map.entry(p).or_default().push(c);
        }
    }
    Ok(map.into_iter().collect())
}
