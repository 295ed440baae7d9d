//! The hidden supervisor entry points (`__supervise`, `__exec`) that watch detached containers and
//! execs.

use std::path::Path;

use anyhow::{anyhow, Result};

use crate::commands::shared::{engine_error, open};

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
