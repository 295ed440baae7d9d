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
    containers: Vec<String>,
}

pub fn stats(root: &Path, a: StatsArgs) -> Result<u8> {
    use crate::output::{human_binary_size, human_size};
    let rt = open(root)?;
    let mut previous: std::collections::HashMap<
        String,
        berth_runtime::container_stats::ContainerStats,
    > = std::collections::HashMap::new();
    loop {
        let mut list = rt.list().map_err(engine_error)?;
        if !a.containers.is_empty() {
            let mut keep = Vec::new();
            for k in &a.containers {
                keep.push(rt.find(k).map_err(engine_error)?.id);
            }
            list.retain(|c| keep.contains(&c.id));
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
        let mut text = String::from(
            "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS\n",
        );
        for c in &list {
            let s = rt.stats(c, previous.get(&c.id)).map_err(engine_error)?;
            let (rx, tx) = s.network_bytes();
            text.push_str(&format!(
                "{}\t{}\t{:.2}%\t{} / {}\t{:.2}%\t{} / {}\t--\t{}\n",
                &c.id[..12],
                c.name,
                s.cpu_percent(),
                human_binary_size(s.memory_stats.usage),
                human_binary_size(s.memory_stats.limit),
                s.memory_percent(),
                human_size(rx),
                human_size(tx),
                s.pids_stats.current,
            ));
            previous.insert(c.id.clone(), s);
        }
        print!("{}", crate::output::tabulate(&text));
        if a.no_stream {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
