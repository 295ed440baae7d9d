//! `berth compose ls`.

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use super::project::fail;

#[derive(Args)]
pub(crate) struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Only display project names
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Format the output: table or json
    #[arg(long, default_value = "table")]
    pub(crate) format: String,
}

pub(crate) fn ls(rt: &berth_runtime::Runtime, a: &LsArgs) -> Result<u8> {
    let rows: Vec<(String, String, String)> = berth_compose::compose_ls::list_projects(rt, a.all)
        .map_err(fail)?
        .into_iter()
        .map(|p| (p.name, p.status, p.config_files))
        .collect();
    if a.quiet {
        for (n, _, _) in rows {
            println!("{n}");
        }
        return Ok(0);
    }
    if a.format == "json" {
        let v: Vec<Value> = rows
            .iter()
            .map(|(n, s, f)| json!({"Name": n, "Status": s, "ConfigFiles": f}))
            .collect();
        println!("{}", serde_json::to_string(&v)?);
        return Ok(0);
    }
    let mut text = String::from("NAME\tSTATUS\tCONFIG FILES\n");
    for (n, s, f) in rows {
        text.push_str(&format!("{n}\t{s}\t{f}\n"));
    }
    print!("{}", crate::output::tabulate(&text));
    Ok(0)
}
