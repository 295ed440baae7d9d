//! `berth compose logs`.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use berth_compose::project_containers::{project_containers, ServiceContainer};
use berth_compose::Project;
use clap::Args;

use super::output::prefixes;
use super::project::fail;

#[derive(Args)]
pub(crate) struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long)]
    pub(crate) tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub(crate) timestamps: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub(crate) no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub(crate) no_log_prefix: bool,
    pub(crate) services: Vec<String>,
}

pub(crate) fn logs(rt: &berth_runtime::Runtime, p: &Project, a: LogsArgs) -> Result<u8> {
    use berth_runtime::container_logs::LogOptions;
    let tail = match a.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            crate::commands::shared::flag_error("-n, --tail", n, "expected a number or \"all\"")
        })?),
    };
    let cs: Vec<ServiceContainer> = project_containers(rt, &p.name, false)
        .map_err(fail)?
        .into_iter()
        .filter(|c| a.services.is_empty() || a.services.contains(&c.service))
        .collect();
    let color = !a.no_color && std::io::stdout().is_terminal();
    let pre = if a.no_log_prefix {
        vec![String::new(); cs.len()]
    } else {
        prefixes(p, &cs, color)
    };
    let out = std::sync::Mutex::new(());
    std::thread::scope(|scope| {
        for (i, c) in cs.iter().enumerate() {
            let (pre, out) = (&pre[i], &out);
            let options = LogOptions {
                follow: a.follow,
                tail,
                ..LogOptions::default()
            };
            let timestamps = a.timestamps;
            scope.spawn(move || {
                let Ok(entries) = rt.logs(&c.record.id, &options) else {
                    return;
                };
                for e in entries {
                    let _g = out.lock();
                    let line = e.log.strip_suffix('\n').unwrap_or(&e.log);
                    let ts = if timestamps {
                        format!("{} ", e.time)
                    } else {
                        String::new()
                    };
                    let text = format!("{pre}{ts}{line}\n");
                    let w = if e.stream == "stderr" {
                        std::io::stderr().lock().write_all(text.as_bytes())
                    } else {
                        let mut o = std::io::stdout().lock();
                        o.write_all(text.as_bytes()).and_then(|_| o.flush())
                    };
                    if w.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(0)
}
