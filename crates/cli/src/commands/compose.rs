//! `berth compose …`: Compose's flags in, berth_compose's operations, Compose's output out.
//! Images come through `CliImages` (pull with the CLI's credentials, build with the CLI's
//! build), so compose behaves as `berth pull` and `berth build` do.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use berth_compose::compose_down::DownOptions;
use berth_compose::compose_lifecycle::Verb;
use berth_compose::model::Build;
use berth_compose::project_containers::{project_containers, ServiceContainer};
use berth_compose::service_container::container_request;
use berth_compose::{Engine, Progress, Project, ProjectOptions, UpOptions};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use super::container::{engine_error, open, ExitError};
use crate::output::human_since;

#[derive(Args)]
pub struct ComposeArgs {
    /// Compose configuration files
    #[arg(short = 'f', long = "file")]
    file: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name")]
    project_name: Option<String>,
    /// Specify an alternate working directory (default: the path of the first Compose file)
    #[arg(long)]
    project_directory: Option<PathBuf>,
    /// Specify an alternate environment file
    #[arg(long = "env-file")]
    env_file: Vec<PathBuf>,
    /// Specify a profile to enable
    #[arg(long)]
    profile: Vec<String>,
    #[command(subcommand)]
    cmd: ComposeCommand,
}

#[derive(Subcommand)]
enum ComposeCommand {
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

#[derive(Args)]
struct Services {
    services: Vec<String>,
}

#[derive(Args)]
struct UpArgs {
    /// Detached mode: Run containers in the background
    #[arg(short, long)]
    detach: bool,
    /// Build images before starting containers
    #[arg(long)]
    build: bool,
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long)]
    force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long, conflicts_with = "force_recreate")]
    no_recreate: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    remove_orphans: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    no_start: bool,
    /// Wait for services to be running|healthy. Implies detached mode
    #[arg(long)]
    wait: bool,
    /// Scale SERVICE to NUM instances
    #[arg(long, value_name = "SERVICE=NUM")]
    scale: Vec<String>,
    /// Stops all containers if any container was stopped
    #[arg(long)]
    abort_on_container_exit: bool,
    /// Return the exit code of the selected service container
    #[arg(long, value_name = "SERVICE")]
    exit_code_from: Option<String>,
    /// Produce monochrome output
    #[arg(long)]
    no_color: bool,
    services: Vec<String>,
}

#[derive(Args)]
struct DownArgs {
    /// Remove named volumes declared in the "volumes" section and anonymous volumes
    #[arg(short, long)]
    volumes: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    remove_orphans: bool,
    /// Remove images used by services: "local" (those without a custom tag) or "all"
    #[arg(long)]
    rmi: Option<String>,
}

#[derive(Args)]
struct PsArgs {
    /// Show all stopped containers (including those created by the run command)
    #[arg(short, long)]
    all: bool,
    /// Only display IDs
    #[arg(short, long)]
    quiet: bool,
    /// Display services
    #[arg(long)]
    services: bool,
    /// Format output using a custom template: 'table', 'json' or a Go template
    #[arg(long)]
    format: Option<String>,
    services_named: Vec<String>,
}

#[derive(Args)]
struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long)]
    tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Produce monochrome output
    #[arg(long)]
    no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    no_log_prefix: bool,
    services: Vec<String>,
}

#[derive(Args)]
struct ConfigArgs {
    /// Format the output: yaml or json
    #[arg(long, default_value = "yaml")]
    format: String,
    /// Print the service names, one per line
    #[arg(long)]
    services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    volumes: bool,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct StopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long = "timeout")]
    timeout: Option<u64>,
    services: Vec<String>,
}

#[derive(Args)]
struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short, long, default_value = "SIGKILL")]
    signal: String,
    services: Vec<String>,
}

#[derive(Args)]
struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short, long)]
    force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short, long)]
    stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short, long)]
    volumes: bool,
    services: Vec<String>,
}

#[derive(Args)]
struct ExecArgs {
    /// Disable pseudo-TTY allocation
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// Detached mode: Run command in the background
    #[arg(short, long)]
    detach: bool,
    /// Set environment variables
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Path to workdir directory for this command
    #[arg(short, long)]
    workdir: Option<String>,
    /// Run the command as this user
    #[arg(short, long)]
    user: Option<String>,
    /// Give extended privileges to the process
    #[arg(long)]
    privileged: bool,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    index: u32,
    /// SERVICE COMMAND [ARGS...]
    #[arg(required = true, num_args = 2.., trailing_var_arg = true)]
    service_and_command: Vec<String>,
}

