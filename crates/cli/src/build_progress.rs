//! How `berth build` shows a build (`--progress`): BuildKit's displays — `plain` (`#N …`
//! lines with timings and RUN output), `tty` (a live view of the steps with timers, redrawn
//! in place, running steps with the tail of their output), `rawjson` (BuildKit's solve
//! status objects, one a line) and `quiet` — and the classic builder's `Step N/M` text
//! (`classic`) for scripts that parse it. `auto` is `tty` on a terminal, else `plain`;
//! `BUILDKIT_PROGRESS` sets the default, as with Docker.
//!
//! The live view is drawn here rather than with `indicatif`: BuildKit's layout is a frame of
//! step lines, log tails and a header redrawn as a whole, not a set of progress bars, and a
//! frame is a few lines of ANSI.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use berth_build::{BuildEvent, OutputStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Classic,
    Plain,
    Tty,
    Quiet,
    RawJson,
}

impl ProgressMode {
    /// The mode `--progress` (or `BUILDKIT_PROGRESS`, or `auto`) asks for.
    pub fn resolve(flag: Option<&str>, quiet: bool) -> Result<ProgressMode> {
        let env = std::env::var("BUILDKIT_PROGRESS").ok();
        let asked = flag.or(env.as_deref()).unwrap_or("auto");
        let mode = match asked {
            "auto" if stderr_is_terminal() => ProgressMode::Tty,
            "auto" | "plain" => ProgressMode::Plain,
            "tty" => ProgressMode::Tty,
            "quiet" => ProgressMode::Quiet,
            "rawjson" => ProgressMode::RawJson,
            "classic" => ProgressMode::Classic,
            other => bail!(
                "invalid argument {other:?} for \"--progress\" flag: expected auto, plain, tty, quiet, rawjson or classic"
            ),
        };
        Ok(if quiet { ProgressMode::Quiet } else { mode })
    }
}

