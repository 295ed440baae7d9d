//! `berth system df`.

use std::path::Path;

use anyhow::{anyhow, Result};
use berth_image::images::familiar;
use clap::Args;
use serde_json::json;

use crate::output::{go_json, human_since, human_size, print_table, tabulate};

#[derive(Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub(crate) format: Option<String>,
}

pub fn system_df(root: &Path, a: DfArgs) -> Result<u8> {
    let rt = berth_runtime::Runtime::open(root).map_err(|e| anyhow!("{e}"))?;
    let du = rt.disk_usage().map_err(|e| anyhow!("{e}"))?;
    // Docker's form: "1.2GB (75%)", or just "0B" when there is nothing.
    let reclaim = |part: u64, whole: u64| match (part * 100).checked_div(whole) {
        None => human_size(part),
        Some(pct) => format!("{} ({pct}%)", human_size(part)),
    };
    let row = |kind: &str, s: berth_runtime::disk_usage::UsageSummary, percent: bool| {
        json!({"Type": kind, "TotalCount": s.total.to_string(), "Active": s.active.to_string(),
               "Size": human_size(s.size),
               "Reclaimable": if percent { reclaim(s.reclaimable, s.size) } else { human_size(s.reclaimable) }})
    };
    let rows = vec![
        row("Images", du.images_summary(), true),
        row("Containers", du.containers_summary(), true),
        row("Local Volumes", du.volumes_summary(), true),
        row("Build Cache", du.build_cache_summary(), false),
    ];
    if a.verbose {
        let mut text = String::from(
            "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n",
        );
        for u in &du.images {
            let i = &u.image;
            let names: Vec<String> = if i.tags.is_empty() {
                vec!["<none>:<none>".into()]
            } else {
                i.tags.iter().map(|t| familiar(t)).collect()
            };
            for n in names {
                let (repo, tag) = n.rsplit_once(':').unwrap_or((&n, ""));
                text.push_str(&format!(
                    "{repo}\t{tag}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    i.id().short(),
                    human_since(i.config.created.as_deref()),
                    human_size(u.size),
                    human_size(u.shared_size),
                    human_size(u.size - u.shared_size),
                    u.containers,
                ));
            }
        }
        println!("Images space usage:\n");
        print!("{}", tabulate(&text));

        let mut text = String::from(
            "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n",
        );
        for u in &du.containers {
            let c = &u.container;
            let local_volumes = c
                .config
                .mounts
                .iter()
                .filter(|m| m.kind == "volume")
                .count();
            text.push_str(&format!(
                "{}\t{}\t{}\t{local_volumes}\t{}\t{}\t{}\t{}\n",
                &c.id[..12.min(c.id.len())],
                c.image,
                crate::commands::container::command_text(c, false),
                human_size(u.size_rw),
                human_since(Some(&c.created)),
                rt.status_text(c),
                c.name,
            ));
        }
        println!("\nContainers space usage:\n");
        print!("{}", tabulate(&text));

        let mut text = String::from("VOLUME NAME\tLINKS\tSIZE\n");
        for v in &du.volumes {
            text.push_str(&format!(
                "{}\t{}\t{}\n",
                v.name,
                v.ref_count,
                human_size(v.size)
            ));
        }
        println!("\nLocal Volumes space usage:\n");
        print!("{}", tabulate(&text));

        let mut text =
            String::from("CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n");
        for r in &du.build_cache {
            text.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t0\t{}\n",
                &r.id[..12.min(r.id.len())],
                r.kind,
                human_size(r.size),
                human_since(r.created.as_deref()),
                human_since(r.last_used.as_deref()),
                r.shared,
            ));
        }
        println!("\nBuild cache usage: {}\n", human_size(du.build_cache_size));
        print!("{}", tabulate(&text));
        return Ok(0);
    }
    if a.format.as_deref() == Some("json") {
        for r in &rows {
            println!("{}", go_json(r));
        }
        return Ok(0);
    }
    print_table(
        a.format.as_deref(),
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
        &rows,
    )
}
