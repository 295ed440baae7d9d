//! `berth events`: the journal's events as Docker prints them, past ones with `--since`, and
//! new ones as they happen until `--until` (or forever).

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, Result};
use berth_events::{event_line, EventFilters, Journal};
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
    let t = berth_runtime::container_logs::parse_time(flag, v).map_err(|e| anyhow!("{e}"))?;
    chrono::DateTime::parse_from_rfc3339(&t)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt())
        .ok_or_else(|| anyhow!("{flag} {v}: out of range"))
}

pub fn events(root: &Path, a: EventsArgs) -> Result<u8> {
    let filters = EventFilters::parse_args(&a.filter).map_err(|e| anyhow!(e))?;
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}").map_err(|e| anyhow!(e))?),
        Some(f) => Some(Template::parse(f).map_err(|e| anyhow!(e))?),
    };
    let since = a.since.as_deref().map(|v| nanos("since", v)).transpose()?;
    let until = a.until.as_deref().map(|v| nanos("until", v)).transpose()?;
    let journal = Journal::new(root);
    let (past, mut follower) = journal.read();
    let mut out = std::io::stdout().lock();
    let mut print = |e: &berth_events::Event| -> Result<bool> {
        if !filters.matches(e) {
            return Ok(true);
        }
        let line = match &template {
            Some(t) => t
                .render(&e.to_api_json())
                .map_err(|e| anyhow!("template: {e}"))?,
            None => event_line(e),
        };
        // A reader that went away ends the stream.
        Ok(writeln!(out, "{line}").and_then(|_| out.flush()).is_ok())
    };
    let in_range = |e: &berth_events::Event| {
        since.is_none_or(|s| e.time_nano >= s) && until.is_none_or(|u| e.time_nano <= u)
    };
    // Past events only when asked for with --since (or bounded by --until), as Docker.
    if since.is_some() || until.is_some() {
        for e in past.iter().filter(|e| in_range(e)) {
            if !print(e)? {
                return Ok(0);
            }
        }
    }
    loop {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        if until.is_some_and(|u| u < now) {
            return Ok(0);
        }
        for e in follower.poll().iter().filter(|e| in_range(e)) {
            if !print(e)? {
                return Ok(0);
            }
        }
        std::thread::sleep(berth_events::Follower::POLL);
    }
}
