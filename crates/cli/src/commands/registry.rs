//! `berth pull`, `push`, `login`, `logout`.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Result;
use berth_image::{Reference, Store};
use berth_registry::{auth, Event, Progress, RegistryConfig};
use clap::Args;

use super::shared::ExitError;

fn fail(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(ExitError {
        code: 1,
        message: e.to_string(),
    })
}

/// Docker-style progress: on a terminal one line per layer, redrawn in place with a bar and
/// the speed; otherwise one plain line per event.
pub struct Printer {
    tty: bool,
    /// Print to stderr (pulls started by `run`, whose stdout is the container's).
    stderr: bool,
    state: Mutex<PrinterState>,
}

#[derive(Default)]
struct PrinterState {
    /// (layer id, current text), in first-seen order.
    lines: Vec<(String, String)>,
    drawn: usize,
    started: Option<std::time::Instant>,
}

impl Printer {
    pub fn new() -> Printer {
        Printer {
            tty: std::io::stdout().is_terminal(),
            stderr: false,
            state: Mutex::new(PrinterState::default()),
        }
    }

    pub fn to_stderr() -> Printer {
        Printer {
            tty: std::io::stderr().is_terminal(),
            stderr: true,
            state: Mutex::new(PrinterState::default()),
        }
    }

    fn line(&self, s: &str) {
        if self.stderr {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    }

    fn redraw(&self, st: &mut PrinterState) {
        let mut out: Box<dyn Write> = if self.stderr {
            Box::new(std::io::stderr().lock())
        } else {
            Box::new(std::io::stdout().lock())
        };
        if st.drawn > 0 {
            let _ = write!(out, "\x1b[{}A", st.drawn);
        }
        for (id, text) in &st.lines {
            let _ = writeln!(out, "\x1b[2K{id}: {text}");
        }
        st.drawn = st.lines.len();
        let _ = out.flush();
    }
}

impl Default for Printer {
    fn default() -> Self {
        Printer::new()
    }
}

fn bar(done: u64, total: u64, elapsed: f64) -> String {
    let width = 40usize;
    let filled = if total > 0 {
        ((done as f64 / total as f64) * width as f64) as usize
    } else {
        0
    }
    .min(width);
    let speed = if elapsed > 0.0 {
        done as f64 / elapsed
    } else {
        0.0
    };
    format!(
        "[{}>{}] {}/{} {}/s",
        "=".repeat(filled.saturating_sub(1)),
        " ".repeat(width - filled.max(1)),
        crate::output::human_size(done),
        crate::output::human_size(total),
        crate::output::human_size(speed as u64)
    )
}

impl Progress for Printer {
    fn event(&self, e: Event<'_>) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        match e {
            Event::Status(s) => {
                if self.tty && st.drawn > 0 {
                    st.drawn = 0;
                    st.lines.clear();
                }
                self.line(s);
            }
            Event::Layer { id, status } => {
                if self.tty {
                    match st.lines.iter_mut().find(|(i, _)| i == id) {
                        Some(l) => l.1 = status.to_string(),
                        None => st.lines.push((id.to_string(), status.to_string())),
                    }
                    self.redraw(&mut st);
                } else {
                    self.line(&format!("{id}: {status}"));
                }
            }
            Event::Bytes { id, done, total } => {
                if !self.tty {
                    return;
                }
                let started = *st.started.get_or_insert_with(std::time::Instant::now);
                // Bytes go up while the layer's line says "Pushing", down otherwise.
                let verb = match st.lines.iter().find(|(i, _)| i == id) {
                    Some((_, text)) if text.starts_with("Pushing") => "Pushing",
                    _ => "Downloading",
                };
                let text = format!(
                    "{verb} {}",
                    bar(done, total, started.elapsed().as_secs_f64())
                );
                match st.lines.iter_mut().find(|(i, _)| i == id) {
                    Some(l) => l.1 = text,
                    None => st.lines.push((id.to_string(), text)),
                }
                self.redraw(&mut st);
            }
        }
    }
}

fn config() -> Result<RegistryConfig> {
    RegistryConfig::load().map_err(fail)
}

#[derive(Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short, long)]
    all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    quiet: bool,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long)]
    platform: Option<String>,
    name: String,
}

/// `run`/`create`'s pull of a missing image: Docker's output, on stderr.
pub fn pull_to_stderr(root: &Path, name: &str, platform: Option<String>) -> Result<()> {
    pull_with_printer(root, name, platform, false, &Printer::to_stderr())
}

/// Pulls `reference` (used by `pull`, and by `run`/`create` for a missing image).
pub fn pull_one(root: &Path, name: &str, platform: Option<String>, quiet: bool) -> Result<()> {
    pull_with_printer(root, name, platform, quiet, &Printer::new())
}

fn pull_with_printer(
    root: &Path,
    name: &str,
    platform: Option<String>,
    quiet: bool,
    printer: &Printer,
) -> Result<()> {
    let store = Store::open(root).map_err(fail)?;
    let cfg = config()?;
    let reference = Reference::parse(name).map_err(fail)?;
    let mut reference = reference;
    if reference.tag.is_none() && reference.digest.is_none() {
        if !quiet {
            printer.line("Using default tag: latest");
        }
        reference.tag = Some("latest".into());
    }
    let progress: &dyn Progress = if quiet {
        &berth_registry::Quiet
    } else {
        printer
    };
    let pulled = berth_registry::pull::pull_reporting(
        &store,
        &cfg,
        &reference,
        &berth_registry::pull::PullOptions { platform },
        progress,
    )
    .map_err(fail)?;
    if !quiet {
        printer.line(&pulled.status_line(&reference));
    }
    if !printer.stderr {
        println!("{reference}");
    }
    Ok(())
}

