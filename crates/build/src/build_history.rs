//! The build history: every build (from `berth build` or the API) recorded as it went — its
//! steps in order, which came from the cache, how long each took, what each printed (the
//! last lines), and how the build ended — under `<root>/builds/`, the newest `KEEP` kept.
//! `build_recorded` wraps the caller's `BuildHost` so that nothing else changes; the
//! dashboard's Builds view reads `list` and `get`.

use berth_image::build_cache_exchange::{CacheSink, CacheSource};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use berth_image::Image;
use berth_runtime::Runtime;
use serde::{Deserialize, Serialize};

use crate::build_events::{BuildEvent, LineSplitter};
use crate::builder::{build, BuildHost, BuildOptions};
use crate::error::Result;

/// How many builds are kept.
pub const KEEP: usize = 50;
/// How many of a step's output lines are kept (its last ones).
pub const STEP_LOG_LINES: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepRecord {
    pub number: usize,
    pub total: usize,
    pub instruction: String,
    pub cached: bool,
    pub duration_ms: u64,
    pub log: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuildRecord {
    #[serde(rename = "ID")]
    pub id: String,
    /// RFC 3339.
    pub started: String,
    pub duration_ms: u64,
    pub context: String,
    pub dockerfile: String,
    pub tags: Vec<String>,
    /// `succeeded` or `failed`.
    pub status: String,
    pub error: Option<String>,
    #[serde(rename = "ImageID")]
    pub image_id: Option<String>,
    pub steps: Vec<StepRecord>,
}

fn dir(root: &Path) -> PathBuf {
    root.join("builds")
}

/// Runs `build` with every step recorded, and writes the record whether it succeeds or
/// fails (a record that cannot be written does not fail the build). `context` says where
/// the context came from (a path, or that a client sent it).
pub fn build_recorded(
    rt: &Runtime,
    opts: &BuildOptions,
    host: &dyn BuildHost,
    context: &str,
) -> Result<Image> {
    let recorder = Recorder {
        inner: host,
        steps: Mutex::new(Vec::new()),
    };
    let started = chrono::Utc::now();
    let t0 = Instant::now();
    let result = build(rt, opts, &recorder);
    let mut steps: Vec<StepRecord> = recorder
        .steps
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|(rec, _, _)| rec)
        .collect();
    steps.sort_by_key(|s| s.number);
    let id = format!(
        "{}-{:08x}",
        started.format("%Y%m%dT%H%M%S%.6fZ"),
        std::process::id()
    );
    let record = BuildRecord {
        id,
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        duration_ms: t0.elapsed().as_millis() as u64,
        context: context.to_string(),
        dockerfile: opts.dockerfile_name.clone(),
        tags: opts.tags.iter().map(|t| t.familiar_tagged()).collect(),
        status: if result.is_ok() {
            "succeeded"
        } else {
            "failed"
        }
        .into(),
        error: result.as_ref().err().map(|e| e.to_string()),
        image_id: result.as_ref().ok().map(|i| i.id().to_string()),
        steps,
    };
    let _ = save(rt.root(), &record);
    // `image build` in the journal (issue #13's list; Docker's classic builder records only
    // the tags), so that followers such as the dashboard see the build.
    if let (Ok(img), Ok(store)) = (&result, berth_image::Store::open(rt.root())) {
        let name = record.tags.first().cloned().unwrap_or_default();
        store.image_event("build", &img.id().to_string(), &name);
    }
    result
}

/// Written whole under a temporary name, then renamed; the oldest beyond `KEEP` removed.
fn save(root: &Path, r: &BuildRecord) -> std::io::Result<()> {
    let d = dir(root);
    std::fs::create_dir_all(&d)?;
    let tmp = d.join(format!(".{}.tmp", r.id));
    std::fs::write(&tmp, serde_json::to_vec(r).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, d.join(format!("{}.json", r.id)))?;
    let mut names = record_names(&d);
    while names.len() > KEEP {
        let oldest = names.remove(0);
        let _ = std::fs::remove_file(d.join(oldest));
    }
    Ok(())
}