fn stderr_is_terminal() -> bool {
    // SAFETY: isatty on a standard descriptor.
    let tty = unsafe { libc::isatty(2) == 1 };
    tty && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// One step as the displays know it.
struct Vertex {
    /// BuildKit's `#N`, in order of appearance.
    id: usize,
    step: usize,
    name: String,
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    ended: Option<Duration>,
    cached: bool,
    /// The last lines of RUN output (tty), and what is left of the current line.
    tail: Vec<String>,
    partial: String,
    /// Its stage's label and number (to end it when the stage's next step begins).
    stage: String,
}

/// What every BuildKit display keeps: the steps so far.
struct Vertices {
    start: Instant,
    list: Vec<Vertex>,
    total: usize,
    /// The last vertex `plain` printed a line of (a blank line when it changes).
    last_printed: Option<usize>,
    /// `exporting to image` lines once the image is built.
    export: Vec<String>,
    export_id: Option<usize>,
}

impl Vertices {
    fn new() -> Vertices {
        Vertices {
            start: Instant::now(),
            list: Vec::new(),
            total: 0,
            last_printed: None,
            export: Vec::new(),
            export_id: None,
        }
    }

    fn find(&mut self, step: usize) -> Option<&mut Vertex> {
        self.list.iter_mut().rev().find(|v| v.step == step)
    }
}

/// BuildKit's name of a step: `[stage 2/5] RUN …` (`FROM` without its `AS name`).
fn vertex_name(instruction: &str, stage: &str, stage_step: usize, stage_steps: usize) -> String {
    let mut text = instruction.split_whitespace().collect::<Vec<_>>().join(" ");
    if stage_step == 1 {
        let words: Vec<&str> = text.split(' ').collect();
        if words.len() >= 3 && words[words.len() - 2].eq_ignore_ascii_case("as") {
            text = words[..words.len() - 2].join(" ");
        }
    }
    if stage.is_empty() {
        format!("[{stage_step}/{stage_steps}] {text}")
    } else {
        format!("[{stage} {stage_step}/{stage_steps}] {text}")
    }
}

/// The display of one build.
pub struct BuildProgress {
    mode: ProgressMode,
    state: Arc<Mutex<Vertices>>,
    /// The tty redraw loop, stopped by `finish`.
    redraw: Mutex<Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
}

impl BuildProgress {
    pub fn new(mode: ProgressMode) -> BuildProgress {
        let state = Arc::new(Mutex::new(Vertices::new()));
        let mut redraw = None;
        if mode == ProgressMode::Tty {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let s = state.clone();
            let handle = std::thread::spawn(move || {
                let mut drawn = 0;
                loop {
                    let stop = !matches!(
                        rx.recv_timeout(Duration::from_millis(100)),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    );
                    if let Ok(v) = s.lock() {
                        drawn = draw_frame(&v, drawn, stop);
                    }
                    if stop {
                        break;
                    }
                }
            });
            redraw = Some((tx, handle));
        }
        BuildProgress {
            mode,
            state,
            redraw: Mutex::new(redraw),
        }
    }

    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    /// Whether the display wants events as they come (BuildKit's displays).
    pub fn live(&self) -> bool {
        matches!(
            self.mode,
            ProgressMode::Plain | ProgressMode::Tty | ProgressMode::RawJson
        )
    }

    pub fn event(&self, e: &BuildEvent) {
        match self.mode {
            ProgressMode::Quiet => {}
            ProgressMode::Classic => classic(e),
            _ => {
                if let Ok(mut v) = self.state.lock() {
                    self.vertex_event(&mut v, e);
                }
            }
        }
    }

    fn vertex_event(&self, v: &mut Vertices, e: &BuildEvent) {
        let plain = self.mode == ProgressMode::Plain;
        let json = self.mode == ProgressMode::RawJson;
        match *e {
            BuildEvent::Step {
                number,
                total,
                instruction,
                stage,
                stage_step,
                stage_steps,
            } => {
                v.total = total;
                // The stage's previous step is over.
                let ended: Vec<usize> = v
                    .list
                    .iter()
                    .filter(|x| x.stage == stage && x.ended.is_none())
                    .map(|x| x.step)
                    .collect();
                for s in ended {
                    self.end(v, s);
                }
                let id = v.list.len() + 1;
                let vertex = Vertex {
                    id,
                    step: number,
                    name: vertex_name(instruction, stage, stage_step, stage_steps),
                    started: Instant::now(),
                    started_at: chrono::Utc::now(),
                    ended: None,
                    cached: false,
                    tail: Vec::new(),
                    partial: String::new(),
                    stage: stage.to_string(),
                };
                if plain {
                    plain_line(v, id, &format!("#{id} {}", vertex.name), true);
                }
                if json {
                    raw_json_vertex(&vertex);
                }
                v.list.push(vertex);
            }
            BuildEvent::Cached { step } => {
                let Some(x) = v.find(step) else { return };
                x.cached = true;
                x.ended = Some(Duration::ZERO);
                let id = x.id;
                if plain {
                    plain_line(v, id, &format!("#{id} CACHED"), false);
                }
                if json {
                    if let Some(x) = v.find(step) {
                        raw_json_vertex(x);
                    }
                }
            }
            BuildEvent::Output {
                step,
                stream,
                chunk,
            } => {
                let Some(x) = v.find(step) else { return };
                if json {
                    raw_json_log(x, stream, chunk);
                    return;
                }
                x.partial.push_str(&String::from_utf8_lossy(chunk));
                let mut lines = Vec::new();
                while let Some(i) = x.partial.find('\n') {
                    let line: String = x.partial.drain(..=i).collect();
                    lines.push(line.trim_end_matches(['\n', '\r']).to_string());
                }
                let (id, secs) = (x.id, x.started.elapsed().as_secs_f64());
                for l in &lines {
                    x.tail.push(l.clone());
                }
                let keep = x.tail.len().saturating_sub(6);
                x.tail.drain(..keep);
                if plain {
                    for l in lines {
                        plain_line(v, id, &format!("#{id} {secs:.3} {l}"), false);
                    }
                }
            }
            BuildEvent::RunEnded { step, .. } => {
                let Some(x) = v.find(step) else { return };
                let rest = std::mem::take(&mut x.partial);
                let (id, secs) = (x.id, x.started.elapsed().as_secs_f64());
                if plain && !rest.is_empty() {
                    plain_line(v, id, &format!("#{id} {secs:.3} {rest}"), false);
                }
            }
            BuildEvent::StepImage { step, .. } => self.end(v, step),
            BuildEvent::Trigger { step, instruction } => {
                let Some(x) = v.find(step) else { return };
                let id = x.id;
                if plain {
                    plain_line(
                        v,
                        id,
                        &format!("#{id} ONBUILD trigger: {instruction}"),
                        false,
                    );
                }
            }
            BuildEvent::Warning { text } => {
                if !json {
                    let _ = writeln!(std::io::stderr(), "{text}");
                }
            }
            BuildEvent::Built { id } => {
                let open: Vec<usize> = v
                    .list
                    .iter()
                    .filter(|x| x.ended.is_none())
                    .map(|x| x.step)
                    .collect();
                for s in open {
                    self.end(v, s);
                }
                let n = v.list.len() + 1;
                v.export_id = Some(n);
                v.export = vec![format!("writing image {id}")];
                if plain {
                    plain_line(v, n, &format!("#{n} exporting to image"), true);
                    plain_line(v, n, &format!("#{n} writing image {id} done"), false);
                }
            }
            BuildEvent::Tagged { name } => {
                let full = berth_image::Reference::parse(name)
                    .map(|r| r.to_string())
                    .unwrap_or_else(|_| name.to_string());
                let line = format!("naming to {full}");
                if let Some(n) = v.export_id {
                    if plain {
                        plain_line(v, n, &format!("#{n} {line} done"), false);
                    }
                }
                v.export.push(line);
            }
            BuildEvent::CacheExported { place, entries } => {
                // A vertex after the image's export, as BuildKit's "exporting cache".
                let n = v.export_id.map_or(v.list.len() + 1, |e| e + 1);
                let line = format!(
                    "exporting cache to {place} ({entries} step{})",
                    if entries == 1 { "" } else { "s" }
                );
                if plain {
                    plain_line(v, n, &format!("#{n} {line}"), true);
                    plain_line(v, n, &format!("#{n} DONE"), false);
                }
                v.export.push(line);
            }
            BuildEvent::Running { .. } => {}
        }
    }

    /// Step `step` is over (its image is there, or its stage went on).
    fn end(&self, v: &mut Vertices, step: usize) {
        let Some(x) = v.find(step) else { return };
        if x.ended.is_some() {
            return;
        }
        let took = x.started.elapsed();
        x.ended = Some(took);
        let id = x.id;
        match self.mode {
            ProgressMode::Plain => plain_line(
                v,
                id,
                &format!("#{id} DONE {:.1}s", took.as_secs_f64()),
                false,
            ),
            ProgressMode::RawJson => {
                if let Some(x) = v.find(step) {
                    raw_json_vertex(x);
                }
            }
            _ => {}
        }
    }

    /// The build is over: the last frame (tty), the export's DONE or the failed steps'
    /// ERROR lines (plain).
    pub fn finish(&self, error: Option<&str>) {
        if let Ok(mut v) = self.state.lock() {
            if self.mode == ProgressMode::Plain {
                match (error, v.export_id) {
                    (None, Some(n)) => plain_line(&mut v, n, &format!("#{n} DONE 0.0s"), false),
                    (Some(err), _) => {
                        let open: Vec<usize> = v
                            .list
                            .iter()
                            .filter(|x| x.ended.is_none())
                            .map(|x| x.id)
                            .collect();
                        for id in open {
                            plain_line(&mut v, id, &format!("#{id} ERROR: {err}"), false);
                        }
                    }
                    _ => {}
                }
                if v.last_printed.is_some() {
                    let _ = writeln!(std::io::stderr());
                }
            }
            if error.is_some() {
                // Failed steps stay unfinished in the last frame.
                let start = v.start;
                let now = start.elapsed();
                for x in v.list.iter_mut().filter(|x| x.ended.is_none()) {
                    x.ended = Some(now.saturating_sub(x.started.duration_since(start)));
                }
            }
        }
        let redraw = self.redraw.lock().ok().and_then(|mut r| r.take());
        if let Some((tx, handle)) = redraw {
            let _ = tx.send(());
            let _ = handle.join();
        }
    }
}

/// The classic builder's text: lines on stdout, RUN output as it comes on our own streams.
fn classic(e: &BuildEvent) {
    match e {
        BuildEvent::Output { stream, chunk, .. } => {
            let _ = match stream {
                OutputStream::Stdout => {
                    let mut o = std::io::stdout().lock();
                    o.write_all(chunk).and_then(|_| o.flush())
                }
                OutputStream::Stderr => std::io::stderr().lock().write_all(chunk),
            };
        }
        _ => {
            if let Some(line) = e.classic_line() {
                // A reader that went away (`| head`) is not the build's failure.
                let _ = writeln!(std::io::stdout(), "{line}");
            }
        }
    }
}

/// One line of the plain display, on stderr: a blank line first when another step printed
/// last (or `new` vertex).
fn plain_line(v: &mut Vertices, id: usize, line: &str, new: bool) {
    let mut err = std::io::stderr().lock();
    if v.last_printed.is_some() && (new || v.last_printed != Some(id)) {
        let _ = writeln!(err);
    }
    let _ = writeln!(err, "{line}");
    v.last_printed = Some(id);
}

/// BuildKit's digest of a vertex: here, of its number and name.
fn vertex_digest(x: &Vertex) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("{}\0{}", x.step, x.name).as_bytes());
    format!("sha256:{}", hex::encode(d))
}

