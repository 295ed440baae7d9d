//! `berth compose`: its global flags, its subcommands and what runs each.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use berth_compose::compose_down::DownOptions;
use berth_compose::compose_lifecycle::Verb;
use berth_compose::project_containers::ServiceContainer;
use berth_compose::{Engine, Project};
use clap::{Args, Subcommand};

use super::config::config;
use super::config::ConfigArgs;
use super::cp::cp;
use super::cp::ServiceCpArgs;
use super::down::DownArgs;
use super::events::events;
use super::events::EventsArgs;
use super::exec::exec;
use super::exec::ExecArgs;
use super::images::images;
use super::lifecycle::KillArgs;
use super::lifecycle::RmArgs;
use super::lifecycle::StopArgs;
use super::logs::logs;
use super::logs::LogsArgs;
use super::ls::ls;
use super::ls::LsArgs;
use super::port::port;
use super::port::PortArgs;
use super::project::fail;
use super::project::load_project;
use super::project::print_progress;
use super::project::CliImages;
use super::project::Services;
use super::ps::ps;
use super::ps::PsArgs;
use super::push::push;
use super::push::PushArgs;
use super::run::run;
use super::run::RunArgs;
use super::top::top;
use super::up::up;
use super::up::UpArgs;
use crate::commands::shared::open;

#[derive(Args)]
pub struct ComposeArgs {
    /// Compose configuration files
    #[arg(short = 'f', long = "file")]
    pub(crate) file: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name")]
    pub(crate) project_name: Option<String>,
    /// Specify an alternate working directory (default: the path of the first Compose file)
    #[arg(long)]
    pub(crate) project_directory: Option<PathBuf>,
    /// Specify an alternate environment file
    #[arg(long = "env-file")]
    pub(crate) env_file: Vec<PathBuf>,
    /// Specify a profile to enable
    #[arg(long)]
    pub(crate) profile: Vec<String>,
    #[command(subcommand)]
    pub(crate) cmd: ComposeCommand,
}

#[derive(Subcommand)]
pub(crate) enum ComposeCommand {
    /// Create and start containers
    Up(UpArgs),
    /// Stop and remove containers, networks
    Down(DownArgs),
    /// List containers
    Ps(PsArgs),
    /// View output from containers
    Logs(LogsArgs),
    /// Parse, resolve and render compose file in canonical format
    Config(ConfigArgs),
    /// Start services
    Start(Services),
    /// Stop services
    Stop(StopArgs),
    /// Restart service containers
    Restart(StopArgs),
    /// Force stop service containers
    Kill(KillArgs),
    /// Removes stopped service containers
    Rm(RmArgs),
    /// Pause services
    Pause(Services),
    /// Unpause services
    Unpause(Services),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Run a one-off command on a service
    Run(RunArgs),
    /// Build or rebuild services
    Build(Services),
    /// Pull service images
    Pull(Services),
    /// List images used by the created containers
    Images(Services),
    /// Print the public port for a port binding
    Port(PortArgs),
    /// Display the running processes
    Top(Services),
    /// Copy files/folders between a service container and the local filesystem
    #[command(
        override_usage = "berth compose cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n       berth compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH"
    )]
    Cp(ServiceCpArgs),
    /// Receive real time events from containers
    Events(EventsArgs),
    /// Push service images
    Push(PushArgs),
    /// List running compose projects
    Ls(LsArgs),
    /// Show the Docker Compose version information
    Version,
}