/// Record file names, oldest first (the IDs start with the time).
fn record_names(d: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(d)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The recorded builds, newest first (records that cannot be read are skipped); without
/// `with_logs`, their steps' output left out (`get` has it).
pub fn list(root: &Path, with_logs: bool) -> Vec<BuildRecord> {
    let d = dir(root);
    let mut out: Vec<BuildRecord> = record_names(&d)
        .iter()
        .filter_map(|n| std::fs::read(d.join(n)).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    out.reverse();
    if !with_logs {
        for s in out.iter_mut().flat_map(|b| b.steps.iter_mut()) {
            s.log.clear();
        }
    }
    out
}

/// One recorded build.
pub fn get(root: &Path, id: &str) -> Option<BuildRecord> {
    if id.contains('/') || id.starts_with('.') {
        return None;
    }
    let bytes = std::fs::read(dir(root).join(format!("{id}.json"))).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The caller's host, with each step's start, cache hit and output noted on the way (by
/// step number: stages run at once, and a live host gets their events interleaved).
struct Recorder<'a> {
    inner: &'a dyn BuildHost,
    steps: Mutex<Vec<(StepRecord, Instant, LineSplitter)>>,
}

impl Recorder<'_> {
    /// Notes `line` in step `n`'s log (the last lines kept) and how long it has run so far.
    fn note(&self, n: usize, line: Option<&str>) {
        let Ok(mut steps) = self.steps.lock() else {
            return;
        };
        if let Some((rec, started, _)) = steps.iter_mut().rev().find(|(r, _, _)| r.number == n) {
            rec.duration_ms = started.elapsed().as_millis() as u64;
            if let Some(line) = line {
                if rec.log.len() == STEP_LOG_LINES {
                    rec.log.remove(0);
                }
                rec.log.push(line.to_string());
            }
        }
    }

    /// Step `n`'s output cut into whole lines (`chunk` None: what is left of it).
    fn lines(&self, n: usize, chunk: Option<(crate::OutputStream, &[u8])>) -> Vec<String> {
        let Ok(mut steps) = self.steps.lock() else {
            return Vec::new();
        };
        let Some((_, _, split)) = steps.iter_mut().rev().find(|(r, _, _)| r.number == n) else {
            return Vec::new();
        };
        match chunk {
            Some((stream, chunk)) => split
                .push(stream, chunk)
                .into_iter()
                .map(|l| l.strip_suffix('\n').unwrap_or(&l).to_string())
                .collect(),
            None => split.finish().into_iter().map(|(_, l)| l).collect(),
        }
    }
}

impl BuildHost for Recorder<'_> {
    fn base_image(
        &self,
        name: &str,
        platform: Option<&str>,
        pull: bool,
    ) -> std::result::Result<Image, String> {
        self.inner.base_image(name, platform, pull)
    }

    fn event(&self, e: &BuildEvent) {
        match *e {
            BuildEvent::Step {
                number,
                total,
                instruction,
                ..
            } => {
                if let Ok(mut steps) = self.steps.lock() {
                    let rec = StepRecord {
                        number,
                        total,
                        instruction: instruction.to_string(),
                        cached: false,
                        duration_ms: 0,
                        log: Vec::new(),
                    };
                    steps.push((rec, Instant::now(), LineSplitter::default()));
                }
            }
            BuildEvent::Cached { step } => {
                if let Ok(mut steps) = self.steps.lock() {
                    if let Some((rec, _, _)) = steps.iter_mut().find(|(r, _, _)| r.number == step) {
                        rec.cached = true;
                    }
                }
                self.note(step, Some(" ---> Using cache"));
            }
            BuildEvent::Output {
                step,
                stream,
                chunk,
            } => {
                for l in self.lines(step, Some((stream, chunk))) {
                    self.note(step, Some(&l));
                }
            }
            BuildEvent::RunEnded { step, .. } => {
                for l in self.lines(step, None) {
                    self.note(step, Some(&l));
                }
            }
            _ => {
                if let Some(step) = e.step() {
                    self.note(step, e.classic_line().as_deref());
                }
            }
        }
        self.inner.event(e);
    }

    fn live_events(&self) -> bool {
        self.inner.live_events()
    }

    fn run_signals(&self) -> Option<crate::builder::RunSignals> {
        self.inner.run_signals()
    }

    fn download(&self, url: &str, dest: &Path) -> std::result::Result<Option<i64>, String> {
        self.inner.download(url, dest)
    }

    fn registry_cache_source(
        &self,
        reference: &str,
    ) -> Option<std::result::Result<Box<dyn CacheSource>, String>> {
        self.inner.registry_cache_source(reference)
    }

    fn registry_cache_sink(
        &self,
        reference: &str,
    ) -> Option<std::result::Result<Box<dyn CacheSink>, String>> {
        self.inner.registry_cache_sink(reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> BuildRecord {
        BuildRecord {
            id: id.into(),
            started: "2026-12-04T00:00:00.000Z".into(),
            duration_ms: 5,
            context: "/src".into(),
            dockerfile: "Dockerfile".into(),
            tags: vec!["app:1".into()],
            status: "succeeded".into(),
            error: None,
            image_id: Some("sha256:ab".into()),
            steps: vec![],
        }
    }

    #[test]
    fn records_are_kept_newest_first_and_bounded() {
        let root = tempfile::tempdir().unwrap();
        for i in 0..KEEP + 3 {
            save(
                root.path(),
                &record(&format!("20261204T0000{i:02}.000000Z-1")),
            )
            .unwrap();
        }
        let all = list(root.path(), true);
        assert_eq!(all.len(), KEEP);
        assert_eq!(all[0].id, format!("20261204T0000{:02}.000000Z-1", KEEP + 2));
        assert_eq!(all.last().unwrap().id, "20261204T000003.000000Z-1");
        assert_eq!(get(root.path(), &all[0].id).unwrap(), all[0]);
        assert!(get(root.path(), "../x").is_none());
    }
}
