//! Container commands: run, create, start, ps, logs, stop, kill, rm, wait, and the hidden
//! supervisor entry point.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use berth_error_kind::{ErrorKind, HasKind};
use berth_runtime::attach::AttachOptions;
use berth_runtime::client_io::ClientIo;
use berth_runtime::lifecycle::Attach;

use crate::terminal::{ClientOptions, TerminalGuard};
use berth_runtime::record::ContainerRecord;
use berth_runtime::record::Status;
use berth_runtime::{Error as RtError, Runtime};

use super::run_flags::create_request;
pub use super::run_flags::RunArgs;
use clap::Args;
use serde_json::{json, Value};

use crate::output::{created_at, human_since};

/// A failure that carries the exit code Docker would use (125, 126, 127).
#[derive(Debug)]
pub struct ExitError {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitError {}

pub(crate) fn engine_error(e: RtError) -> anyhow::Error {
    anyhow::Error::new(ExitError {
        code: e.exit_code(),
        message: e.to_string(),
    })
}

pub(crate) fn flag_error(flag: &str, value: &str, reason: &str) -> anyhow::Error {
    anyhow::Error::new(ExitError {
        code: 125,
        message: format!("invalid argument {value:?} for \"{flag}\" flag: {reason}"),
    })
}

pub(crate) fn open(root: &Path) -> Result<Runtime> {
    Runtime::open(root).map_err(engine_error)
}

/// `--cidfile`: refused if the file exists, as Docker does.
fn check_cidfile(a: &RunArgs) -> Result<()> {
    if let Some(p) = &a.cidfile {
        if p.exists() {
            bail!(ExitError { code: 125, message: format!("container ID file found, make sure the other container isn't running or delete {}", p.display()) });
        }
    }
    Ok(())
}

fn write_cidfile(a: &RunArgs, id: &str) -> Result<()> {
    if let Some(p) = &a.cidfile {
        std::fs::write(p, id).map_err(|e| {
            anyhow!(ExitError {
                code: 125,
                message: format!("failed to write the container ID file {}: {e}", p.display())
            })
        })?;
    }
    Ok(())
}

/// Pulls the image first when it is missing (or always), as Docker's `--pull` says; pull
/// output goes to stderr so the container's own output stays clean.
fn ensure_image(root: &Path, a: &RunArgs, image: &str) -> Result<()> {
    let local = berth_image::Store::open(root).and_then(|s| s.lookup(image));
    // An image for another platform than --platform asks for is not the image wanted: as
    // with Docker, it is looked for in the registry (never run for the wrong platform).
    let platform_of = |img: &berth_image::Image| img.config.platform();
    let wrong_platform = match (&local, a.platform.as_deref()) {
        (Ok(img), Some(p)) if !img.config.matches_platform(p) => Some(platform_of(img)),
        _ => None,
    };
    // Only an image that is not there is pulled; a bad reference or a damaged store is an
    // error of its own, as with Docker.
    let not_found = match &local {
        Err(e) if e.kind() != ErrorKind::NotFound => bail!(ExitError {
            code: 125,
            message: e.to_string(),
        }),
        Err(_) => true,
        Ok(_) => false,
    };
    let missing = not_found || wrong_platform.is_some();
    let pull = match a.pull.as_str() {
        "always" => true,
        "missing" => missing,
        "never" => false,
        v => return Err(flag_error("--pull", v, "expected always, missing or never")),
    };
    let mismatch = |actual: &str, wanted: &str, why: String| {
        ExitError {
        code: 125,
        message: format!("image with reference {image} was found but its platform ({actual}) does not match the specified platform ({wanted}){why}"),
    }
    };
    if !pull {
        if let (Some(actual), Some(wanted)) = (&wrong_platform, a.platform.as_deref()) {
            bail!(mismatch(actual, wanted, String::new()));
        }
        return Ok(());
    }
    if missing {
        let shown = berth_image::Reference::parse_tagged_default(image)
            .map(|r| r.familiar_tagged())
            .unwrap_or_else(|_| image.to_string());
        eprintln!("Unable to find image '{shown}' locally");
    }
    let pulled = super::registry::pull_to_stderr(root, image, a.platform.clone());
    if let (Some(actual), Some(wanted)) = (&wrong_platform, a.platform.as_deref()) {
        let still_wrong = berth_image::Store::open(root)
            .and_then(|s| s.lookup(image))
            .map(|img| !img.config.matches_platform(wanted))
            .unwrap_or(true);
        if still_wrong {
            let why = pulled.err().map(|e| format!(": {e}")).unwrap_or_default();
            bail!(mismatch(actual, wanted, why));
        }
    }
    pulled.map_err(|e| {
        anyhow::Error::new(ExitError {
            code: 125,
            message: e.to_string(),
        })
    })
}

pub fn run(root: &Path, a: RunArgs) -> Result<u8> {
    use std::io::IsTerminal;
    // Only run attaches; `create -it` is fine without a terminal, as Docker's is.
    if a.tty && a.interactive && !a.detach && !std::io::stdin().is_terminal() {
        bail!(ExitError {
            code: 1,
            message: "the input device is not a TTY".into()
        });
    }
    // The container's first cgroup move waits for the kernel; start that wait now.
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    let (name, spec) = create_request(&a)?;
    check_cidfile(&a)?;
    ensure_image(root, &a, &spec.config.image)?;
    let rt = open(root)?;
    let rec = rt.create(name.as_deref(), &spec).map_err(engine_error)?;
    write_cidfile(&a, &rec.id)?;
    if a.detach {
        let exe = std::env::current_exe()?;
        rt.start_detached(&rec.id, &exe).map_err(engine_error)?;
        println!("{}", rec.id);
        return Ok(0);
    }
    if a.tty && a.interactive {
        // Under a supervisor, so that the detach keys leave it running.
        let keys = detach_keys(a.detach_keys.as_deref())?;
        let exe = std::env::current_exe()?;
        rt.start_for_attach(&rec.id, &exe).map_err(engine_error)?;
        return attach_to_started(&rt, &rec, keys);
    }
    run_in_foreground(&rt, &rec)
}

/// Runs a created container with our streams and signals (`run` without `-d`, `start -a`):
/// our stdin is its input when it takes input, as before with berth.
pub(crate) fn run_in_foreground(rt: &Runtime, rec: &ContainerRecord) -> Result<u8> {
    let (io, _terminal) = crate::terminal::client_io(ClientOptions {
        tty: rec.config.tty,
        stdin: rec.config.open_stdin,
        sig_proxy: true,
    })?;
    let code = rt
        .run(&rec.id, Attach::Client(io), &mut |_| {})
        .map_err(engine_error)?;
    Ok(code.clamp(0, 255) as u8)
}

/// Our streams for an attachment to `rec` (input when it takes input and `stdin`), with
/// Docker's refusal of a terminal's input that is not a terminal.
pub(crate) fn attach_io(
    rec: &ContainerRecord,
    stdin: bool,
    sig_proxy: bool,
) -> Result<(ClientIo, TerminalGuard)> {
    use std::io::IsTerminal;
    let stdin = stdin && rec.config.open_stdin;
    if rec.config.tty && stdin && !std::io::stdin().is_terminal() {
        bail!(ExitError {
            code: 1,
            message: "the input device is not a TTY".into()
        });
    }
    crate::terminal::client_io(ClientOptions {
        tty: rec.config.tty,
        stdin,
        // With a terminal the keys send the signals.
        sig_proxy: sig_proxy && !rec.config.tty,
    })
}

/// The detach sequence: `--detach-keys`, else `detachKeys` in the docker CLI's config.json
/// (as Docker reads it), else ctrl-p,ctrl-q.
pub(crate) fn detach_keys(flag: Option<&str>) -> Result<Vec<u8>> {
    let from_config = || -> Option<String> {
        let bytes = std::fs::read(berth_registry::auth::config_path()).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        v["detachKeys"].as_str().map(str::to_string)
    };
    let spec = match flag {
        Some(f) if !f.is_empty() => f.to_string(),
        _ => from_config()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "ctrl-p,ctrl-q".into()),
    };
    berth_runtime::attach::parse_detach_keys(&spec).map_err(|e| {
        anyhow::Error::new(ExitError {
            code: 1,
            message: e.to_string(),
        })
    })
}

