//! `berth start [-a] [-i]`.

use std::path::Path;

use anyhow::{bail, Result};
use berth_runtime::record::Status;
use clap::Args;

use super::foreground::{attach_to_started, detach_keys, run_in_foreground};
use crate::commands::shared::{engine_error, open, ExitError};

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
