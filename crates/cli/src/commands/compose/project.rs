//! Loading the project (files, `-p`, `--env-file`, profiles) and the CLI's image source (pull and
//! build as `berth pull` and `berth build`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use berth_compose::model::Build;
use berth_compose::project_containers::{project_containers, ServiceContainer};
use berth_compose::{Progress, Project, ProjectOptions};
use clap::{Args, Parser};

use super::command::ComposeArgs;
use crate::commands::shared::ExitError;

#[derive(Args)]
pub(crate) struct Services {
    pub(crate) services: Vec<String>,
}

/// Compose exits 1 on any failure of its own (a bad file, a failed dependency).
pub(crate) fn fail(e: berth_compose::Error) -> anyhow::Error {
    anyhow::Error::new(ExitError {
        code: 1,
        message: e.to_string(),
    })
}

/// Compose's progress lines, on stderr: ` Container demo-web-1  Started`.
pub(crate) fn print_progress(p: Progress) {
    eprintln!(" {} {}  {}", p.kind, p.name, p.status);
}

pub(crate) fn load_project(a: &ComposeArgs) -> Result<Project> {
    let environment: BTreeMap<String, String> = std::env::vars().collect();
    let mut files = a.file.clone();
    if files.is_empty() {
        if let Some(f) = environment.get("COMPOSE_FILE").filter(|f| !f.is_empty()) {
            let sep = environment
                .get("COMPOSE_PATH_SEPARATOR")
                .cloned()
                .unwrap_or_else(|| ":".into());
            files = f.split(sep.as_str()).map(PathBuf::from).collect();
        }
    }
    let o = ProjectOptions {
        files,
        project_directory: a.project_directory.clone(),
        project_name: a.project_name.clone(),
        env_files: a.env_file.clone(),
        profiles: a.profile.clone(),
        environment,
        working_dir: std::env::current_dir()?,
    };
    let p = berth_compose::load(&o).map_err(fail)?;
    for w in &p.warnings {
        eprintln!("WARN[0000] {w}");
    }
    Ok(p)
}

/// Images for `up`, `run`, `build` and `pull`: present, pulled (as `berth pull`) or built
/// (as `berth build`).
pub(crate) struct CliImages<'a> {
    pub(crate) root: &'a Path,
}

impl CliImages<'_> {
    fn exists(&self, image: &str) -> bool {
        berth_image::Store::open(self.root)
            .and_then(|s| s.lookup(image))
            .is_ok()
    }

    pub(crate) fn build(&self, image: &str, b: &Build) -> std::result::Result<(), String> {
        let r = b.request();
        let mut argv: Vec<String> = vec!["build".into(), "-t".into(), image.into()];
        if let Some(f) = r.dockerfile {
            argv.extend(["-f".into(), f]);
        }
        for a in r.args {
            argv.extend(["--build-arg".into(), a]);
        }
        if let Some(t) = r.target {
            argv.extend(["--target".into(), t]);
        }
        for c in r.cache_from {
            argv.extend(["--cache-from".into(), c]);
        }
        for (k, v) in r.labels {
            argv.extend(["--label".into(), format!("{k}={v}")]);
        }
        argv.push(r.context);
        let cl = BuildCommandLine::try_parse_from(&argv).map_err(|e| e.to_string())?;
        match crate::commands::build::build_in_host_namespace(self.root, cl.args) {
            Ok(0) => Ok(()),
            Ok(code) => Err(format!("failed to build {image}: exit status {code}")),
            Err(e) => Err(format!("failed to build {image}: {e}")),
        }
    }
}

impl berth_compose::ImageSource for CliImages<'_> {
    fn ensure_image(
        &self,
        service: &str,
        image: &str,
        build: Option<&Build>,
        force_build: bool,
    ) -> berth_compose::Result<()> {
        if !force_build && self.exists(image) {
            return Ok(());
        }
        let r = match build {
            Some(b) => self.build(image, b),
            None => crate::commands::registry::pull_to_stderr(self.root, image, None)
                .map_err(|e| e.to_string()),
        };
        r.map_err(|e| berth_compose::Error::Dependency(format!("service {service:?}: {e}")))
    }
}

#[derive(Parser)]
struct BuildCommandLine {
    #[command(flatten)]
    pub(crate) args: crate::commands::build::BuildArgs,
}

pub(crate) fn service_container(
    rt: &berth_runtime::Runtime,
    p: &Project,
    service: &str,
    index: u32,
) -> Result<ServiceContainer> {
    if !p.model.services.contains_key(service) {
        bail!(ExitError {
            code: 1,
            message: format!("no such service: {service}")
        });
    }
    project_containers(rt, &p.name, false)
        .map_err(fail)?
        .into_iter()
        .find(|c| c.service == service && c.number == index && c.record.state.running())
        .ok_or_else(|| {
            anyhow::Error::new(ExitError {
                code: 1,
                message: format!("service {service:?} is not running"),
            })
        })
}