#[derive(Args)]
struct RunArgs {
    /// Automatically remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Run container in background and print container ID
    #[arg(short, long)]
    detach: bool,
    /// Disable pseudo-TTY allocation
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// Set environment variables
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Run as specified username or uid
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Override the entrypoint of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Run command with the service's ports enabled and mapped to the host
    #[arg(long)]
    service_ports: bool,
    /// Don't start linked services
    #[arg(long)]
    no_deps: bool,
    /// SERVICE [COMMAND] [ARGS...]
    #[arg(required = true, num_args = 1.., trailing_var_arg = true)]
    service_and_command: Vec<String>,
}

#[derive(Args)]
struct PortArgs {
    /// index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    index: u32,
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    protocol: String,
    service: String,
    private_port: u16,
}

/// `berth cp`'s flags, with SERVICE in place of CONTAINER.
#[derive(Args)]
struct ServiceCpArgs {
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    index: u32,
    #[command(flatten)]
    copy: super::container::CpArgs,
}

#[derive(Args)]
struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    json: bool,
    services: Vec<String>,
}

#[derive(Args)]
struct PushArgs {
    /// Push what it can and ignores images with push failures
    #[arg(long)]
    ignore_push_failures: bool,
    /// Push without printing progress information
    #[arg(short, long)]
    quiet: bool,
    services: Vec<String>,
}

#[derive(Args)]
struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short, long)]
    all: bool,
    /// Only display project names
    #[arg(short, long)]
    quiet: bool,
    /// Format the output: table or json
    #[arg(long, default_value = "table")]
    format: String,
}

/// Compose exits 1 on any failure of its own (a bad file, a failed dependency).
fn fail(e: berth_compose::Error) -> anyhow::Error {
    anyhow::Error::new(ExitError {
        code: 1,
        message: e.to_string(),
    })
}

/// Compose's progress lines, on stderr: ` Container demo-web-1  Started`.
fn print_progress(p: Progress) {
    eprintln!(" {} {}  {}", p.kind, p.name, p.status);
}

fn load_project(a: &ComposeArgs) -> Result<Project> {
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
struct CliImages<'a> {
    root: &'a Path,
}

#[derive(Parser)]
struct BuildCommandLine {
    #[command(flatten)]
    args: super::build::BuildArgs,
}

impl CliImages<'_> {
    fn exists(&self, image: &str) -> bool {
        berth_image::Store::open(self.root)
            .and_then(|s| s.lookup(image))
            .is_ok()
    }

    fn build(&self, image: &str, b: &Build) -> std::result::Result<(), String> {
        let mut argv: Vec<String> = vec!["build".into(), "-t".into(), image.into()];
        let context = match b {
            Build::Context(c) => c.clone(),
            Build::Long(l) => {
                if let Some(f) = &l.dockerfile {
                    argv.push("-f".into());
                    let base = l.context.clone().unwrap_or_else(|| ".".into());
                    argv.push(if f.starts_with('/') {
                        f.clone()
                    } else {
                        format!("{base}/{f}")
                    });
                }
                for (k, v) in l.args.iter().flat_map(|a| a.pairs(&['='])) {
                    argv.push("--build-arg".into());
                    argv.push(match v {
                        Some(v) => format!("{k}={v}"),
                        None => k,
                    });
                }
                if let Some(t) = &l.target {
                    argv.push("--target".into());
                    argv.push(t.clone());
                }
                for c in &l.cache_from {
                    argv.push("--cache-from".into());
                    argv.push(c.clone());
                }
                for (k, v) in l.labels.iter().flat_map(|a| a.pairs(&['='])) {
                    argv.push("--label".into());
                    argv.push(format!("{k}={}", v.unwrap_or_default()));
                }
                l.context.clone().unwrap_or_else(|| ".".into())
            }
        };
        argv.push(context);
        let cl = BuildCommandLine::try_parse_from(&argv).map_err(|e| e.to_string())?;
        match super::build::build_in_host_namespace(self.root, cl.args) {
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
            None => {
                super::registry::pull_to_stderr(self.root, image, None).map_err(|e| e.to_string())
            }
        };
        r.map_err(|e| berth_compose::Error::Dependency(format!("service {service:?}: {e}")))
    }
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
                        super::registry::pull_to_stderr(root, image, None)?;
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

