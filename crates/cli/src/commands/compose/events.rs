//! `berth compose events`.

use std::io::Write;

use anyhow::Result;
use berth_compose::{Engine, Project};
use clap::Args;

use super::project::fail;

#[derive(Args)]
pub(crate) struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    pub(crate) json: bool,
    pub(crate) services: Vec<String>,
}

/// `compose events`: the project's events (`Engine::events`), as Compose prints them.
pub(crate) fn events(engine: &Engine, p: &Project, a: EventsArgs) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    for e in engine.events(p, &a.services).map_err(fail)? {
        let line = if a.json {
            serde_json::to_string(&e.to_json())?
        } else {
            let attrs: Vec<String> = e
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!(
                "{} container {} {} ({})",
                chrono::DateTime::from_timestamp_nanos(e.time_nano).format("%Y-%m-%d %H:%M:%S%.6f"),
                e.action,
                e.id,
                attrs.join(", ")
            )
        };
        // A reader that went away ends the stream.
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    Ok(0)
}
