//! The CLI's side of a container in the foreground: our streams and terminal handed to the engine
//! (`run`, `start -a`, attaching after `run -it`), detach keys.

use anyhow::{bail, Result};
use berth_runtime::attach::AttachOptions;
use berth_runtime::client_io::ClientIo;
use berth_runtime::lifecycle::Attach;
use berth_runtime::record::ContainerRecord;
use berth_runtime::Runtime;
use serde_json::Value;

use crate::commands::shared::{engine_error, ExitError};
use crate::terminal::{ClientOptions, TerminalGuard};

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
