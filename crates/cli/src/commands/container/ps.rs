//! `berth ps`: the engine's list with Docker's columns and `--format`.

use std::path::Path;

use anyhow::Result;
use berth_runtime::record::ContainerRecord;
use berth_runtime::Runtime;
use clap::Args;
use serde_json::{json, Value};

use crate::commands::shared::{engine_error, open};
use crate::output::{created_at, human_since};

#[derive(Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long)]
    last: Option<usize>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    latest: bool,
    /// Filter output based on conditions provided (status=, name=, id=, label=)
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

pub(crate) fn status_text(rt: &Runtime, c: &ContainerRecord) -> String {
    rt.status_text(c)
}

pub(crate) fn command_text(c: &ContainerRecord, no_trunc: bool) -> String {
    let cmd = c.config.args.join(" ");
    let shown = if no_trunc || cmd.chars().count() <= 20 {
        cmd
    } else {
        format!("{}…", cmd.chars().take(19).collect::<String>())
    };
    // Docker quotes it with Go's strconv.Quote: a newline in a command stays on one row.
    berth_dockerfile::parser::go_quote(&shown)
}

pub fn ps(root: &Path, a: PsArgs) -> Result<u8> {
    let rt = open(root)?;
    let options = berth_runtime::container_list::ListOptions {
        all: a.all,
        limit: if a.latest { Some(1) } else { a.last },
        filters: berth_runtime::container_list::Filters::parse_args(&a.filter)
            .map_err(engine_error)?,
    };
    let list = rt.list_containers(&options).map_err(engine_error)?;
    if a.quiet {
        for c in &list {
            println!("{}", if a.no_trunc { &c.id[..] } else { &c.id[..12] });
        }
        return Ok(0);
    }
    // `--no-trunc` also lists the names links give (`web/db`), as the docker CLI does.
    let link_names = if a.no_trunc {
        rt.link_names()
    } else {
        Default::default()
    };
    let rows: Vec<Value> = list
        .iter()
        .map(|c| {
            let names: Vec<String> = std::iter::once(c.name.clone())
                .chain(
                    link_names
                        .get(&c.id)
                        .into_iter()
                        .flatten()
                        .map(|n| n.trim_start_matches('/').to_string()),
                )
                .collect();
            json!({
                "ID": if a.no_trunc { c.id.clone() } else { c.id[..12].to_string() },
                "Image": c.image,
                "Command": command_text(c, a.no_trunc),
                "CreatedAt": created_at(Some(&c.created)),
                "RunningFor": human_since(Some(&c.created)),
                "Status": status_text(&rt, c),
                "State": c.state.docker_status(),
                "Ports": ports_text(&rt, c),
                "Names": names.join(","),
                "Networks": rt.network_names(c).join(","),
                "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            })
        })
        .collect();
    crate::output::print_table(
        a.format.as_deref(),
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
        &[
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("RunningFor", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("Status", "STATUS"),
            ("Ports", "PORTS"),
            ("Names", "NAMES"),
            ("Networks", "NETWORKS"),
        ],
        &rows,
    )
}

pub(crate) fn ports_text(rt: &Runtime, c: &ContainerRecord) -> String {
    rt.ports_text(c)
}
