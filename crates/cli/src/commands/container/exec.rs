//! `berth exec`.

use std::path::Path;

use anyhow::{bail, Result};
use berth_runtime::attach::AttachOptions;
use clap::Args;

use super::foreground::detach_keys;
use crate::commands::shared::{engine_error, open, ExitError};
use crate::terminal::ClientOptions;

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
    if a.detach {
        // Under the exec supervisor, as the API's detached start: it records the exit
        // (`exec_die`, the exec's exit code) when the process ends.
        let exe = std::env::current_exe()?;
        let id = rt.exec_create(key, &opts).map_err(engine_error)?;
        rt.exec_start(&id, &exe).map_err(engine_error)?;
        return Ok(0);
    }
    let (io, _terminal) = crate::terminal::client_io(ClientOptions {
        tty: a.tty,
        stdin: a.interactive,
        sig_proxy: true,
    })?;
    let code = rt.exec(key, &opts, io).map_err(engine_error)?;
    Ok(code.clamp(0, 255) as u8)
}