pub fn compose(root: &Path, a: ComposeArgs) -> Result<u8> {
    if let ComposeCommand::Version = a.cmd {
        println!(
            "berth compose version v{} (Compose file format {})",
            env!("CARGO_PKG_VERSION"),
            berth_compose::service_container::COMPOSE_VERSION
        );
        return Ok(0);
    }
    let rt = open(root)?;
    let exe = std::env::current_exe()?;
    let engine = Engine { rt: &rt, exe: &exe };
    if let ComposeCommand::Ls(l) = &a.cmd {
        return ls(&rt, l);
    }
    let p = load_project(&a)?;
    let mut report = print_progress;
    match a.cmd {
        ComposeCommand::Up(u) => up(root, &engine, &p, u),
        ComposeCommand::Down(d) => {
            let rmi = d.rmi.as_deref().map(str::parse).transpose().map_err(fail)?;
            let o = DownOptions {
                volumes: d.volumes,
                remove_orphans: d.remove_orphans,
                rmi,
            };
            engine.down(&p, &o, &mut report).map_err(fail)?;
            Ok(0)
        }
        ComposeCommand::Ps(ps_args) => ps(&rt, &p, ps_args),
        ComposeCommand::Logs(l) => logs(&rt, &p, l),
        ComposeCommand::Config(c) => config(&p, c),
        ComposeCommand::Start(s) => verb(&engine, &p, &s.services, Verb::Start),
        ComposeCommand::Stop(s) => {
            verb(&engine, &p, &s.services, Verb::Stop { timeout: s.timeout })
        }
        ComposeCommand::Restart(s) => verb(
            &engine,
            &p,
            &s.services,
            Verb::Restart { timeout: s.timeout },
        ),
        ComposeCommand::Kill(k) => verb(&engine, &p, &k.services, Verb::Kill { signal: k.signal }),
        ComposeCommand::Rm(r) => {
            let stopped: Vec<ServiceContainer> = engine
                .containers_of(&p, &r.services)
                .map_err(fail)?
                .into_iter()
                .filter(|c| r.stop || !c.record.state.running())
                .collect();
            if stopped.is_empty() {
                eprintln!("No stopped containers");
                return Ok(0);
            }
            if !r.force {
                let names: Vec<&str> = stopped.iter().map(|c| c.record.name.as_str()).collect();
                let ok = crate::output::confirm(&format!("Going to remove {}", names.join(", ")))?;
                if !ok {
                    return Ok(0);
                }
            }
            let v = Verb::Remove {
                stop: r.stop,
                volumes: r.volumes,
            };
            verb(&engine, &p, &r.services, v)
        }
        ComposeCommand::Pause(s) => verb(&engine, &p, &s.services, Verb::Pause),
        ComposeCommand::Unpause(s) => verb(&engine, &p, &s.services, Verb::Unpause),
        ComposeCommand::Exec(e) => exec(root, &rt, &p, e),
        ComposeCommand::Run(r) => run(root, &engine, &p, r),
        ComposeCommand::Build(s) => {
            let images = CliImages { root };
            for name in p.services_in_order(&s.services).map_err(fail)? {
                let svc = &p.model.services[&name];
                if !s.services.is_empty() && !s.services.contains(&name) {
                    continue;
                }
                if let Some(b) = &svc.build {
                    images
                        .build(&p.image_of(&name, svc), b)
                        .map_err(|e| anyhow!("service {name:?}: {e}"))?;
                }
            }
            Ok(0)
        }
        ComposeCommand::Pull(s) => {
            for name in p.services_in_order(&s.services).map_err(fail)? {
                let svc = &p.model.services[&name];
                if let Some(image) = &svc.image {
                    // A service that is built is not pulled (Compose skips those it cannot pull).
                    if svc.build.is_none() {
                        crate::commands::registry::pull_to_stderr(root, image, None)?;
                    }
                }
            }
            Ok(0)
        }
        ComposeCommand::Images(s) => images(&rt, &p, &s.services),
        ComposeCommand::Port(pa) => port(&rt, &p, pa),
        ComposeCommand::Top(s) => top(&engine, &p, &s.services),
        ComposeCommand::Cp(c) => cp(root, &rt, &p, c),
        ComposeCommand::Events(e) => events(&engine, &p, e),
        ComposeCommand::Push(a) => push(root, &p, a),
        ComposeCommand::Ls(_) | ComposeCommand::Version => Ok(0),
    }
}

fn verb(engine: &Engine, p: &Project, services: &[String], v: Verb) -> Result<u8> {
    let mut report = print_progress;
    engine.apply(p, services, &v, &mut report).map_err(fail)?;
    Ok(0)
}