/// A foreground `run -it` / `start -ai`: attached to the container just started under its
/// supervisor. Detaching leaves it running and ends quietly with 0, as Docker's does.
pub(crate) fn attach_to_started(rt: &Runtime, rec: &ContainerRecord, keys: Vec<u8>) -> Result<u8> {
    let (io, _terminal) = attach_io(rec, true, true)?;
    let end = rt
        .attach_started(rec, &AttachOptions { detach_keys: keys }, io)
        .map_err(engine_error)?;
    Ok(match end {
        berth_runtime::attach::AttachEnd::Exited(code) => code.clamp(0, 255) as u8,
        berth_runtime::attach::AttachEnd::Detached => 0,
    })
}

pub fn create(root: &Path, a: RunArgs) -> Result<u8> {
    let (name, spec) = create_request(&a)?;
    check_cidfile(&a)?;
    ensure_image(root, &a, &spec.config.image)?;
    let rt = open(root)?;
    let rec = rt.create(name.as_deref(), &spec).map_err(engine_error)?;
    write_cidfile(&a, &rec.id)?;
    println!("{}", rec.id);
    Ok(0)
}

#[derive(Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    detach_keys: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn start(root: &Path, a: StartArgs) -> Result<u8> {
    // The container's first cgroup move waits for the kernel; start that wait now.
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    let rt = open(root)?;
    let mut code = 0;
    for key in &a.containers {
        let c = rt.find(key).map_err(engine_error)?;
        if c.state.status == Status::Running {
            if !a.attach {
                println!("{key}");
            }
            continue;
        }
        if a.interactive && c.config.tty && c.config.open_stdin {
            use std::io::IsTerminal;
            if !std::io::stdin().is_terminal() {
                bail!(ExitError {
                    code: 1,
                    message: "the input device is not a TTY".into()
                });
            }
            let keys = detach_keys(a.detach_keys.as_deref())?;
            let exe = std::env::current_exe()?;
            rt.start_for_attach(&c.id, &exe).map_err(engine_error)?;
            code = attach_to_started(&rt, &c, keys)?;
            continue;
        }
        // -i attaches too, as with Docker.
        if a.attach || a.interactive {
            rt.clear_stop_request(&c.id);
            code = run_in_foreground(&rt, &c)?;
        } else {
            let exe = std::env::current_exe()?;
            rt.start_detached(&c.id, &exe).map_err(engine_error)?;
            println!("{key}");
        }
    }
    Ok(code)
}

