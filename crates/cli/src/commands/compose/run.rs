//! `berth compose run`.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{anyhow, Result};
use berth_compose::service_container::container_request;
use berth_compose::{Engine, Project, UpOptions};
use clap::Args;

use super::project::fail;
use super::project::print_progress;
use super::project::CliImages;
use crate::commands::shared::engine_error;

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub(crate) rm: bool,
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// Disable pseudo-TTY allocation
    #[arg(short = 'T', long = "no-TTY")]
    pub(crate) no_tty: bool,
    /// Set environment variables
    #[arg(short, long = "env")]
    pub(crate) env: Vec<String>,
    /// Assign a name to the container
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Run as specified username or uid
    #[arg(short, long)]
    pub(crate) user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub(crate) workdir: Option<String>,
    /// Override the entrypoint of the image
    #[arg(long)]
    pub(crate) entrypoint: Option<String>,
    /// Run command with the service's ports enabled and mapped to the host
    #[arg(long)]
    pub(crate) service_ports: bool,
    /// Don't start linked services
    #[arg(long)]
    pub(crate) no_deps: bool,
    /// SERVICE [COMMAND] [ARGS...]
    #[arg(required = true, num_args = 1.., trailing_var_arg = true)]
    pub(crate) service_and_command: Vec<String>,
}

pub(crate) fn run(root: &Path, engine: &Engine, p: &Project, r: RunArgs) -> Result<u8> {
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    let service = r.service_and_command[0].clone();
    let svc = p
        .model
        .services
        .get(&service)
        .ok_or_else(|| anyhow!("no such service: {service}"))?
        .clone();
    let mut report = print_progress;
    // Dependencies first, as `compose run` starts them (not the service itself).
    if !r.no_deps {
        let deps: Vec<String> = svc
            .depends_on
            .iter()
            .flat_map(|d| d.entries())
            .map(|(n, _)| n)
            .collect();
        if !deps.is_empty() {
            let o = UpOptions {
                services: deps,
                ..Default::default()
            };
            engine
                .up(p, &o, &CliImages { root }, &mut report)
                .map_err(fail)?;
        }
    }
    berth_compose::ImageSource::ensure_image(
        &CliImages { root },
        &service,
        &p.image_of(&service, &svc),
        svc.build.as_ref(),
        false,
    )
    .map_err(fail)?;
    let mut req = container_request(p, &service, &svc, 1, true).map_err(fail)?;
    if r.service_and_command.len() > 1 {
        req.config.cmd = Some(r.service_and_command[1..].to_vec());
    }
    if let Some(ep) = &r.entrypoint {
        req.config.entrypoint = Some(shell_split(ep)?);
    }
    for e in &r.env {
        req.config
            .env
            .retain(|x| x.split('=').next() != e.split('=').next());
        req.config.env.push(e.clone());
    }
    if let Some(u) = &r.user {
        req.config.user = u.clone();
    }
    if let Some(w) = &r.workdir {
        req.config.working_dir = w.clone();
    }
    if !r.service_ports {
        req.host_config.port_bindings.clear();
    }
    let tty = !r.no_tty && !r.detach && std::io::stdin().is_terminal();
    req.config.tty = tty;
    req.config.open_stdin = !r.detach;
    req.config.attach_stdin = !r.detach;
    req.host_config.auto_remove = r.rm;
    let suffix = &berth_runtime::record::new_id()[..12];
    let name = r
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{service}-run-{suffix}", p.name));
    let rt = engine.rt;
    let rec = rt.create(Some(&name), &req).map_err(engine_error)?;
    if svc.network_mode.is_none() {
        for (key, settings) in p.service_networks(&svc).iter().skip(1) {
            let e = berth_compose::service_container::endpoint(&service, settings, true)
                .map_err(fail)?;
            rt.connect(&rec.id, &p.network_name(key), &e)
                .map_err(engine_error)?;
        }
    }
    if r.detach {
        rt.start_detached(&rec.id, engine.exe)
            .map_err(engine_error)?;
        println!("{name}");
        return Ok(0);
    }
    if tty {
        let keys = crate::commands::container::detach_keys(None)?;
        rt.start_for_attach(&rec.id, engine.exe)
            .map_err(engine_error)?;
        return crate::commands::container::attach_to_started(rt, &rec, keys);
    }
    crate::commands::container::run_in_foreground(rt, &rec)
}

fn shell_split(s: &str) -> Result<Vec<String>> {
    berth_compose::service_container::command_words(&berth_compose::model::Command::Shell(s.into()))
        .map_err(|e| anyhow!("--entrypoint: {e}"))
}
