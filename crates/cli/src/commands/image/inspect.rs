//! `berth inspect` (containers, images, networks, volumes) and `image inspect`.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use berth_image::inspect;
use clap::Args;
use serde_json::json;

use super::store::open_store;
use crate::template::Template;

#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    pub(crate) format: Option<String>,
    /// Return JSON for specified type
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub(crate) size: bool,
    #[arg(required = true)]
    pub(crate) names: Vec<String>,
}

/// Docker's object types for `inspect --type`; berth has no swarm objects or plugins.
const INSPECT_TYPES: [&str; 10] = [
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];

pub fn inspect(root: &Path, a: InspectArgs, image_only: bool) -> Result<u8> {
    let kind = a
        .kind
        .as_deref()
        .unwrap_or(if image_only { "image" } else { "" });
    if !kind.is_empty() && !INSPECT_TYPES.contains(&kind) {
        let all: Vec<String> = INSPECT_TYPES.iter().map(|t| format!("{t:?}")).collect();
        bail!("unknown type: {kind:?}: must be one of {}", all.join(", "));
    }
    if !matches!(kind, "" | "image" | "container" | "network" | "volume") {
        bail!("--type {kind}: berth has no {kind} objects (no swarm mode or plugins)");
    }
    let store = open_store(root)?;
    let rt = berth_runtime::Runtime::open(root).map_err(|e| anyhow!("{e}"))?;
    let vols = rt.volumes().map_err(|e| anyhow!("{e}"))?;
    // Parsed first, so a bad template fails before anything is looked up.
    if let Some(f) = &a.format {
        Template::parse(f).map_err(|e| anyhow!(e))?;
    }
    let wants = |k: &str| kind.is_empty() || kind == k;
    let mut found = Vec::new();
    let mut code = 0;
    // Docker's order when no type is given: container, image, network, volume.
    for n in &a.names {
        if wants("container") {
            if let Ok(c) = rt.find(n) {
                let mut v = crate::commands::container::container_inspect(&rt, &c);
                if a.size {
                    let (rw, rootfs) = rt.container_sizes(&c);
                    v["SizeRw"] = json!(rw);
                    v["SizeRootFs"] = json!(rootfs);
                }
                found.push(v);
                continue;
            }
        }
        if wants("image") {
            match store.lookup(n) {
                Ok(img) => {
                    found.push(inspect::image_inspect(&store, &img));
                    continue;
                }
                Err(e)
                    if berth_error_kind::HasKind::kind(&e)
                        == berth_error_kind::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        if wants("network") {
            if let Some(v) = crate::commands::network::network_inspect(&rt, n)? {
                found.push(v);
                continue;
            }
        }
        if wants("volume") {
            if let Some(v) = vols.inspect(n).map_err(|e| anyhow!("{e}"))? {
                found.push(v);
                continue;
            }
        }
        let what = match kind {
            "" => "object",
            k => k,
        };
        eprintln!("Error: No such {what}: {n}");
        code = 1;
    }
    crate::output::print_inspect(a.format.as_deref(), found)?;
    Ok(code)
}
