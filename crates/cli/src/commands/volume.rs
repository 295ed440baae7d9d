//! `berth volume create|ls|inspect|rm|prune`.

use std::path::Path;

use anyhow::{anyhow, Result};
use berth_runtime::Runtime;
use clap::{Args, Subcommand};
use serde_json::Value;

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
    name: Option<String>,
}

#[derive(Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    quiet: bool,
}

/// A volume's inspect JSON (see `Volumes::inspect`).
pub fn volume_inspect(vols: &berth_runtime::volumes::Volumes, name: &str) -> Result<Option<Value>> {
    vols.inspect(name).map_err(|e| anyhow!("{e}"))
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
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn volume(root: &Path, cmd: VolumeCommand) -> Result<u8> {
    let rt = Runtime::open(root).map_err(|e| anyhow!("{e}"))?;
    let vols = rt.volumes().map_err(|e| anyhow!("{e}"))?;
    match cmd {
        VolumeCommand::Create(a) => {
            let name = a.name.unwrap_or_else(berth_runtime::record::new_id);
            vols.ensure(&name, false).map_err(|e| anyhow!("{e}"))?;
            println!("{name}");
        }
        VolumeCommand::Ls(a) => {
            let list = vols.list().map_err(|e| anyhow!("{e}"))?;
            if !a.quiet {
                println!("DRIVER    VOLUME NAME");
            }
            for v in list {
                if a.quiet {
                    println!("{}", v.name);
                } else {
                    println!("local     {}", v.name);
                }
            }
        }
        VolumeCommand::Inspect(a) => {
            let mut out = Vec::new();
            let mut code = 0;
            for n in &a.names {
                match volume_inspect(&vols, n)? {
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
            let used = rt.volumes_in_use();
            let mut code = 0;
            for n in &a.names {
                if used.contains(n) && !a.force {
                    eprintln!("Error: remove {n}: volume is in use");
                    code = 1;
                    continue;
                }
                match vols.remove(n) {
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
            if !a.force && !crate::output::confirm("WARNING! This will remove anonymous local volumes not used by at least one container.")? {
                return Ok(0);
            }
            let used = rt.volumes_in_use();
            let mut freed = 0;
            let mut names = Vec::new();
            for v in vols.list().map_err(|e| anyhow!("{e}"))? {
                if used.contains(&v.name) || !(a.all || v.anonymous) {
                    continue;
                }
                freed += vols.size(&v.name);
                vols.remove(&v.name).map_err(|e| anyhow!("{e}"))?;
                names.push(v.name);
            }
            if !names.is_empty() {
                println!("Deleted Volumes:");
                for n in &names {
                    println!("{n}");
                }
                println!();
            }
            println!("Total reclaimed space: {}", human_size(freed));
        }
    }
    Ok(0)
}