pub fn supervise_exec(root: &Path, id: &str, exec_id: &str) -> Result<u8> {
    let fd: i32 = std::env::var("BERTH_READY_FD")
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("__exec is internal to berth"))?;
    let rt = open(root)?;
    let code = rt.supervise_exec(id, exec_id, fd).map_err(engine_error)?;
    Ok(code.clamp(0, 255) as u8)
}

pub fn supervise(root: &Path, id: &str, await_client: bool) -> Result<u8> {
    let fd: i32 = std::env::var("BERTH_READY_FD")
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("__supervise is internal to berth"))?;
    let rt = open(root)?;
    let code = rt.supervise(id, fd, await_client).map_err(engine_error)?;
    Ok(code.clamp(0, 255) as u8)
}

#[derive(Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long)]
    last: Option<usize>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    latest: bool,
    /// Filter output based on conditions provided (status=, name=, id=, label=)
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

pub(crate) fn status_text(rt: &Runtime, c: &ContainerRecord) -> String {
    rt.status_text(c)
}

pub(crate) fn command_text(c: &ContainerRecord, no_trunc: bool) -> String {
    let cmd = c.config.args.join(" ");
    let shown = if no_trunc || cmd.chars().count() <= 20 {
        cmd
    } else {
        format!("{}…", cmd.chars().take(19).collect::<String>())
    };
    // Docker quotes it with Go's strconv.Quote: a newline in a command stays on one row.
    berth_dockerfile::parser::go_quote(&shown)
}

