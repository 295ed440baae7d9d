//! `berth compose config`.

use anyhow::{bail, Result};
use berth_compose::Project;
use clap::Args;
use serde_json::json;

#[derive(Args)]
pub(crate) struct ConfigArgs {
    /// Format the output: yaml or json
    #[arg(long, default_value = "yaml")]
    pub(crate) format: String,
    /// Print the service names, one per line
    #[arg(long)]
    pub(crate) services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub(crate) volumes: bool,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

pub(crate) fn config(p: &Project, c: ConfigArgs) -> Result<u8> {
    if c.quiet {
        return Ok(0);
    }
    if c.services {
        for s in p.model.services.keys() {
            println!("{s}");
        }
        return Ok(0);
    }
    if c.volumes {
        for v in p.model.volumes.keys() {
            println!("{v}");
        }
        return Ok(0);
    }
    let mut model = serde_json::to_value(&p.model)?;
    model["name"] = json!(p.name);
    match c.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&model)?),
        "yaml" => print!("{}", serde_yaml_ng::to_string(&model)?),
        f => bail!("unsupported format {f:?}: expected yaml or json"),
    }
    Ok(0)
}
