//! `berth logs`.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::commands::shared::{engine_error, flag_error, open};

#[derive(Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long)]
    tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42
    /// minutes)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for
    /// 42 minutes)
    #[arg(long)]
    until: Option<String>,
    container: String,
}

pub fn logs(root: &Path, a: LogsArgs) -> Result<u8> {
    use berth_runtime::container_logs::{parse_time, LogOptions};
    let rt = open(root)?;
    let tail = match a.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| flag_error("-n, --tail", n, "expected a number or \"all\""))?,
        ),
    };
    let options = LogOptions {
        follow: a.follow,
        since: a
            .since
            .as_deref()
            .map(|s| parse_time("since", s))
            .transpose()
            .map_err(engine_error)?,
        until: a
            .until
            .as_deref()
            .map(|s| parse_time("until", s))
            .transpose()
            .map_err(engine_error)?,
        tail,
        ..LogOptions::default()
    };
    let entries = rt.logs(&a.container, &options).map_err(engine_error)?;
    for e in entries {
        let line = if a.timestamps {
            format!("{} {}", e.time, e.log)
        } else {
            e.log
        };
        // A reader that went away (`logs -f | head`) ends the follow.
        let written = if e.stream == "stderr" {
            std::io::stderr().lock().write_all(line.as_bytes())
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(line.as_bytes()).and_then(|_| out.flush())
        };
        if written.is_err() {
            break;
        }
    }
    Ok(0)
}
