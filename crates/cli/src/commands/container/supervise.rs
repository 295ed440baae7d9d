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

/// `standby`: started ahead of need by `berth serve`, which names the container (and whether
/// a client attaches) on the ready socket; nothing to do if it goes away first.
pub fn supervise(root: &Path, id: Option<&str>, await_client: bool, standby: bool) -> Result<u8> {
    let fd: i32 = std::env::var("BERTH_READY_FD")
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("__supervise is internal to berth"))?;
    let rt = open(root)?;
    let (id, await_client) = if standby {
        match berth_runtime::supervisor_standby::await_request(fd) {
            Some(r) => (r.id, r.await_client),
            None => return Ok(0),
        }
    } else {
        let id = id.ok_or_else(|| anyhow!("__supervise needs a container"))?;
        (id.to_string(), await_client)
    };
    let code = rt.supervise(&id, fd, await_client).map_err(engine_error)?;
    Ok(code.clamp(0, 255) as u8)
}
