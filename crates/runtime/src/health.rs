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

/// The `--health-*` flags of `run`/`create`.
#[derive(Clone, Debug, Default)]
pub struct HealthFlags {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<i64>,
    pub none: bool,
}

/// The health check a container gets: the image's, changed by the flags as Docker does.
pub fn resolve(image: Option<&Healthcheck>, f: &HealthFlags) -> Result<Option<Healthcheck>> {
    let bad = |flag: &'static str, value: &str, reason: &str| Error::BadFlag {
        flag,
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let any_flag = f.cmd.is_some()
        || f.interval.is_some()
        || f.timeout.is_some()
        || f.start_period.is_some()
        || f.start_interval.is_some()
        || f.retries.is_some();
    if f.none {
        if any_flag {
            return Err(Error::Conflict(
                "--no-healthcheck conflicts with --health-* options".into(),
            ));
        }
        return Ok(Some(Healthcheck {
            test: Some(vec!["NONE".into()]),
            ..Healthcheck::default()
        }));
    }
    let mut hc = image.cloned().unwrap_or_default();
    if let Some(cmd) = &f.cmd {
        hc.test = Some(vec!["CMD-SHELL".into(), cmd.clone()]);
    }
    let dur = |flag: &'static str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| match berth_image::config::parse_go_duration(s) {
                Some(n) if n >= 0 => Ok(n),
                Some(_) => Err(bad(flag, s, "cannot be negative")),
                None => Err(bad(
                    flag,
                    s,
                    "expected a duration such as 30s, 1m30s or 500ms",
                )),
            })
            .transpose()
    };
    if let Some(n) = dur("--health-interval", &f.interval)? {
        hc.interval = Some(n);
    }
    if let Some(n) = dur("--health-timeout", &f.timeout)? {
        hc.timeout = Some(n);
    }
    if let Some(n) = dur("--health-start-period", &f.start_period)? {
        hc.start_period = Some(n);
    }
    if let Some(n) = dur("--health-start-interval", &f.start_interval)? {
        hc.start_interval = Some(n);
    }
    if let Some(r) = f.retries {
        if r < 0 {
            return Err(bad(
                "--health-retries",
                &r.to_string(),
                "cannot be negative",
            ));
        }
        hc.retries = Some(r);
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

/// Runs a probe's command in the container with a timeout: (exit code, output).
pub type RunProbe<'a> = dyn Fn(&[String], Duration) -> (i32, String) + 'a;

/// Runs `probe` every interval until `stop` is set; `run` executes the command in the
/// container with a timeout and returns (exit code, output). Results go to `dir`.
pub fn watch(dir: &Path, probe: &Probe, stop: &AtomicBool, run: &RunProbe) {
    let started = Instant::now();
    let mut h = Health {
        status: "starting".into(),
        ..Health::default()
    };
    let _ = write(dir, &h);
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
        record(&mut h, probe, in_start, result);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let _ = write(dir, &h);
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
    fn flags_change_the_images_check_as_docker_does() {
        let image = Healthcheck {
            test: Some(vec!["CMD".into(), "/bin/check".into(), "--quick".into()]),
            interval: Some(10_000_000_000),
            retries: Some(5),
            ..Healthcheck::default()
        };
        // No flags: the image's check.
        let hc = resolve(Some(&image), &HealthFlags::default()).unwrap();
        assert_eq!(hc.as_ref(), Some(&image));
        let p = Probe::from_config(hc.as_ref()).unwrap();
        assert_eq!(p.command, ["/bin/check", "--quick"]);
        assert_eq!(p.interval, Duration::from_secs(10));
        assert_eq!(p.timeout, DEFAULT_TIMEOUT);
        assert_eq!(p.retries, 5);
        // A flag replaces one field and keeps the others.
        let f = HealthFlags {
            cmd: Some("test -e /ok".into()),
            timeout: Some("2s".into()),
            ..HealthFlags::default()
        };
        let p = Probe::from_config(resolve(Some(&image), &f).unwrap().as_ref()).unwrap();
        assert_eq!(p.command, ["/bin/sh", "-c", "test -e /ok"]);
        assert_eq!(p.interval, Duration::from_secs(10));
        assert_eq!(p.timeout, Duration::from_secs(2));
        // --no-healthcheck turns the image's check off; with --health-* it is an error.
        let off = resolve(
            Some(&image),
            &HealthFlags {
                none: true,
                ..HealthFlags::default()
            },
        )
        .unwrap();
        assert_eq!(Probe::from_config(off.as_ref()), None);
        let e = resolve(
            None,
            &HealthFlags {
                none: true,
                retries: Some(2),
                ..HealthFlags::default()
            },
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("conflicts with --health-* options"),
            "{e}"
        );
        let e = resolve(
            None,
            &HealthFlags {
                interval: Some("soon".into()),
                ..HealthFlags::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("--health-interval"), "{e}");
        // Nothing anywhere: no check.
        assert_eq!(resolve(None, &HealthFlags::default()).unwrap(), None);
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