fn raw_json_vertex(x: &Vertex) {
    let mut vertex = serde_json::json!({
        "digest": vertex_digest(x),
        "name": x.name,
        "started": x.started_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    });
    if let Some(took) = x.ended {
        let done = x.started_at + chrono::Duration::from_std(took).unwrap_or_default();
        vertex["completed"] = done
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            .into();
    }
    if x.cached {
        vertex["cached"] = true.into();
    }
    let _ = writeln!(
        std::io::stderr(),
        "{}",
        serde_json::json!({ "vertexes": [vertex] })
    );
}

fn raw_json_log(x: &Vertex, stream: OutputStream, chunk: &[u8]) {
    use base64::Engine;
    let line = serde_json::json!({ "logs": [{
        "vertex": vertex_digest(x),
        "stream": if stream == OutputStream::Stdout { 1 } else { 2 },
        "data": base64::engine::general_purpose::STANDARD.encode(chunk),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    }]});
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Draws the live view over the last one (`drawn` lines high); the height drawn. The
/// finished steps scroll away first when the view is taller than the terminal.
fn draw_frame(v: &Vertices, drawn: usize, last: bool) -> usize {
    let (rows, cols) = crate::terminal::window_size()
        .map(|(r, c)| (r as usize, c as usize))
        .unwrap_or((24, 80));
    let done = v.list.iter().filter(|x| x.ended.is_some()).count();
    let mut lines = vec![format!(
        "[+] Building {:.1}s ({done}/{}){}",
        v.start.elapsed().as_secs_f64(),
        v.total.max(v.list.len()),
        if last { " FINISHED" } else { "" }
    )];
    let mut body: Vec<(bool, String)> = Vec::new();
    for x in &v.list {
        let took = x.ended.unwrap_or_else(|| x.started.elapsed());
        let name = if x.cached {
            format!("CACHED {}", x.name)
        } else {
            x.name.clone()
        };
        body.push((
            x.ended.is_some(),
            fit(
                &format!(" => {name}"),
                &format!("{:.1}s", took.as_secs_f64()),
                cols,
            ),
        ));
        if x.ended.is_none() && !last {
            for l in &x.tail {
                body.push((false, fit(&format!(" => => # {l}"), "", cols)));
            }
        }
    }
    if let Some(_n) = v.export_id {
        body.push((true, fit(" => exporting to image", "0.0s", cols)));
        for l in &v.export {
            body.push((true, fit(&format!(" => => {l}"), "0.0s", cols)));
        }
    }
    // Taller than the terminal: the finished steps go first.
    let room = rows.saturating_sub(2).max(1);
    while body.len() > room {
        match body.iter().position(|(finished, _)| *finished) {
            Some(i) if !last => {
                body.remove(i);
            }
            _ => {
                body.remove(0);
            }
        }
    }
    lines.extend(body.into_iter().map(|(_, l)| l));
    let mut out = String::new();
    if drawn > 0 {
        out.push_str(&format!("\x1b[{drawn}A"));
    }
    for l in &lines {
        out.push_str("\x1b[2K");
        out.push_str(l);
        out.push('\n');
    }
    // A shorter frame than the last: clear what is left below it.
    for _ in lines.len()..drawn {
        out.push_str("\x1b[2K\n");
    }
    let height = lines.len().max(drawn);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
    height
}

/// `left` cut to the terminal's width with `right` (a time) at the right edge.
fn fit(left: &str, right: &str, cols: usize) -> String {
    let width = cols.saturating_sub(1).max(20);
    let room = width.saturating_sub(right.chars().count() + 1);
    let mut l: String = left.chars().take(room).collect();
    let pad = room.saturating_sub(l.chars().count());
    l.push_str(&" ".repeat(pad));
    if !right.is_empty() {
        l.push(' ');
        l.push_str(right);
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_named_as_buildkit_names_them() {
        assert_eq!(
            vertex_name("FROM busybox AS build", "build", 1, 3),
            "[build 1/3] FROM busybox"
        );
        assert_eq!(
            vertex_name("RUN  make \\\n  all", "", 2, 2),
            "[2/2] RUN make \\ all"
        );
        // 29 columns: the name, padding, one space, the time at the edge.
        assert_eq!(
            fit(" => [1/2] RUN x", "1.2s", 30),
            format!(" => [1/2] RUN x{} 1.2s", " ".repeat(9))
        );
        assert_eq!(fit(&"x".repeat(50), "0.0s", 30).chars().count(), 29);
    }

    #[test]
    fn progress_modes_resolve_as_dockers() {
        assert_eq!(
            ProgressMode::resolve(Some("plain"), false).unwrap(),
            ProgressMode::Plain
        );
        assert_eq!(
            ProgressMode::resolve(Some("classic"), false).unwrap(),
            ProgressMode::Classic
        );
        assert_eq!(
            ProgressMode::resolve(Some("tty"), true).unwrap(),
            ProgressMode::Quiet
        );
        let e = ProgressMode::resolve(Some("fancy"), false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("invalid argument \"fancy\" for \"--progress\""),
            "{e}"
        );
    }
}
