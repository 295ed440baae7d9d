//! `berth stats`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{engine_error, open};

#[derive(Args)]
pub struct StatsArgs {
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go
    /// template)
    #[arg(long)]
    format: Option<String>,
    /// Do not truncate output
    #[arg(long)]
    no_trunc: bool,
    containers: Vec<String>,
}

const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

const HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

pub fn stats(root: &Path, a: StatsArgs) -> Result<u8> {
    use crate::output::{human_binary_size, human_size};
    let rt = open(root)?;
    let mut previous: std::collections::HashMap<
        String,
        berth_runtime::container_stats::ContainerStats,
    > = std::collections::HashMap::new();
    // The containers named, resolved once: (as named, ID).
    let mut asked = Vec::new();
    for k in &a.containers {
        asked.push((k.clone(), rt.find(k).map_err(engine_error)?.id));
    }
    loop {
        let mut list = rt.list().map_err(engine_error)?;
        if !a.containers.is_empty() {
            list.retain(|c| asked.iter().any(|(_, id)| *id == c.id));
        } else if !a.all {
            list.retain(|c| c.state.running());
        }
        // CPU % needs two samples: the first round only takes them.
        if previous.is_empty() {
            for c in &list {
                previous.insert(c.id.clone(), rt.stats(c, None).map_err(engine_error)?);
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let mut rows = Vec::new();
        for c in &list {
            let s = rt.stats(c, previous.get(&c.id)).map_err(engine_error)?;
            let (rx, tx) = s.network_bytes();
            let (read, written) = s.block_io_bytes();
            let id = if a.no_trunc { &c.id[..] } else { &c.id[..12] };
            // `.Container` is what the user named it (the ID when all are listed).
            let named = asked
                .iter()
                .find(|(_, found)| *found == c.id)
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| id.to_string());
            rows.push(serde_json::json!({
                "Container": named,
                "ID": id,
                "Name": c.name,
                "CPUPerc": format!("{:.2}%", s.cpu_percent()),
                "MemUsage": format!(
                    "{} / {}",
                    human_binary_size(s.memory_stats.usage),
                    human_binary_size(s.memory_stats.limit)
                ),
                "MemPerc": format!("{:.2}%", s.memory_percent()),
                "NetIO": format!("{} / {}", human_size(rx), human_size(tx)),
                "BlockIO": format!("{} / {}", human_size(read), human_size(written)),
                "PIDs": s.pids_stats.current.to_string(),
            }));
            previous.insert(c.id.clone(), s);
        }
        crate::output::print_table(a.format.as_deref(), DEFAULT_FORMAT, HEADERS, &rows)?;
        if a.no_stream {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
