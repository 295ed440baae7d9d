//! `docker logs` and the Engine API's `GET /containers/{id}/logs`: a container's log entries as
//! an iterator — tail, since/until, stream selection, and with `follow` the entries as they
//! come until the container stops. Front ends print or frame them.

use std::collections::VecDeque;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::lifecycle::Runtime;
use crate::logs::{log_path, LogEntry, LogFollower};

/// How often a followed log is looked at for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct LogOptions {
    pub follow: bool,
    /// Only entries at or after this time (RFC 3339, UTC, nanoseconds: see `parse_time`).
    pub since: Option<String>,
    /// Only entries before this time; a follow ends once it has passed.
    pub until: Option<String>,
    /// The last N entries of what is there already (then, with `follow`, all new ones).
    pub tail: Option<usize>,
    pub stdout: bool,
    pub stderr: bool,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            follow: false,
            since: None,
            until: None,
            tail: None,
            stdout: true,
            stderr: true,
        }
    }
}

/// A container's log entries, oldest first; blocks for new ones while following.
pub struct Logs<'a> {
    rt: &'a Runtime,
    id: String,
    opts: LogOptions,
    pending: VecDeque<LogEntry>,
    follower: LogFollower,
    done: bool,
}

impl Runtime {
    pub fn logs(&self, key: &str, opts: &LogOptions) -> Result<Logs<'_>> {
        let c = self.find(key)?;
        if c.config.log_driver == "none" {
            return Err(Error::Invalid(
                "configured logging driver does not support reading".into(),
            ));
        }
        let path = log_path(&self.containers().dir(&c.id), &c.id);
        let (existing, follower) = LogFollower::open(&path);
        let start = opts
            .tail
            .map(|t| existing.len().saturating_sub(t))
            .unwrap_or(0);
        Ok(Logs {
            rt: self,
            id: c.id,
            opts: opts.clone(),
            pending: existing.into_iter().skip(start).collect(),
            follower,
            done: !opts.follow,
        })
    }
}

impl Logs<'_> {
    fn wanted(&self, e: &LogEntry) -> bool {
        let stream = if e.stream == "stderr" {
            self.opts.stderr
        } else {
            self.opts.stdout
        };
        stream
            && self.opts.since.as_ref().is_none_or(|s| e.time >= *s)
            && self.opts.until.as_ref().is_none_or(|u| e.time < *u)
    }

    fn until_passed(&self) -> bool {
        self.opts.until.as_ref().is_some_and(|u| *u <= now())
    }
}

impl Logs<'_> {
    /// The next entry; `Some(None)` when a follow found nothing new for one poll interval
    /// (so a server can notice that its client went away); `None` at the end.
    pub fn next_or_idle(&mut self) -> Option<Option<LogEntry>> {
        loop {
            while let Some(e) = self.pending.pop_front() {
                if self.wanted(&e) {
                    return Some(Some(e));
                }
            }
            if self.done {
                return None;
            }
            // Looked at before reading, so the last lines of a container that just stopped
            // are still read.
            let running = self.rt.find(&self.id).is_ok_and(|c| c.state.running());
            self.pending.extend(self.follower.poll());
            if self.pending.is_empty() {
                if !running || self.until_passed() {
                    self.done = true;
                } else {
                    std::thread::sleep(FOLLOW_POLL);
                    return Some(None);
                }
            }
        }
    }
}

impl Iterator for Logs<'_> {
    type Item = LogEntry;

    fn next(&mut self) -> Option<LogEntry> {
        loop {
            if let Some(e) = self.next_or_idle()? {
                return Some(e);
            }
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A `--since`/`--until` value as Docker reads it: an RFC 3339 time, a date and time without
/// zone (UTC), a date, Unix seconds (`1700000000.5`), or a Go duration back from now
/// (`10m`, `1h30m`). Returned in the form log entries carry, so they compare as text.
pub fn parse_time(flag: &str, s: &str) -> Result<String> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
    let fmt = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(fmt(d.with_timezone(&Utc)));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(fmt(Utc.from_utc_datetime(&d)));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(fmt(Utc.from_utc_datetime(&t)));
        }
    }
    let bad = || {
        Error::Invalid(format!(
            "invalid value for \"{flag}\": failed to parse value as time or duration: {s:?}"
        ))
    };
    if let Some((secs, nanos)) = unix_seconds(s) {
        return Utc
            .timestamp_opt(secs, nanos)
            .single()
            .map(fmt)
            .ok_or_else(bad);
    }
    let d = go_duration(s).ok_or_else(bad)?;
    let d = chrono::Duration::from_std(d).map_err(|_| bad())?;
    Ok(fmt(Utc::now() - d))
}

/// `parse_time` as Unix nanoseconds (events and prune filters compare numbers).
pub fn parse_time_nanos(flag: &str, s: &str) -> Result<i64> {
    let t = parse_time(flag, s)?;
    chrono::DateTime::parse_from_rfc3339(&t)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "invalid value for \"{flag}\": {s:?} is out of range"
            ))
        })
}

/// `1700000000` or `1700000000.123`: (seconds, nanoseconds).
fn unix_seconds(s: &str) -> Option<(i64, u32)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some((int.parse().ok()?, nanos))
}

/// Go's `time.ParseDuration` for non-negative values: `1h30m`, `1.5s`, `300ms`.
fn go_duration(s: &str) -> Option<Duration> {
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|n| *n > 0)?;
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_dockers() {
        assert_eq!(
            parse_time("since", "2024-01-02T03:04:05Z").unwrap(),
            "2024-01-02T03:04:05.000000000Z"
        );
        assert_eq!(
            parse_time("since", "2024-01-02").unwrap(),
            "2024-01-02T00:00:00.000000000Z"
        );
        assert_eq!(
            parse_time("since", "1700000000.5").unwrap(),
            "2023-11-14T22:13:20.500000000Z"
        );
        let ten_min = parse_time("since", "10m").unwrap();
        let hour_half = parse_time("since", "1h30m").unwrap();
        assert!(hour_half < ten_min);
        let e = parse_time("until", "soon").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid value for \"until\": failed to parse value as time or duration: \"soon\""
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration("m"), None);
    }
}