fn up(root: &Path, engine: &Engine, p: &Project, u: UpArgs) -> Result<u8> {
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    let mut scale = BTreeMap::new();
    for s in &u.scale {
        let (svc, n) = s
            .split_once('=')
            .and_then(|(s, n)| Some((s.to_string(), n.parse::<u32>().ok()?)))
            .ok_or_else(|| anyhow!("invalid --scale {s:?}: expected SERVICE=NUM"))?;
        scale.insert(svc, n);
    }
    let o = UpOptions {
        services: u.services.clone(),
        force_recreate: u.force_recreate,
        no_recreate: u.no_recreate,
        remove_orphans: u.remove_orphans,
        build: u.build,
        scale,
        no_start: u.no_start,
        wait: u.wait,
    };
    let mut report = print_progress;
    let started = engine
        .up(p, &o, &CliImages { root }, &mut report)
        .map_err(fail)?;
    if u.detach || u.wait || u.no_start {
        return Ok(0);
    }
    // Attached: every started container's output, prefixed, until they have all exited (or,
    // with --abort-on-container-exit / --exit-code-from, until one has).
    let abort = u.abort_on_container_exit || u.exit_code_from.is_some();
    let color = !u.no_color && std::io::stdout().is_terminal();
    let code = follow(
        engine,
        p,
        &started,
        color,
        abort,
        u.exit_code_from.as_deref(),
    )?;
    Ok(code)
}

/// Compose's colours for service prefixes, in its order.
const COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

fn prefixes(p: &Project, cs: &[ServiceContainer], color: bool) -> Vec<String> {
    let width = cs
        .iter()
        .map(|c| c.short_name(&p.name).len())
        .max()
        .unwrap_or(0);
    cs.iter()
        .enumerate()
        .map(|(i, c)| {
            let name = format!("{:width$}", c.short_name(&p.name));
            if color {
                format!("\x1b[{}m{name}  |\x1b[0m ", COLORS[i % COLORS.len()])
            } else {
                format!("{name}  | ")
            }
        })
        .collect()
}

/// Follows the logs of `cs` until all (or, with `abort`, one) have exited; the exit code
/// Compose returns.
fn follow(
    engine: &Engine,
    p: &Project,
    cs: &[ServiceContainer],
    color: bool,
    abort: bool,
    exit_code_from: Option<&str>,
) -> Result<u8> {
    use berth_runtime::container_logs::LogOptions;
    let rt = engine.rt;
    let pre = prefixes(p, cs, color);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Option<i32>)>();
    let out = std::sync::Mutex::new(());
    let code = std::thread::scope(|scope| -> Result<u8> {
        for (i, c) in cs.iter().enumerate() {
            let (tx, pre, out) = (tx.clone(), &pre[i], &out);
            scope.spawn(move || {
                let options = LogOptions {
                    follow: true,
                    ..LogOptions::default()
                };
                if let Ok(entries) = rt.logs(&c.record.id, &options) {
                    for e in entries {
                        let _g = out.lock();
                        let mut o = std::io::stdout().lock();
                        let line = e.log.strip_suffix('\n').unwrap_or(&e.log);
                        let _ = writeln!(o, "{pre}{line}");
                        let _ = o.flush();
                    }
                }
                let code = rt.wait(&c.record.id).ok();
                let _ = tx.send((i, code));
            });
        }
        drop(tx);
        let mut result = 0u8;
        let mut first_exit: Option<(usize, i32)> = None;
        let interrupted = on_first_interrupt();
        loop {
            let (i, code) = match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(x) => x,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if !interrupted.load(std::sync::atomic::Ordering::SeqCst) {
                        continue;
                    }
                    // Ctrl-C: stop the project's containers, as Compose does; a second
                    // Ctrl-C ends berth at once (the handler is one-shot).
                    eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                    let mut report = print_progress;
                    engine
                        .apply(p, &[], &Verb::Stop { timeout: None }, &mut report)
                        .map_err(fail)?;
                    for _ in rx.iter() {}
                    return Ok(130);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let c = &cs[i];
            let exit = code.unwrap_or(-1);
            println!("{} exited with code {exit}", c.short_name(&p.name));
            if first_exit.is_none() {
                first_exit = Some((i, exit));
            }
            if exit_code_from == Some(c.service.as_str()) {
                result = exit.clamp(0, 255) as u8;
            }
            if abort {
                eprintln!("Aborting on container exit...");
                let mut report = print_progress;
                let services: Vec<String> = Vec::new();
                engine
                    .apply(p, &services, &Verb::Stop { timeout: None }, &mut report)
                    .map_err(fail)?;
                if exit_code_from.is_none() {
                    result = exit.clamp(0, 255) as u8;
                }
                // The stops end the other followers; drain them.
                for _ in rx.iter() {}
                break;
            }
        }
        Ok(result)
    })?;
    Ok(code)
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// A flag set by the first SIGINT; the handler resets itself, so a second one kills berth.
fn on_first_interrupt() -> &'static std::sync::atomic::AtomicBool {
    // SAFETY: the handler only stores to an atomic (async-signal-safe); SA_RESETHAND makes it
    // one-shot, and the sigaction struct is fully initialised before the call.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = note_interrupt as *const () as usize;
        sa.sa_flags = libc::SA_RESETHAND;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
    &INTERRUPTED
}