pub fn pull(root: &Path, a: PullArgs) -> Result<u8> {
    if a.all_tags {
        let reference = Reference::parse(&a.name).map_err(fail)?;
        if reference.tag.is_some() || reference.digest.is_some() {
            return Err(fail("tag can't be used with --all-tags/-a"));
        }
        let tags = berth_registry::pull::list_tags(&config()?, &reference).map_err(fail)?;
        for t in tags {
            pull_one(
                root,
                &format!("{}:{t}", reference.name()),
                a.platform.clone(),
                a.quiet,
            )?;
        }
        return Ok(0);
    }
    pull_one(root, &a.name, a.platform, a.quiet)?;
    Ok(0)
}

#[derive(Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short, long)]
    all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    quiet: bool,
    name: String,
}

impl PushArgs {
    /// `compose push`'s push of one service image.
    pub(crate) fn new(name: String, quiet: bool) -> PushArgs {
        PushArgs {
            all_tags: false,
            quiet,
            name,
        }
    }
}

pub fn push(root: &Path, a: PushArgs) -> Result<u8> {
    let store = Store::open(root).map_err(fail)?;
    let cfg = config()?;
    let reference = Reference::parse(&a.name).map_err(fail)?;
    let refs: Vec<Reference> = if a.all_tags {
        if reference.tag.is_some() {
            return Err(fail("tag can't be used with --all-tags/-a"));
        }
        berth_registry::push::local_tags(&store, &reference).map_err(fail)?
    } else {
        let mut r = reference.clone();
        if r.tag.is_none() {
            if !a.quiet {
                println!("Using default tag: latest");
            }
            r.tag = Some("latest".into());
        }
        vec![r]
    };
    if refs.is_empty() {
        return Err(fail(format!(
            "An image does not exist locally with the tag: {}",
            reference.familiar_name()
        )));
    }
    let printer = Printer::new();
    let progress: &dyn Progress = if a.quiet {
        &berth_registry::Quiet
    } else {
        &printer
    };
    for r in refs {
        let p = berth_registry::push::push(&store, &cfg, &r, progress).map_err(fail)?;
        if a.quiet {
            println!("{}", r.familiar_tagged());
        } else {
            println!("{}: digest: {} size: {}", p.tag, p.digest, p.size);
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    username: Option<String>,
    /// Password (prefer --password-stdin)
    #[arg(short, long)]
    password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    password_stdin: bool,
    server: Option<String>,
}

pub fn login(a: LoginArgs) -> Result<u8> {
    let registry = auth::registry_of(a.server.as_deref());
    if a.password.is_some() && a.password_stdin {
        return Err(fail(
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    let username = match a.username {
        Some(u) => u,
        None => {
            if a.password_stdin {
                return Err(fail("Must provide --username with --password-stdin"));
            }
            print!("Username: ");
            std::io::stdout().flush()?;
            let mut u = String::new();
            std::io::stdin().read_line(&mut u)?;
            u.trim().to_string()
        }
    };
    let password = match (a.password, a.password_stdin) {
        (Some(p), _) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p
        }
        (None, true) => {
            let mut p = String::new();
            std::io::stdin().read_to_string(&mut p)?;
            p.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => {
            print!("Password: ");
            std::io::stdout().flush()?;
            read_password()?
        }
    };
    if username.is_empty() || password.is_empty() {
        return Err(fail("Error: Username and password are required"));
    }
    let creds = auth::Credentials { username, password };
    let client = berth_registry::Client::new(&config()?, &registry)
        .map_err(fail)?
        .with_credentials(Some(creds.clone()));
    client.check_login().map_err(|e| match e {
        berth_registry::Error::Unauthorized { .. } => fail(format!(
            "login to {registry} failed: unauthorized: incorrect username or password"
        )),
        e => fail(e),
    })?;
    auth::store(&registry, &creds).map_err(fail)?;
    println!("Login Succeeded");
    Ok(0)
}

/// Reads a line from the terminal without echoing it.
fn read_password() -> Result<String> {
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios calls on stdin with a struct we own; echo is restored below.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    let is_tty = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if is_tty {
        let mut t = old;
        t.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) };
    }
    let mut p = String::new();
    let r = std::io::stdin().read_line(&mut p);
    if is_tty {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
        println!();
    }
    r?;
    Ok(p.trim_end_matches(['\n', '\r']).to_string())
}

#[derive(Args)]
pub struct LogoutArgs {
    server: Option<String>,
}

pub fn logout(a: LogoutArgs) -> Result<u8> {
    let registry = auth::registry_of(a.server.as_deref());
    let shown = auth::config_key(&registry);
    if auth::erase(&registry).map_err(fail)? {
        println!("Removing login credentials for {shown}");
    } else {
        println!("Not logged in to {shown}");
    }
    Ok(0)
}
