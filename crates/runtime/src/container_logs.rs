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

/// A `--since`/`--until` value as Docker reads it (see `berth_events::time_values`),
/// refused as an invalid argument.
pub fn parse_time(flag: &str, s: &str) -> Result<String> {
    berth_events::time_values::parse_time(flag, s).map_err(Error::Invalid)
}

/// `parse_time` as Unix nanoseconds (events and prune filters compare numbers).
pub fn parse_time_nanos(flag: &str, s: &str) -> Result<i64> {
    berth_events::time_values::parse_time_nanos(flag, s).map_err(Error::Invalid)
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
}
