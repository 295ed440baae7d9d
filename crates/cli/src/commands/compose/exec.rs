//! `berth compose exec`, through `berth exec`.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{anyhow, Result};
use berth_compose::Project;
use clap::{Args, Parser};

use super::project::service_container;

#[derive(Args)]
pub(crate) struct ExecArgs {
    /// Disable pseudo-TTY allocation
    #[arg(short = 'T', long = "no-TTY")]
    pub(crate) no_tty: bool,
    /// Detached mode: Run command in the background
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// Set environment variables
    #[arg(short, long = "env")]
    pub(crate) env: Vec<String>,
    /// Path to workdir directory for this command
    #[arg(short, long)]
    pub(crate) workdir: Option<String>,
    /// Run the command as this user
    #[arg(short, long)]
    pub(crate) user: Option<String>,
    /// Give extended privileges to the process
    #[arg(long)]
    pub(crate) privileged: bool,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub(crate) index: u32,
    /// SERVICE COMMAND [ARGS...]
    #[arg(required = true, num_args = 2.., trailing_var_arg = true)]
    pub(crate) service_and_command: Vec<String>,
}

#[derive(Parser)]
struct ExecCommandLine {
    #[command(flatten)]
    pub(crate) args: crate::commands::container::ExecArgs,
}

pub(crate) fn exec(
    root: &Path,
    rt: &berth_runtime::Runtime,
    p: &Project,
    e: ExecArgs,
) -> Result<u8> {
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
    crate::commands::container::exec(root, cl.args)
}
