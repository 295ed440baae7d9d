//! `berth compose up`: detached, or attached with prefixed output and Compose's Ctrl-C handling.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::{anyhow, Result};
use berth_compose::{Engine, Project, UpOptions};
use clap::Args;

use super::output::follow;
use super::project::fail;
use super::project::print_progress;
use super::project::CliImages;

#[derive(Args)]
pub(crate) struct UpArgs {
    /// Detached mode: Run containers in the background
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// Build images before starting containers
    #[arg(long)]
    pub(crate) build: bool,
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long)]
    pub(crate) force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long, conflicts_with = "force_recreate")]
    pub(crate) no_recreate: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub(crate) remove_orphans: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    pub(crate) no_start: bool,
    /// Wait for services to be running|healthy. Implies detached mode
    #[arg(long)]
    pub(crate) wait: bool,
    /// Scale SERVICE to NUM instances
    #[arg(long, value_name = "SERVICE=NUM")]
    pub(crate) scale: Vec<String>,
    /// Stops all containers if any container was stopped
    #[arg(long)]
    pub(crate) abort_on_container_exit: bool,
    /// Return the exit code of the selected service container
    #[arg(long, value_name = "SERVICE")]
    pub(crate) exit_code_from: Option<String>,
    /// Produce monochrome output
    #[arg(long)]
    pub(crate) no_color: bool,
    pub(crate) services: Vec<String>,
}

pub(crate) fn up(root: &Path, engine: &Engine, p: &Project, u: UpArgs) -> Result<u8> {
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

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// A flag set by the first SIGINT; the handler resets itself, so a second one kills berth.
pub(crate) fn on_first_interrupt() -> &'static std::sync::atomic::AtomicBool {
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
