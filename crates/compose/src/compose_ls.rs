//! `compose ls`: the projects that have containers here, from their Compose labels (as
//! Compose finds them), and a project loaded back from the files its containers name, for
//! front ends that act on a project without a command line (the dashboard's up and down).

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_runtime::Runtime;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::interpolation::Variables;
use crate::project_containers::projects;
use crate::project_load::{load, Project, ProjectOptions};
use crate::service_container::{LABEL_CONFIG_FILES, LABEL_WORKING_DIR};

/// One row of `compose ls`, with Compose's JSON field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectSummary {
    pub name: String,
    /// `exited(1), running(2)`: each state's count, in name order.
    pub status: String,
    /// The files, comma-separated, as the containers' label has them.
    pub config_files: String,
    pub working_dir: String,
    /// How many of its containers run (not in Compose's JSON).
    #[serde(skip)]
    pub running: usize,
}

/// The projects with containers here; without `all`, only those with a running container.
pub fn list_projects(rt: &Runtime, all: bool) -> Result<Vec<ProjectSummary>> {
    let mut out = Vec::new();
    for (name, cs) in projects(rt)? {
        let running = cs.iter().filter(|c| c.state.running()).count();
        if running == 0 && !all {
            continue;
        }
        let mut states: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &cs {
            *states.entry(c.state.docker_status()).or_default() += 1;
        }
        let status = states
            .iter()
            .map(|(s, n)| format!("{s}({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        let label = |key: &str| {
            cs.iter()
                .find_map(|c| c.config.labels.get(key).cloned())
                .unwrap_or_default()
        };
        out.push(ProjectSummary {
            name,
            status,
            config_files: label(LABEL_CONFIG_FILES),
            working_dir: label(LABEL_WORKING_DIR),
            running,
        });
    }
    Ok(out)
}

/// The project `name` loaded again from the files and directory its containers were made
/// from, with `environment` for interpolation (the front end's process environment).
pub fn load_project_of(rt: &Runtime, name: &str, environment: Variables) -> Result<Project> {
    let summary = list_projects(rt, true)?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::NotFound(format!("no such project: {name}")))?;
    if summary.config_files.is_empty() {
        return Err(Error::NotFound(format!(
            "project {name}: its containers do not name their compose files"
        )));
    }
    let files: Vec<PathBuf> = summary.config_files.split(',').map(PathBuf::from).collect();
    let working_dir = PathBuf::from(&summary.working_dir);
    load(&ProjectOptions {
        files,
        project_directory: Some(working_dir.clone()).filter(|d| !d.as_os_str().is_empty()),
        project_name: Some(name.to_string()),
        environment,
        working_dir,
        ..ProjectOptions::default()
    })
}
