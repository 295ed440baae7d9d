//! What every command shares: Docker's exit codes for errors, opening the engine, acting
//! on several containers.

use std::path::Path;

use anyhow::Result;
use berth_runtime::{Error as RtError, Runtime};

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