pub fn ps(root: &Path, a: PsArgs) -> Result<u8> {
    let rt = open(root)?;
    let options = berth_runtime::container_list::ListOptions {
        all: a.all,
        limit: if a.latest { Some(1) } else { a.last },
        filters: berth_runtime::container_list::Filters::parse_args(&a.filter)
            .map_err(engine_error)?,
    };
    let list = rt.list_containers(&options).map_err(engine_error)?;
    if a.quiet {
        for c in &list {
            println!("{}", if a.no_trunc { &c.id[..] } else { &c.id[..12] });
        }
        return Ok(0);
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|c| {
            json!({
                "ID": if a.no_trunc { c.id.clone() } else { c.id[..12].to_string() },
                "Image": c.image,
                "Command": command_text(c, a.no_trunc),
                "CreatedAt": created_at(Some(&c.created)),
                "RunningFor": human_since(Some(&c.created)),
                "Status": status_text(&rt, c),
                "State": c.state.docker_status(),
                "Ports": ports_text(&rt, c),
                "Names": c.name,
                "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            })
        })
        .collect();
    super::image::print_table(
        a.format.as_deref(),
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
        &[
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("RunningFor", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("Status", "STATUS"),
            ("Ports", "PORTS"),
            ("Names", "NAMES"),
        ],
        &rows,
    )
}

#[derive(Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long)]
    tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42
    /// minutes)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for
    /// 42 minutes)
    #[arg(long)]
    until: Option<String>,
    container: String,
}

pub fn logs(root: &Path, a: LogsArgs) -> Result<u8> {
    use berth_runtime::container_logs::{parse_time, LogOptions};
    let rt = open(root)?;
    let tail = match a.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| flag_error("-n, --tail", n, "expected a number or \"all\""))?,
        ),
    };
    let options = LogOptions {
        follow: a.follow,
        since: a
            .since
            .as_deref()
            .map(|s| parse_time("since", s))
            .transpose()
            .map_err(engine_error)?,
        until: a
            .until
            .as_deref()
            .map(|s| parse_time("until", s))
            .transpose()
            .map_err(engine_error)?,
        tail,
        ..LogOptions::default()
    };
    let entries = rt.logs(&a.container, &options).map_err(engine_error)?;
    for e in entries {
        let line = if a.timestamps {
            format!("{} {}", e.time, e.log)
        } else {
            e.log
        };
        // A reader that went away (`logs -f | head`) ends the follow.
        let written = if e.stream == "stderr" {
            std::io::stderr().lock().write_all(line.as_bytes())
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(line.as_bytes()).and_then(|_| out.flush())
        };
        if written.is_err() {
            break;
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout")]
    time: Option<u64>,
    /// Signal to send to the container
    #[arg(short, long)]
    signal: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn stop(root: &Path, a: StopArgs) -> Result<u8> {
    let rt = open(root)?;
    each(&a.containers, |k| {
        if let Some(s) = &a.signal {
            rt.kill(k, s).or_else(|e| {
                if matches!(e, RtError::Conflict(_)) {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
        rt.stop(k, a.time)
    })
}

#[derive(Args)]
pub struct KillArgs {
    /// Signal to send to the container (default: KILL, then wait for the exit)
    #[arg(short, long)]
    signal: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(root: &Path, a: KillArgs) -> Result<u8> {
    let rt = open(root)?;
    each(&a.containers, |k| match &a.signal {
        Some(s) => rt.kill(k, s),
        None => rt.kill_and_wait(k),
    })
}

#[derive(Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(root: &Path, a: RmArgs) -> Result<u8> {
    let rt = open(root)?;
    each(&a.containers, |k| rt.remove(k, a.force, a.volumes))
}

#[derive(Args)]
pub struct WaitArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn wait(root: &Path, a: WaitArgs) -> Result<u8> {
    let rt = open(root)?;
    let mut code = 0;
    for k in &a.containers {
        match rt.wait(k) {
            Ok(c) => println!("{c}"),
            Err(e) => {
                eprintln!("Error: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// Runs `f` for each container, printing its name as Docker does, errors on stderr.
pub(crate) fn each(keys: &[String], f: impl Fn(&str) -> berth_runtime::Result<()>) -> Result<u8> {
    let mut code = 0;
    for k in keys {
        match f(k) {
            Ok(()) => println!("{k}"),
            Err(e) => {
                eprintln!("Error: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

fn ports_text(rt: &Runtime, c: &ContainerRecord) -> String {
    rt.ports_text(c)
}

/// Docker-shaped `inspect` object of a container.
pub fn container_inspect(rt: &Runtime, c: &ContainerRecord) -> Value {
    rt.container_json(c)
}

#[derive(Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    user: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    privileged: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    detach_keys: Option<String>,
    /// CONTAINER COMMAND [ARG...]
    #[arg(required = true, num_args = 2.., trailing_var_arg = true)]
    container_and_command: Vec<String>,
}

pub fn exec(root: &Path, a: ExecArgs) -> Result<u8> {
    // The container's first cgroup move waits for the kernel; start that wait now.
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    use std::io::IsTerminal;
    if a.tty && a.interactive && !a.detach && !std::io::stdin().is_terminal() {
        bail!(ExitError {
            code: 1,
            message: "the input device is not a TTY".into()
        });
    }
    let rt = open(root)?;
    let key = &a.container_and_command[0];
    let opts = berth_runtime::lifecycle::ExecOptions {
        detach_keys: a.detach_keys.clone().unwrap_or_default(),
        command: a.container_and_command[1..].to_vec(),
        env: a.env.clone(),
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        interactive: a.interactive,
        detach: a.detach,
        privileged: a.privileged,
        tty: a.tty,
    };
    if a.tty && a.interactive && !a.detach {
        // Under its own supervisor, so that the detach keys leave the process running.
        let keys = detach_keys(a.detach_keys.as_deref())?;
        let exe = std::env::current_exe()?;
        let session = rt.exec_for_attach(key, &opts, &exe).map_err(engine_error)?;
        let (io, _terminal) = crate::terminal::client_io(ClientOptions {
            tty: true,
            stdin: true,
            sig_proxy: false,
        })?;
        let end = rt
            .attach_exec(&session, &AttachOptions { detach_keys: keys }, io)
            .map_err(engine_error)?;
        return match end {
            berth_runtime::attach::AttachEnd::Exited(code) => Ok(code.clamp(0, 255) as u8),
            // Docker's exec, like attach and unlike run, reports the detach and fails.
            berth_runtime::attach::AttachEnd::Detached => {
                eprintln!("read escape sequence");
                Ok(1)
            }
        };
    }
    let (io, _terminal) = if a.detach {
        (ClientIo::discard(), None)
    } else {
        let (io, guard) = crate::terminal::client_io(ClientOptions {
            tty: a.tty,
            stdin: a.interactive,
            sig_proxy: true,
        })?;
        (io, Some(guard))
    };
    let code = rt.exec(key, &opts, io).map_err(engine_error)?;
    Ok(code.clamp(0, 255) as u8)
}

#[derive(Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout")]
    time: Option<u64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn restart(root: &Path, a: RestartArgs) -> Result<u8> {
    let rt = open(root)?;
    let exe = std::env::current_exe()?;
    each(&a.containers, |k| {
        rt.stop(k, a.time)?;
        let c = rt.find(k)?;
        rt.start_detached(&c.id, &exe)
    })
}

#[derive(Args)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

pub fn rename(root: &Path, a: RenameArgs) -> Result<u8> {
    let rt = open(root)?;
    rt.rename(&a.container, &a.new_name).map_err(engine_error)?;
    Ok(0)
}

#[derive(Args)]
pub struct PauseArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn pause(root: &Path, a: PauseArgs, pause: bool) -> Result<u8> {
    let rt = open(root)?;
    each(&a.containers, |k| rt.set_paused(k, pause))
}

#[derive(Args)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")
    #[arg(long)]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn prune(root: &Path, a: PruneArgs) -> Result<u8> {
    if !a.force && !crate::output::confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let rt = open(root)?;
    let report = rt.prune_containers(&a.filter).map_err(engine_error)?;
    if !report.deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &report.deleted {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::output::human_size(report.space_reclaimed)
    );
    Ok(0)
}

#[derive(Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pause: bool,
    container: String,
    /// [REPOSITORY[:TAG]]
    reference: Option<String>,
}

pub fn commit(root: &Path, a: CommitArgs) -> Result<u8> {
    let rt = open(root)?;
    let img = rt
        .commit(
            &a.container,
            &a.change,
            a.message.clone(),
            a.author.clone(),
            a.reference.as_deref(),
            a.pause,
        )
        .map_err(engine_error)?;
    println!("{}", img.id());
    Ok(0)
}

#[derive(Args)]
pub struct OneContainer {
    container: String,
}

pub fn diff(root: &Path, a: OneContainer) -> Result<u8> {
    let rt = open(root)?;
    for (k, p) in rt.diff(&a.container).map_err(engine_error)? {
        println!("{k} {p}");
    }
    Ok(0)
}

#[derive(Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<std::path::PathBuf>,
    container: String,
}

pub fn export(root: &Path, a: ExportArgs) -> Result<u8> {
    use std::io::IsTerminal;
    let rt = open(root)?;
    let write = |w: Box<dyn Write + Send>| -> Result<()> {
        rt.with_rootfs(&a.container, |merged| {
            berth_image::layer::write_layer_tar(merged, berth_image::layer::DiffSource::Full, w)
                .map(|_| ())
                .map_err(berth_runtime::Error::from)
        })
        .map_err(engine_error)
    };
    match &a.output {
        Some(p) => write(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| anyhow!("create {}: {e}", p.display()))?,
        )))?,
        None => {
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            write(Box::new(std::io::BufWriter::new(std::io::stdout())))?
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH
    pub(crate) src: String,
    /// DEST_PATH or CONTAINER:DEST_PATH
    pub(crate) dest: String,
}

/// `CONTAINER:PATH` split, or None for a local path (absolute or relative, as docker cp).
pub(crate) fn split_container_path(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    s.split_once(':')
}

pub fn cp(root: &Path, a: CpArgs) -> Result<u8> {
    use std::io::IsTerminal;
    let rt = open(root)?;
    let o = berth_runtime::filesystem::CopyOptions {
        follow_link: a.follow_link,
        archive: a.archive,
    };
    match (split_container_path(&a.src), split_container_path(&a.dest)) {
        (Some((c, p)), None) if a.dest == "-" => {
            if std::io::stdout().is_terminal() {
                bail!(
                    "cowardly refusing to write a tar archive to a terminal; redirect the output"
                );
            }
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut out = rt
                .copy_from_as_tar(c, p, a.follow_link, out)
                .map_err(engine_error)?;
            out.flush()?;
        }
        (None, Some((c, p))) if a.src == "-" => rt
            .copy_to_from_tar(c, std::io::stdin().lock(), p)
            .map_err(engine_error)?,
        (Some((c, p)), None) => rt
            .copy_from(c, p, Path::new(&a.dest), &o)
            .map_err(engine_error)?,
        (None, Some((c, p))) => rt
            .copy_to(c, Path::new(&a.src), p, &o)
            .map_err(engine_error)?,
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    }
    Ok(0)
}

#[derive(Args)]
pub struct TopArgs {
    container: String,
    /// ps options (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

pub fn top(root: &Path, a: TopArgs) -> Result<u8> {
    let rt = open(root)?;
    let r = rt.top(&a.container, &a.ps_args).map_err(engine_error)?;
    print_top(&r);
    Ok(0)
}

/// A top report as the docker CLI lays it out.
pub(crate) fn print_top(r: &berth_runtime::container_top::TopReport) {
    // The docker CLI's layout: columns at least 20 wide, 3 spaces apart.
    let widths: Vec<usize> = (0..r.titles.len())
        .map(|i| {
            let widest = std::iter::once(&r.titles)
                .chain(&r.processes)
                .filter_map(|row| row.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0);
            (widest + 3).max(20)
        })
        .collect();
    let line = |row: &[String]| {
        let mut out = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out
    };
    println!("{}", line(&r.titles));
    for p in &r.processes {
        println!("{}", line(p));
    }
}

#[derive(Args)]
pub struct StatsArgs {
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    containers: Vec<String>,
}

pub fn stats(root: &Path, a: StatsArgs) -> Result<u8> {
    use crate::output::{human_binary_size, human_size};
    let rt = open(root)?;
    let mut previous: std::collections::HashMap<
        String,
        berth_runtime::container_stats::ContainerStats,
    > = std::collections::HashMap::new();
    loop {
        let mut list = rt.list().map_err(engine_error)?;
        if !a.containers.is_empty() {
            let mut keep = Vec::new();
            for k in &a.containers {
                keep.push(rt.find(k).map_err(engine_error)?.id);
            }
            list.retain(|c| keep.contains(&c.id));
        } else if !a.all {
            list.retain(|c| c.state.running());
        }
        // CPU % needs two samples: the first round only takes them.
        if previous.is_empty() {
            for c in &list {
                previous.insert(c.id.clone(), rt.stats(c, None).map_err(engine_error)?);
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let mut text = String::from(
            "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS\n",
        );
        for c in &list {
            let s = rt.stats(c, previous.get(&c.id)).map_err(engine_error)?;
            let (rx, tx) = s.network_bytes();
            text.push_str(&format!(
                "{}\t{}\t{:.2}%\t{} / {}\t{:.2}%\t{} / {}\t--\t{}\n",
                &c.id[..12],
                c.name,
                s.cpu_percent(),
                human_binary_size(s.memory_stats.usage),
                human_binary_size(s.memory_stats.limit),
                s.memory_percent(),
                human_size(rx),
                human_size(tx),
                s.pids_stats.current,
            ));
            previous.insert(c.id.clone(), s);
        }
        print!("{}", crate::output::tabulate(&text));
        if a.no_stream {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[derive(Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    detach_keys: Option<String>,
    container: String,
}

/// `docker attach`: the container's output from now on and our input to it; ends with its
/// exit code, or with Docker's "read escape sequence" (exit 1) when detached.
pub fn attach(root: &Path, a: AttachArgs) -> Result<u8> {
    let detach_keys = detach_keys(a.detach_keys.as_deref())?;
    let rt = open(root)?;
    let exit_1 = |e: berth_runtime::Error| {
        anyhow::Error::new(ExitError {
            code: 1,
            message: e.to_string(),
        })
    };
    let rec = rt.find(&a.container).map_err(exit_1)?;
    let (io, _terminal) = attach_io(&rec, !a.no_stdin, a.sig_proxy)?;
    let end = rt
        .attach(&a.container, &AttachOptions { detach_keys }, io)
        .map_err(|e| {
            anyhow::Error::new(ExitError {
                code: 1,
                message: e.to_string(),
            })
        })?;
    match end {
        berth_runtime::attach::AttachEnd::Exited(code) => Ok(code.clamp(0, 255) as u8),
        berth_runtime::attach::AttachEnd::Detached => {
            eprintln!("read escape sequence");
            Ok(1)
        }
    }
}
