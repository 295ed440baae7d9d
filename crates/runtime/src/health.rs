//! Health checks: the image's HEALTHCHECK or `--health-*`. The container's monitor (its
//! supervisor, or a foreground `berth run`) runs the test command inside the container at
//! each interval and keeps the status with the last five results in `health.json` beside the
//! record, which `inspect` (State.Health) and `ps` ("Up 3 minutes (healthy)") read.
//! Docker's rules: a probe exits 0 for healthy; failures during the start period do not
//! count; `retries` consecutive failures make the container unhealthy; a probe that outlives
//! the timeout is killed and counts as a failure.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use berth_image::config::Healthcheck;
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

pub const FILE: &str = "health.json";

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;
/// Docker keeps this many results, and this much of each probe's output.
const KEEP_RESULTS: usize = 5;
const MAX_OUTPUT: usize = 4096;

/// `State.Health` as Docker shows it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// starting, healthy or unhealthy
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<ProbeResult>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// A health check ready to run: the command and its timing, defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub command: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

fn duration(ns: Option<i64>, default: Duration) -> Duration {
    match ns {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

impl Probe {
    /// The check `hc` describes, or None when there is none (no test, or `NONE`).
    pub fn from_config(hc: Option<&Healthcheck>) -> Option<Probe> {
        let hc = hc?;
        let test = hc.test.as_ref()?;
        let command = match test.first().map(String::as_str) {
            Some("CMD") => test[1..].to_vec(),
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
            _ => return None,
        };
        if command.is_empty() {
            return None;
        }
        Some(Probe {
            command,
            interval: duration(hc.interval, DEFAULT_INTERVAL),
            timeout: duration(hc.timeout, DEFAULT_TIMEOUT),
            start_period: duration(hc.start_period, Duration::ZERO),
            start_interval: duration(hc.start_interval, DEFAULT_START_INTERVAL),
            retries: hc
                .retries
                .filter(|r| *r > 0)
                .map(|r| r as u32)
                .unwrap_or(DEFAULT_RETRIES),
        })
    }
}

/// The health check a container gets: the image's, with the fields of the request's that are
/// set replacing the image's (Docker's merge); `["NONE"]` turns the check off.
pub fn merge(
    image: Option<&Healthcheck>,
    asked: Option<&Healthcheck>,
) -> Result<Option<Healthcheck>> {
    let Some(asked) = asked else {
        return Ok(image.cloned());
    };
    if asked.test.as_deref() == Some(&["NONE".to_string()][..]) {
        return Ok(Some(Healthcheck {
            test: Some(vec!["NONE".into()]),
            ..Healthcheck::default()
        }));
    }
    let mut hc = image.cloned().unwrap_or_default();
    if let Some(t) = asked.test.as_ref().filter(|t| !t.is_empty()) {
        if !matches!(t[0].as_str(), "CMD" | "CMD-SHELL") || t.len() < 2 {
            return Err(Error::Invalid(format!(
                "invalid Healthcheck.Test {t:?}: expected [\"NONE\"], [\"CMD\", args...] or [\"CMD-SHELL\", command]"
            )));
        }
        hc.test = Some(t.clone());
    }
    let fields = [
        ("Interval", asked.interval, &mut hc.interval, 1_000_000),
        ("Timeout", asked.timeout, &mut hc.timeout, 1_000_000),
        ("StartPeriod", asked.start_period, &mut hc.start_period, 0),
        (
            "StartInterval",
            asked.start_interval,
            &mut hc.start_interval,
            1_000_000,
        ),
    ];
    for (name, v, slot, min) in fields {
        match v {
            None | Some(0) => {}
            Some(n) if n < min => {
                return Err(Error::Invalid(if min > 0 {
                    format!("{name} in Healthcheck cannot be less than 1ms")
                } else {
                    format!("{name} in Healthcheck cannot be negative")
                }))
            }
            Some(n) => *slot = Some(n),
        }
    }
    match asked.retries {
        None | Some(0) => {}
        Some(r) if r < 0 => {
            return Err(Error::Invalid(
                "Retries in Healthcheck cannot be negative".into(),
            ))
        }
        Some(r) => hc.retries = Some(r),
    }
    Ok((hc != Healthcheck::default()).then_some(hc))
}

/// The container's health as last recorded (None if it has no check or has not started).
pub fn read(dir: &Path) -> Option<Health> {
    serde_json::from_slice(&fs::read(dir.join(FILE)).ok()?).ok()
}

fn write(dir: &Path, h: &Health) -> Result<()> {
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let body = serde_json::to_vec(h).unwrap_or_default();
    crate::record::write_private(&tmp, &body).ctx("write", &tmp)?;
    fs::rename(&tmp, &path).ctx("rename", &path)
}

/// Takes in one probe's outcome (exit code, output) under Docker's rules.
pub fn record(h: &mut Health, probe: &Probe, in_start_period: bool, r: ProbeResult) {
    if r.exit_code == 0 {
        h.status = "healthy".into();
        h.failing_streak = 0;
    } else if !in_start_period || h.status != "starting" {
        h.failing_streak += 1;
        if h.failing_streak >= probe.retries {
            h.status = "unhealthy".into();
        }
    }
    h.log.push(r);
    if h.log.len() > KEEP_RESULTS {
        h.log.remove(0);
    }
}

fn starting() -> Health {
    Health {
        status: "starting".into(),
        ..Health::default()
    }
}

/// A fresh "starting" state, written before a checked container is recorded as running: no
/// reader sees it running without a health state, nor with the last run's.
pub fn begin(dir: &Path) -> Result<()> {
    write(dir, &starting())
}

/// Runs a probe's command in the container with a timeout: (exit code, output).
pub type RunProbe<'a> = dyn Fn(&[String], Duration) -> (i32, String) + 'a;

/// Runs `probe` every interval until `stop` is set; `run` executes the command in the
/// container with a timeout and returns (exit code, output). Results go to `dir`; `changed`
/// is told each new status (Docker's `health_status: …` event).
pub fn watch(dir: &Path, probe: &Probe, stop: &AtomicBool, run: &RunProbe, changed: &dyn Fn(&str)) {
    let started = Instant::now();
    let mut h = starting();
    loop {
        let in_start = started.elapsed() < probe.start_period;
        let wait = if in_start && h.status == "starting" {
            probe.start_interval.min(probe.interval)
        } else {
            probe.interval
        };
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let start = crate::record::now();
        let (exit_code, mut output) = run(&probe.command, probe.timeout);
        if output.len() > MAX_OUTPUT {
            let mut cut = MAX_OUTPUT;
            while !output.is_char_boundary(cut) {
                cut -= 1;
            }
            output.truncate(cut);
        }
        let in_start = started.elapsed() < probe.start_period;
        let result = ProbeResult {
            start,
            end: crate::record::now(),
            exit_code,
            output,
        };
        let before = h.status.clone();
        record(&mut h, probe, in_start, result);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let _ = write(dir, &h);
        if h.status != before {
            changed(&h.status);
        }
    }
}

/// A duration as Go prints it (what Docker's messages show): 30s, 1m30s, 200ms.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s) = (
        ms / 3_600_000,
        ms / 60_000 % 60,
        (ms % 60_000) as f64 / 1000.0,
    );
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}s"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requested_check_changes_the_images_as_docker_merges_them() {
        let image = Healthcheck {
            test: Some(vec!["CMD".into(), "/bin/check".into(), "--quick".into()]),
            interval: Some(10_000_000_000),
            retries: Some(5),
            ..Healthcheck::default()
        };
        // Nothing asked: the image's check.
        let hc = merge(Some(&image), None).unwrap();
        assert_eq!(hc.as_ref(), Some(&image));
        let p = Probe::from_config(hc.as_ref()).unwrap();
        assert_eq!(p.command, ["/bin/check", "--quick"]);
        assert_eq!(p.interval, Duration::from_secs(10));
        assert_eq!(p.timeout, DEFAULT_TIMEOUT);
        assert_eq!(p.retries, 5);
        // A set field replaces the image's and keeps the others; zero means "not set".
        let asked = Healthcheck {
            test: Some(vec!["CMD-SHELL".into(), "test -e /ok".into()]),
            timeout: Some(2_000_000_000),
            interval: Some(0),
            ..Healthcheck::default()
        };
        let p = Probe::from_config(merge(Some(&image), Some(&asked)).unwrap().as_ref()).unwrap();
        assert_eq!(p.command, ["/bin/sh", "-c", "test -e /ok"]);
        assert_eq!(p.interval, Duration::from_secs(10));
        assert_eq!(p.timeout, Duration::from_secs(2));
        // NONE turns the image's check off.
        let none = Healthcheck {
            test: Some(vec!["NONE".into()]),
            ..Healthcheck::default()
        };
        let off = merge(Some(&image), Some(&none)).unwrap();
        assert_eq!(Probe::from_config(off.as_ref()), None);
        // Docker's daemon checks.
        let tiny = Healthcheck {
            interval: Some(1000),
            ..Healthcheck::default()
        };
        let e = merge(None, Some(&tiny)).unwrap_err().to_string();
        assert_eq!(e, "Interval in Healthcheck cannot be less than 1ms");
        let bad = Healthcheck {
            test: Some(vec!["RUN".into(), "x".into()]),
            ..Healthcheck::default()
        };
        assert!(merge(None, Some(&bad)).is_err());
        // Nothing anywhere: no check.
        assert_eq!(merge(None, Some(&Healthcheck::default())).unwrap(), None);
        assert_eq!(merge(None, None).unwrap(), None);
    }

    #[test]
    fn status_follows_dockers_rules() {
        let probe = Probe {
            command: vec!["true".into()],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            start_period: Duration::ZERO,
            start_interval: Duration::from_secs(1),
            retries: 2,
        };
        let r = |code: i32| ProbeResult {
            exit_code: code,
            ..ProbeResult::default()
        };
        let mut h = Health {
            status: "starting".into(),
            ..Health::default()
        };
        // Failures in the start period do not count while still starting.
        record(&mut h, &probe, true, r(1));
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0));
        record(&mut h, &probe, false, r(1));
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        record(&mut h, &probe, false, r(1));
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        record(&mut h, &probe, false, r(0));
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            record(&mut h, &probe, false, r(0));
        }
        assert_eq!(h.log.len(), KEEP_RESULTS);
    }
}
