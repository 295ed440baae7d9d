//! `berth history`.

use std::path::Path;

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use super::store::open_store;
use crate::output::{human_since, human_size, print_table};

#[derive(Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub(crate) human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub(crate) no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub(crate) format: Option<String>,
    pub(crate) image: String,
}

pub fn history(root: &Path, a: HistoryArgs) -> Result<u8> {
    let store = open_store(root)?;
    let img = store.lookup(&a.image)?;
    let rows: Vec<Value> = store
        .history(&img)
        .into_iter()
        .map(|h| {
            // Tabs and line breaks (a RUN here-document) would break the table's columns.
            let created_by = h.created_by.replace(['\t', '\n'], " ");
            let shown_by = if a.no_trunc || created_by.chars().count() <= 45 {
                created_by.clone()
            } else {
                format!("{}…", created_by.chars().take(44).collect::<String>())
            };
            let id = if h.id == "<missing>" || a.no_trunc {
                h.id.clone()
            } else {
                img.id().short().to_string()
            };
            json!({
                "ID": id,
                "CreatedSince": if a.human { human_since(h.created_at.as_deref()) } else { h.created_at.clone().unwrap_or_default() },
                "CreatedAt": h.created_at.clone().unwrap_or_default(),
                "CreatedBy": shown_by,
                "Size": if a.human { human_size(h.size) } else { h.size.to_string() },
                "Comment": h.comment,
            })
        })
        .collect();
    if a.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    print_table(
        a.format.as_deref(),
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        &[
            ("ID", "IMAGE"),
            ("CreatedSince", "CREATED"),
            ("CreatedBy", "CREATED BY"),
            ("CreatedAt", "CREATED AT"),
        ],
        &rows,
    )
}
