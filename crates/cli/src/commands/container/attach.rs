//! `berth attach`.

use std::path::Path;

use anyhow::Result;
use berth_runtime::attach::AttachOptions;
use clap::Args;

use super::foreground::{attach_io, detach_keys};
use crate::commands::shared::{open, ExitError};

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
