//! `berth compose ps`.

use anyhow::Result;
use berth_compose::project_containers::{project_containers, ServiceContainer};
use berth_compose::Project;
use clap::Args;
use serde_json::{json, Value};

use super::project::fail;
use crate::output::human_since;

#[derive(Args)]
pub(crate) struct PsArgs {
    /// Show all stopped containers (including those created by the run command)
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Only display IDs
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Display services
    #[arg(long)]
    pub(crate) services: bool,
    /// Format output using a custom template: 'table', 'json' or a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    pub(crate) services_named: Vec<String>,
}

pub(crate) fn ps(rt: &berth_runtime::Runtime, p: &Project, a: PsArgs) -> Result<u8> {
    if a.services {
        for s in p.services_in_order(&[]).map_err(fail)? {
            println!("{s}");
        }
        return Ok(0);
    }
    let list: Vec<ServiceContainer> = project_containers(rt, &p.name, a.all)
        .map_err(fail)?
        .into_iter()
        .filter(|c| a.all || c.record.state.running())
        .filter(|c| a.services_named.is_empty() || a.services_named.contains(&c.service))
        .collect();
    if a.quiet {
        for c in &list {
            println!("{}", c.record.id);
        }
        return Ok(0);
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|c| {
            let r = &c.record;
            json!({
                "ID": r.id,
                "Name": r.name,
                "Names": r.name,
                "Image": r.image,
                "Command": crate::commands::container::command_text(r, false),
                "Project": p.name,
                "Service": c.service,
                "CreatedAt": crate::output::created_at(Some(&r.created)),
                "RunningFor": human_since(Some(&r.created)),
                "State": r.state.docker_status(),
                "Status": rt.status_text(r),
                "Health": rt.health(r).map(|h| h.status).unwrap_or_default(),
                "ExitCode": r.state.exit_code,
                "Ports": rt.ports_text(r),
                "Labels": r.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            })
        })
        .collect();
    if a.format.as_deref() == Some("json") {
        // Compose prints one JSON object per line.
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(0);
    }
    crate::output::print_table(
        a.format.as_deref(),
        "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}",
        &[
            ("Name", "NAME"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("Service", "SERVICE"),
            ("RunningFor", "CREATED"),
            ("Status", "STATUS"),
            ("Ports", "PORTS"),
            ("ID", "CONTAINER ID"),
            ("State", "STATE"),
        ],
        &rows,
    )
}
