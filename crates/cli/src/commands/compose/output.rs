//! Service containers' output with Compose's `name  |` prefixes and colours, followed to the end.

use std::io::Write;

use anyhow::Result;
use berth_compose::compose_lifecycle::Verb;
use berth_compose::project_containers::ServiceContainer;
use berth_compose::{Engine, Project};

use super::project::fail;
use super::project::print_progress;
use super::up::on_first_interrupt;

/// Compose's colours for service prefixes, in its order.
const COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

pub(crate) fn prefixes(p: &Project, cs: &[ServiceContainer], color: bool) -> Vec<String> {
    let width = cs
        .iter()
        .map(|c| c.short_name(&p.name).len())
        .max()
        .unwrap_or(0);
    cs.iter()
        .enumerate()
        .map(|(i, c)| {
            let name = format!("{:width$}", c.short_name(&p.name));
            if color {
                format!("\x1b[{}m{name}  |\x1b[0m ", COLORS[i % COLORS.len()])
            } else {
                format!("{name}  | ")
            }
        })
        .collect()
}

/// Follows the logs of `cs` until all (or, with `abort`, one) have exited; the exit code
/// Compose returns.
pub(crate) fn follow(
    engine: &Engine,
    p: &Project,
    cs: &[ServiceContainer],
    color: bool,
    abort: bool,
    exit_code_from: Option<&str>,
) -> Result<u8> {
    use berth_runtime::container_logs::LogOptions;
    let rt = engine.rt;
    let pre = prefixes(p, cs, color);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Option<i32>)>();
    let out = std::sync::Mutex::new(());
    let code = std::thread::scope(|scope| -> Result<u8> {
        for (i, c) in cs.iter().enumerate() {
            let (tx, pre, out) = (tx.clone(), &pre[i], &out);
            scope.spawn(move || {
                let options = LogOptions {
                    follow: true,
                    ..LogOptions::default()
                };
                if let Ok(entries) = rt.logs(&c.record.id, &options) {
                    for e in entries {
                        let _g = out.lock();
                        let mut o = std::io::stdout().lock();
                        let line = e.log.strip_suffix('\n').unwrap_or(&e.log);
                        let _ = writeln!(o, "{pre}{line}");
                        let _ = o.flush();
                    }
                }
                let code = rt.wait(&c.record.id).ok();
                let _ = tx.send((i, code));
            });
        }
        drop(tx);
        let mut result = 0u8;
        let mut first_exit: Option<(usize, i32)> = None;
        let interrupted = on_first_interrupt();
        loop {
            let (i, code) = match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(x) => x,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if !interrupted.load(std::sync::atomic::Ordering::SeqCst) {
                        continue;
                    }
                    // Ctrl-C: stop the project's containers, as Compose does; a second
                    // Ctrl-C ends berth at once (the handler is one-shot).
                    eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                    let mut report = print_progress;
                    engine
                        .apply(p, &[], &Verb::Stop { timeout: None }, &mut report)
                        .map_err(fail)?;
                    for _ in rx.iter() {}
                    return Ok(130);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let c = &cs[i];
            let exit = code.unwrap_or(-1);
            println!("{} exited with code {exit}", c.short_name(&p.name));
            if first_exit.is_none() {
                first_exit = Some((i, exit));
            }
            if exit_code_from == Some(c.service.as_str()) {
                result = exit.clamp(0, 255) as u8;
            }
            if abort {
                eprintln!("Aborting on container exit...");
                let mut report = print_progress;
                let services: Vec<String> = Vec::new();
                engine
                    .apply(p, &services, &Verb::Stop { timeout: None }, &mut report)
                    .map_err(fail)?;
                if exit_code_from.is_none() {
                    result = exit.clamp(0, 255) as u8;
                }
                // The stops end the other followers; drain them.
                for _ in rx.iter() {}
                break;
            }
        }
        Ok(result)
    })?;
    Ok(code)
}