fn ps(rt: &berth_runtime::Runtime, p: &Project, a: PsArgs) -> Result<u8> {
    if a.services {
        for s in p.services_in_order(&[]).map_err(fail)? {
            println!("{s}");
        }
        return Ok(0);
    }
    let list: Vec<ServiceContainer> = project_containers(rt, &p.name, a.all)
        .map_err(fail)?
        .into_iter()
        .filter(|c| a.all || c.record.state.running())
        .filter(|c| a.services_named.is_empty() || a.services_named.contains(&c.service))
        .collect();
    if a.quiet {
        for c in &list {
            println!("{}", c.record.id);
        }
        return Ok(0);
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|c| {
            let r = &c.record;
            json!({
                "ID": r.id,
                "Name": r.name,
                "Names": r.name,
                "Image": r.image,
                "Command": super::container::command_text(r, false),
                "Project": p.name,
                "Service": c.service,
                "CreatedAt": crate::output::created_at(Some(&r.created)),
                "RunningFor": human_since(Some(&r.created)),
                "State": r.state.docker_status(),
                "Status": rt.status_text(r),
                "Health": rt.health(r).map(|h| h.status).unwrap_or_default(),
                "ExitCode": r.state.exit_code,
                "Ports": rt.ports_text(r),
                "Labels": r.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            })
        })
        .collect();
    if a.format.as_deref() == Some("json") {
        // Compose prints one JSON object per line.
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(0);
    }
    super::image::print_table(
        a.format.as_deref(),
        "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}",
        &[
            ("Name", "NAME"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("Service", "SERVICE"),
            ("RunningFor", "CREATED"),
            ("Status", "STATUS"),
            ("Ports", "PORTS"),
            ("ID", "CONTAINER ID"),
            ("State", "STATE"),
        ],
        &rows,
    )
}

fn logs(rt: &berth_runtime::Runtime, p: &Project, a: LogsArgs) -> Result<u8> {
    use berth_runtime::container_logs::LogOptions;
    let tail = match a.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            super::container::flag_error("-n, --tail", n, "expected a number or \"all\"")
        })?),
    };
    let cs: Vec<ServiceContainer> = project_containers(rt, &p.name, false)
        .map_err(fail)?
        .into_iter()
        .filter(|c| a.services.is_empty() || a.services.contains(&c.service))
        .collect();
    let color = !a.no_color && std::io::stdout().is_terminal();
    let pre = if a.no_log_prefix {
        vec![String::new(); cs.len()]
    } else {
        prefixes(p, &cs, color)
    };
    let out = std::sync::Mutex::new(());
    std::thread::scope(|scope| {
        for (i, c) in cs.iter().enumerate() {
            let (pre, out) = (&pre[i], &out);
            let options = LogOptions {
                follow: a.follow,
                tail,
                ..LogOptions::default()
            };
            let timestamps = a.timestamps;
            scope.spawn(move || {
                let Ok(entries) = rt.logs(&c.record.id, &options) else {
                    return;
                };
                for e in entries {
                    let _g = out.lock();
                    let line = e.log.strip_suffix('\n').unwrap_or(&e.log);
                    let ts = if timestamps {
                        format!("{} ", e.time)
                    } else {
                        String::new()
                    };
                    let text = format!("{pre}{ts}{line}\n");
                    let w = if e.stream == "stderr" {
                        std::io::stderr().lock().write_all(text.as_bytes())
                    } else {
                        let mut o = std::io::stdout().lock();
                        o.write_all(text.as_bytes()).and_then(|_| o.flush())
                    };
                    if w.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(0)
}

fn config(p: &Project, c: ConfigArgs) -> Result<u8> {
    if c.quiet {
        return Ok(0);
    }
    if c.services {
        for s in p.model.services.keys() {
            println!("{s}");
        }
        return Ok(0);
    }
    if c.volumes {
        for v in p.model.volumes.keys() {
            println!("{v}");
        }
        return Ok(0);
    }
    let mut model = serde_json::to_value(&p.model)?;
    model["name"] = json!(p.name);
    match c.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&model)?),
        "yaml" => print!("{}", serde_yaml_ng::to_string(&model)?),
        f => bail!("unsupported format {f:?}: expected yaml or json"),
    }
    Ok(0)
}

fn service_container(
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

#[derive(Parser)]
struct ExecCommandLine {
    #[command(flatten)]
    args: super::container::ExecArgs,
}

fn exec(root: &Path, rt: &berth_runtime::Runtime, p: &Project, e: ExecArgs) -> Result<u8> {
    let service = &e.service_and_command[0];
    let c = service_container(rt, p, service, e.index)?;
    let mut argv: Vec<String> = vec!["exec".into()];
    if e.detach {
        argv.push("-d".into());
    } else {
        argv.push("-i".into());
        if !e.no_tty && std::io::stdin().is_terminal() {
            argv.push("-t".into());
        }
    }
    for v in &e.env {
        argv.extend(["-e".into(), v.clone()]);
    }
    if let Some(w) = &e.workdir {
        argv.extend(["-w".into(), w.clone()]);
    }
    if let Some(u) = &e.user {
        argv.extend(["-u".into(), u.clone()]);
    }
    if e.privileged {
        argv.push("--privileged".into());
    }
    argv.push(c.record.id.clone());
    argv.extend(e.service_and_command[1..].iter().cloned());
    let cl = ExecCommandLine::try_parse_from(&argv).map_err(|x| anyhow!("{x}"))?;
    super::container::exec(root, cl.args)
}

fn run(root: &Path, engine: &Engine, p: &Project, r: RunArgs) -> Result<u8> {
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
        let keys = super::container::detach_keys(None)?;
        rt.start_for_attach(&rec.id, engine.exe)
            .map_err(engine_error)?;
        return super::container::attach_to_started(rt, &rec, keys);
    }
    super::container::run_in_foreground(rt, &rec)
}

fn shell_split(s: &str) -> Result<Vec<String>> {
    berth_compose::service_container::command_words(&berth_compose::model::Command::Shell(s.into()))
        .map_err(|e| anyhow!("--entrypoint: {e}"))
}

fn images(rt: &berth_runtime::Runtime, p: &Project, services: &[String]) -> Result<u8> {
    let store = berth_image::Store::open(rt.root())?;
    let mut text = String::from("CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE\n");
    for c in project_containers(rt, &p.name, false).map_err(fail)? {
        if !services.is_empty() && !services.contains(&c.service) {
            continue;
        }
        let (repo, tag) = match c
            .record
            .image
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
        {
            Some((r, t)) => (r.to_string(), t.to_string()),
            None => (c.record.image.clone(), "latest".to_string()),
        };
        let size = store
            .lookup(&c.record.image)
            .map(|i| i.manifest.layers().iter().map(|l| l.size()).sum::<u64>())
            .unwrap_or(0);
        let id = c.record.image_id.trim_start_matches("sha256:");
        text.push_str(&format!(
            "{}\t{repo}\t{tag}\t{}\t{}\n",
            c.record.name,
            &id[..id.len().min(12)],
            crate::output::human_size(size)
        ));
    }
    print!("{}", crate::output::tabulate(&text));
    Ok(0)
}

fn port(rt: &berth_runtime::Runtime, p: &Project, a: PortArgs) -> Result<u8> {
    let c = service_container(rt, p, &a.service, a.index)?;
    let key = format!("{}/{}", a.private_port, a.protocol);
    let found = rt
        .networking()
        .published(&c.record.id)
        .into_iter()
        .find(|m| format!("{}/{}", m.container_port, m.proto.as_str()) == key);
    match found {
        Some(m) => {
            println!("{}:{}", m.host_ip, m.host_port);
            Ok(0)
        }
        None => bail!(ExitError {
            code: 1,
            message: format!("no port {key} for container {}", c.record.name)
        }),
    }
}

fn ls(rt: &berth_runtime::Runtime, a: &LsArgs) -> Result<u8> {
    let rows: Vec<(String, String, String)> = berth_compose::compose_ls::list_projects(rt, a.all)
        .map_err(fail)?
        .into_iter()
        .map(|p| (p.name, p.status, p.config_files))
        .collect();
    if a.quiet {
        for (n, _, _) in rows {
            println!("{n}");
        }
        return Ok(0);
    }
    if a.format == "json" {
        let v: Vec<Value> = rows
            .iter()
            .map(|(n, s, f)| json!({"Name": n, "Status": s, "ConfigFiles": f}))
            .collect();
        println!("{}", serde_json::to_string(&v)?);
        return Ok(0);
    }
    let mut text = String::from("NAME\tSTATUS\tCONFIG FILES\n");
    for (n, s, f) in rows {
        text.push_str(&format!("{n}\t{s}\t{f}\n"));
    }
    print!("{}", crate::output::tabulate(&text));
    Ok(0)
}

/// `compose top`: each running container's processes, under its name.
fn top(engine: &Engine, p: &Project, services: &[String]) -> Result<u8> {
    let mut cs: Vec<ServiceContainer> = engine
        .containers_of(p, services)
        .map_err(fail)?
        .into_iter()
        .filter(|c| c.record.state.running())
        .collect();
    cs.sort_by(|a, b| a.record.name.cmp(&b.record.name));
    for c in &cs {
        let r = engine.rt.top(&c.record.id, &[]).map_err(engine_error)?;
        println!("{}", c.record.name);
        super::container::print_top(&r);
        println!();
    }
    Ok(0)
}

/// `compose cp`: `berth cp` with SERVICE: resolved to the container of `--index`.
fn cp(root: &Path, rt: &berth_runtime::Runtime, p: &Project, a: ServiceCpArgs) -> Result<u8> {
    let resolve = |arg: &str| -> Result<String> {
        match super::container::split_container_path(arg) {
            Some((service, path)) => {
                let c = service_container(rt, p, service, a.index)?;
                Ok(format!("{}:{path}", c.record.name))
            }
            None => Ok(arg.to_string()),
        }
    };
    let mut copy = a.copy;
    copy.src = resolve(&copy.src)?;
    copy.dest = resolve(&copy.dest)?;
    super::container::cp(root, copy)
}

/// `compose events`: the project's events (`Engine::events`), as Compose prints them.
fn events(engine: &Engine, p: &Project, a: EventsArgs) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    for e in engine.events(p, &a.services).map_err(fail)? {
        let line = if a.json {
            serde_json::to_string(&e.to_json())?
        } else {
            let attrs: Vec<String> = e
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!(
                "{} container {} {} ({})",
                chrono::DateTime::from_timestamp_nanos(e.time_nano).format("%Y-%m-%d %H:%M:%S%.6f"),
                e.action,
                e.id,
                attrs.join(", ")
            )
        };
        // A reader that went away ends the stream.
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    Ok(0)
}

/// `compose push`: `berth push` of each image `Project::images_to_push` names.
fn push(root: &Path, p: &Project, a: PushArgs) -> Result<u8> {
    for (name, image) in p.images_to_push(&a.services).map_err(fail)? {
        let pushed = super::registry::push(root, super::registry::PushArgs::new(image, a.quiet));
        match pushed {
            Err(e) if a.ignore_push_failures => eprintln!("service {name:?}: {e}"),
            r => {
                r?;
            }
        }
    }
    Ok(0)
}
