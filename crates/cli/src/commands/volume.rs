//! `berth volume create|ls|inspect|rm|prune`: flags in, the engine's volume operations
//! (berth_runtime::volume_list, volume_remove), Docker's output out.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use berth_runtime::Runtime;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::output::human_size;

#[derive(Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(super::network::InspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short, long, default_value = "local")]
    driver: String,
    /// Set metadata for a volume
    #[arg(long)]
    label: Vec<String>,
    /// Set driver specific options
    #[arg(short, long = "opt")]
    opt: Vec<String>,
    name: Option<String>,
}

#[derive(Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    quiet: bool,
    /// Provide filter values (e.g. "dangling=true", "label=k", "name=data")
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args)]
pub struct NamesArgs {
    /// Force the removal of one or more volumes
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    all: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long)]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

/// `KEY=VALUE` (or `KEY`, an empty value) flags as a map; `flag` names them in errors.
fn key_values(flag: &str, given: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for g in given {
        let (k, v) = g.split_once('=').unwrap_or((g, ""));
        if k.is_empty() {
            bail!("invalid argument {g:?} for \"{flag}\" flag: expected KEY=VALUE");
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

pub fn volume(root: &Path, cmd: VolumeCommand) -> Result<u8> {
    let rt = Runtime::open(root).map_err(|e| anyhow!("{e}"))?;
    let vols = rt.volumes().map_err(|e| anyhow!("{e}"))?;
    match cmd {
        VolumeCommand::Create(a) => {
            let labels = key_values("--label", &a.label)?;
            let opts = key_values("--opt", &a.opt)?;
            let v = rt
                .create_volume(a.name.as_deref(), &a.driver, &opts, Some(labels))
                .map_err(|e| anyhow!("{e}"))?;
            println!("{}", v["Name"].as_str().unwrap_or(""));
        }
        VolumeCommand::Ls(a) => {
            let list = rt.list_volumes(&a.filter).map_err(|e| anyhow!("{e}"))?;
            if a.quiet {
                for v in list {
                    println!("{}", v.name);
                }
                return Ok(0);
            }
            let rows: Vec<Value> = list
                .iter()
                .map(|v| {
                    let labels = v.shown_labels().unwrap_or_default();
                    let shown: Vec<String> =
                        labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    json!({
                        "Driver": "local",
                        "Name": v.name,
                        "Scope": "local",
                        "Mountpoint": vols.data_dir(&v.name),
                        "Labels": shown.join(","),
                        "Links": "N/A",
                        "Size": "N/A",
                    })
                })
                .collect();
            return crate::output::print_table(
                a.format.as_deref(),
                "table {{.Driver}}\t{{.Name}}",
                &[
                    ("Driver", "DRIVER"),
                    ("Name", "VOLUME NAME"),
                    ("Scope", "SCOPE"),
                    ("Mountpoint", "MOUNTPOINT"),
                    ("Labels", "LABELS"),
                    ("Links", "LINKS"),
                    ("Size", "SIZE"),
                ],
                &rows,
            );
        }
        VolumeCommand::Inspect(a) => {
            let mut out = Vec::new();
            let mut code = 0;
            for n in &a.names {
                match vols.inspect(n).map_err(|e| anyhow!("{e}"))? {
                    Some(v) => out.push(v),
                    None => {
                        eprintln!("Error: get {n}: no such volume");
                        code = 1;
                    }
                }
            }
            crate::output::print_inspect(a.format.as_deref(), out)?;
            return Ok(code);
        }
        VolumeCommand::Rm(a) => {
            let mut code = 0;
            for n in &a.names {
                match rt.remove_volume(n, a.force) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("Error: {e}");
                        code = 1;
                    }
                }
            }
            return Ok(code);
        }
        VolumeCommand::Prune(a) => {
            let warning = if a.all {
                "WARNING! This will remove all local volumes not used by at least one container."
            } else {
                "WARNING! This will remove anonymous local volumes not used by at least one container."
            };
            if !a.force && !crate::output::confirm(warning)? {
                return Ok(0);
            }
            let mut filters = a.filter;
            if a.all {
                filters.push("all=true".into());
            }
            let report = rt.prune_volumes(&filters).map_err(|e| anyhow!("{e}"))?;
            if !report.deleted.is_empty() {
                println!("Deleted Volumes:");
                for n in &report.deleted {
                    println!("{n}");
                }
                println!();
            }
            println!(
                "Total reclaimed space: {}",
                human_size(report.space_reclaimed)
            );
        }
    }
    Ok(0)
}
