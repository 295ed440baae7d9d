//! `berth events`: the journal's events (`Journal::query`) as Docker prints them.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, Result};
use berth_events::{event_line, EventFilters, EventQuery, Journal};
use clap::Args;

use crate::template::Template;

#[derive(Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    until: Option<String>,
}

/// A `--since`/`--until` value as Unix nanoseconds.
fn nanos(flag: &str, v: &str) -> Result<i64> {
    berth_runtime::container_logs::parse_time_nanos(flag, v).map_err(|e| anyhow!("{e}"))
}

pub fn events(root: &Path, a: EventsArgs) -> Result<u8> {
    let filters = EventFilters::parse_args(&a.filter).map_err(|e| anyhow!(e))?;
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}").map_err(|e| anyhow!(e))?),
        // Docker's events are a struct, but what formats reach is mostly the attributes
        // map: a missing attribute prints `<no value>`.
        Some(f) => Some(Template::parse(f).map_err(|e| anyhow!(e))?.over_maps()),
    };
    let query = EventQuery {
        since: a.since.as_deref().map(|v| nanos("since", v)).transpose()?,
        until: a.until.as_deref().map(|v| nanos("until", v)).transpose()?,
        filters,
    };
    let mut out = std::io::stdout().lock();
    for e in Journal::new(root).query(query) {
        let line = match &template {
            Some(t) => t
                .render(&e.to_api_json())
                .map_err(|e| anyhow!("template: {e}"))?,
            None => event_line(&e),
        };
        // A reader that went away ends the stream.
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    Ok(0)
}
