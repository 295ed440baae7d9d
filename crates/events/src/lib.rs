//! The event journal behind `berth events` and the Engine API's `/events`: every create,
//! start, die, tag, pull, connect … that any berth process (CLI, supervisor, server) did, as
//! Docker's event messages, one JSON object a line in `<root>/events.jsonl`.
//!
//! Appends are single `write`s to a file opened with `O_APPEND`, so processes writing at once
//! never interleave. The journal is bounded: past `MAX_BYTES` it is moved to `events.jsonl.1`
//! (the one older file kept) under an exclusive lock, and a new one begins. Readers follow it
//! as `tail -F` does.

pub mod time_values;

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The journal's size before it is rotated; two files at most are kept.
pub const MAX_BYTES: u64 = 4 << 20;

const FILE: &str = "events.jsonl";

/// One event, in the Engine API's form.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// container, image, network, volume, builder
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    /// Unix seconds and nanoseconds of the event.
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event that happens now.
    pub fn now(kind: &str, action: &str, id: &str, attributes: &[(&str, &str)]) -> Event {
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        Event {
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            scope: "local".into(),
            time: nanos.div_euclid(1_000_000_000),
            time_nano: nanos,
        }
    }

    /// The API's legacy fields (`status`, `id`, `from`), which docker-py and older clients
    /// still read, added to the event's JSON.
    pub fn to_api_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if self.kind == "container" || self.kind == "image" {
            v["status"] = self.action.clone().into();
            v["id"] = self.actor.id.clone().into();
            if let Some(image) = self.actor.attributes.get("image") {
                v["from"] = image.clone().into();
            }
        }
        v
    }
}

/// The journal under a berth root.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn new(root: &Path) -> Journal {
        Journal {
            path: root.join(FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an event. Recording is best effort: an event that cannot be written must not
    /// fail the operation it reports, so errors are returned only for callers that care.
    pub fn record(&self, e: &Event) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        // Shared while appending, exclusive to rotate: no append is lost to a rotation.
        f.lock_shared()?;
        f.write_all(&line)?;
        let big = f.metadata()?.len() > MAX_BYTES;
        f.unlock()?;
        if big {
            f.lock()?;
            // Another writer may have rotated it meanwhile: check the file at the path.
            let same = std::fs::metadata(&self.path).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                f.metadata()
                    .is_ok_and(|o| o.ino() == m.ino() && m.len() > MAX_BYTES)
            });
            if same {
                std::fs::rename(&self.path, self.rotated())?;
            }
            f.unlock()?;
        }
        Ok(())
    }

    fn rotated(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".1");
        PathBuf::from(p)
    }

    /// Every recorded event, oldest first, and a follower that goes on from there.
    pub fn read(&self) -> (Vec<Event>, Follower) {
        let file = File::open(&self.path).ok();
        let mut events = Vec::new();
        if let Ok(old) = File::open(self.rotated()) {
            for line in BufReader::new(old).lines().map_while(Result::ok) {
                if let Ok(e) = serde_json::from_str(&line) {
                    events.push(e);
                }
            }
        }
        let mut f = Follower::new(self.path.clone(), file);
        events.extend(f.poll());
        (events, f)
    }
}

impl Journal {
    /// A follower of what is appended from now on, without reading the history (`wait`
    /// looks for one container's next events).
    pub fn follow(&self) -> Follower {
        let mut follower = Follower::new(self.path.clone(), File::open(&self.path).ok());
        if let Some(f) = &mut follower.file {
            let _ = f.seek(std::io::SeekFrom::End(0));
        }
        follower
    }
}

/// Reads events as they are appended, across rotations.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    partial: Vec<u8>,
    /// Told of every change in the journal's directory, so a waiter wakes at an append
    /// instead of at its next look; `None` where inotify cannot be had (then it sleeps).
    changes: Option<Arc<DirWatch>>,
    /// The watch's count of changes when this follower last looked.
    seen: AtomicU64,
}

/// An inotify watch on a directory (the journal's: a rotation replaces the file), one per
/// directory for the whole process, shared by all its followers and never closed while the
/// directory lives. Closing an inotify instance waits for a grace period of the kernel's
/// (10–20 ms here): with a watch per follower, every `wait` through the API server paid
/// that between seeing the event and answering.
struct DirWatch {
    /// Changes seen so far; `None` once the directory is gone (waits then sleep).
    changes: Mutex<Option<u64>>,
    changed: Condvar,
}

impl DirWatch {
    /// The process's watch on `dir`, started if there is none yet.
    fn of(dir: &Path) -> Option<Arc<DirWatch>> {
        static WATCHES: OnceLock<Mutex<HashMap<PathBuf, Arc<DirWatch>>>> = OnceLock::new();
        let mut watches = WATCHES.get_or_init(Default::default).lock().ok()?;
        if let Some(w) = watches.get(dir) {
            if w.count().is_some() {
                return Some(w.clone());
            }
        }
        let w = DirWatch::start(dir)?;
        watches.insert(dir.to_path_buf(), w.clone());
        Some(w)
    }

    fn start(dir: &Path) -> Option<Arc<DirWatch>> {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: inotify_init1 has no preconditions; a non-negative result is a new fd
        // that we own from here on.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd is ours and open (see above).
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let mask = libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO;
        // SAFETY: a valid inotify fd and a NUL-terminated path.
        if unsafe { libc::inotify_add_watch(fd, path.as_ptr(), mask) } < 0 {
            return None;
        }
        let watch = Arc::new(DirWatch {
            changes: Mutex::new(Some(0)),
            changed: Condvar::new(),
        });
        let w = watch.clone();
        std::thread::Builder::new()
            .name("journal-watch".into())
            .spawn(move || w.follow(std::fs::File::from(owned)))
            .ok()?;
        Some(watch)
    }

    /// Counts the changes the kernel reports until the watch ends (the directory is gone).
    fn follow(&self, mut inotify: File) {
        let mut buf = [0u8; 4096];
        loop {
            let gone = match inotify.read(&mut buf) {
                Ok(n) => n == 0 || ended(&buf[..n]),
                Err(e) => e.kind() != std::io::ErrorKind::Interrupted,
            };
            let Ok(mut count) = self.changes.lock() else {
                return;
            };
            *count = if gone { None } else { count.map(|c| c + 1) };
            self.changed.notify_all();
            if gone {
                return;
            }
        }
    }

    fn count(&self) -> Option<u64> {
        self.changes.lock().ok().and_then(|c| *c)
    }

    /// Blocks until the count differs from `seen` or `timeout` passed; the count then.
    fn wait(&self, seen: u64, timeout: Duration) -> Option<u64> {
        let count = self.changes.lock().ok()?;
        let (count, _) = self
            .changed
            .wait_timeout_while(count, timeout, |c| *c == Some(seen))
            .ok()?;
        *count
    }
}

/// Whether inotify's events include IN_IGNORED: the watch was removed (its directory too).
fn ended(events: &[u8]) -> bool {
    const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
    let mut at = 0;
    while at + HEADER <= events.len() {
        let field = |i: usize| {
            let b = &events[at + i..at + i + 4];
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
        };
        // struct inotify_event: wd (i32), mask, cookie, len, then `len` bytes of name.
        if field(4) & libc::IN_IGNORED != 0 {
            return true;
        }
        at += HEADER + field(12) as usize;
    }
    false
}

impl Follower {
    /// How long `wait` sleeps between looks.
    pub const POLL: Duration = Duration::from_millis(100);

    fn new(path: PathBuf, file: Option<File>) -> Follower {
        // Watching before the first read: an append after it is never missed.
        let changes = path.parent().and_then(DirWatch::of);
        let seen = changes.as_ref().and_then(|c| c.count()).unwrap_or(0);
        Follower {
            path,
            file,
            partial: Vec::new(),
            changes,
            seen: AtomicU64::new(seen),
        }
    }

    /// Blocks until the journal may have grown (since the last call), or `timeout` passed.
    pub fn wait_for_append(&self, timeout: Duration) {
        let seen = self.seen.load(Ordering::SeqCst);
        match self.changes.as_ref().map(|c| c.wait(seen, timeout)) {
            Some(Some(now)) => self.seen.store(now, Ordering::SeqCst),
            // The directory went, or no watch could be had: a look after the timeout.
            Some(None) | None => std::thread::sleep(timeout),
        }
    }

    /// The events appended since the last call.
    pub fn poll(&mut self) -> Vec<Event> {
        use std::os::unix::fs::MetadataExt;
        let mut out = Vec::new();
        loop {
            let mut bytes = Vec::new();
            if let Some(f) = &mut self.file {
                let _ = f.read_to_end(&mut bytes);
            }
            self.partial.extend_from_slice(&bytes);
            while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.partial.drain(..=i).collect();
                if let Ok(e) = serde_json::from_slice(&line) {
                    out.push(e);
                }
            }
            let current = std::fs::metadata(&self.path).ok();
            let ours = self.file.as_ref().and_then(|f| f.metadata().ok());
            let replaced = match (&current, &ours) {
                (Some(c), Some(o)) => {
                    let pos = self
                        .file
                        .as_mut()
                        .and_then(|f| f.stream_position().ok())
                        .unwrap_or(0);
                    c.ino() != o.ino() || c.len() < pos
                }
                (Some(_), None) => true,
                _ => false,
            };
            if !replaced {
                return out;
            }
            self.file = File::open(&self.path).ok();
            self.partial.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_follower_wakes_at_an_append() {
        let t = tempfile::tempdir().unwrap();
        let j = Journal::new(t.path());
        let mut f = j.follow();
        let writer = j.clone();
        let t0 = std::time::Instant::now();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            writer
                .record(&Event::now("container", "die", "abc", &[]))
                .unwrap();
        });
        f.wait_for_append(Duration::from_secs(20));
        let waited = t0.elapsed();
        h.join().unwrap();
        assert!(
            waited < Duration::from_secs(10),
            "woke at the append, not the timeout"
        );
        assert_eq!(f.poll().len(), 1);
        // Nothing new: the timeout ends the wait (once the append's last notifications, which
        // may arrive after the first wake, are read).
        let blocked = (0..3).any(|_| {
            let t1 = std::time::Instant::now();
            f.wait_for_append(Duration::from_millis(30));
            t1.elapsed() >= Duration::from_millis(25)
        });
        assert!(
            blocked,
            "a wait with nothing new returned at once, three times"
        );
    }

    #[test]
    fn followers_of_one_directory_share_one_watch_which_ends_with_it() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("root");
        std::fs::create_dir(&dir).unwrap();
        let j = Journal::new(&dir);
        let (a, b) = (j.follow(), j.follow());
        let (wa, wb) = (a.changes.clone().unwrap(), b.changes.clone().unwrap());
        assert!(Arc::ptr_eq(&wa, &wb), "one inotify watch per directory");
        drop((a, b));
        // The directory goes: so does its watch; one made anew at the path gets a new one
        // that works.
        std::fs::remove_dir_all(&dir).unwrap();
        let t0 = std::time::Instant::now();
        while wa.count().is_some() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(wa.count(), None, "the watch saw its directory go");
        std::fs::create_dir(&dir).unwrap();
        let mut c = j.follow();
        assert!(!Arc::ptr_eq(c.changes.as_ref().unwrap(), &wa));
        let writer = j.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            writer
                .record(&Event::now("container", "die", "abc", &[]))
                .unwrap();
        });
        let t1 = std::time::Instant::now();
        c.wait_for_append(Duration::from_secs(20));
        assert!(t1.elapsed() < Duration::from_secs(10), "woke at the append");
        h.join().unwrap();
        assert_eq!(c.poll().len(), 1);
    }

    #[test]
    fn a_follower_from_now_skips_the_history() {
        let t = tempfile::tempdir().unwrap();
        let j = Journal::new(t.path());
        let mut before_file = j.follow();
        let old = Event::now("container", "create", "abc", &[]);
        j.record(&old).unwrap();
        let mut f = j.follow();
        assert!(f.poll().is_empty());
        let new = Event::now("container", "start", "abc", &[]);
        j.record(&new).unwrap();
        assert_eq!(f.poll(), vec![new.clone()]);
        // Made before the journal existed: everything once it appears.
        assert_eq!(before_file.poll(), vec![old, new]);
    }

    #[test]
    fn events_are_recorded_read_back_and_followed() {
        let t = tempfile::tempdir().unwrap();
        let j = Journal::new(t.path());
        let (none, mut f) = j.read();
        assert!(none.is_empty());
        let e = Event::now(
            "container",
            "start",
            "abc",
            &[("name", "web"), ("image", "busybox")],
        );
        j.record(&e).unwrap();
        assert_eq!(f.poll(), vec![e.clone()]);
        assert!(f.poll().is_empty());
        let (all, _) = j.read();
        assert_eq!(all, vec![e.clone()]);
        let api = e.to_api_json();
        assert_eq!(api["Type"], "container");
        assert_eq!(api["status"], "start");
        assert_eq!(api["from"], "busybox");
        assert_eq!(api["Actor"]["Attributes"]["name"], "web");
        assert_eq!(api["time"].as_i64().unwrap(), e.time_nano / 1_000_000_000);
    }

    #[test]
    fn the_journal_stays_bounded_and_a_follower_misses_nothing() {
        let t = tempfile::tempdir().unwrap();
        let j = Journal::new(t.path());
        let (_, mut f) = j.read();
        let big = "x".repeat(100_000);
        let mut seen = 0;
        for i in 0..100 {
            j.record(&Event::now(
                "image",
                "tag",
                &i.to_string(),
                &[("pad", &big)],
            ))
            .unwrap();
            if i % 10 == 0 {
                seen += f.poll().len();
            }
        }
        seen += f.poll().len();
        assert_eq!(seen, 100);
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(j.path()) <= MAX_BYTES + 200_000);
        assert!(size(&j.rotated()) <= MAX_BYTES + 200_000);
        let (all, _) = j.read();
        assert!(all.len() < 100 && all.len() > 40, "{}", all.len());
        assert_eq!(all.last().unwrap().actor.id, "99");
    }
}

/// Docker's event filters: keys must all match, values of one key are alternatives.
#[derive(Debug, Clone, Default)]
pub struct EventFilters(BTreeMap<String, Vec<String>>);

/// The keys `berth events --filter` takes.
pub const FILTER_KEYS: [&str; 7] = [
    "container",
    "event",
    "image",
    "label",
    "network",
    "type",
    "volume",
];

impl EventFilters {
    /// From `key=value` arguments; an unknown key or a missing `=` is an error (its text).
    pub fn parse_args(args: &[String]) -> Result<EventFilters, String> {
        let mut f = EventFilters::default();
        for a in args {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| format!("bad format of filter (expected name=value): {a}"))?;
            if !FILTER_KEYS.contains(&k) {
                return Err(format!("invalid filter '{k}'"));
            }
            f.0.entry(k.to_string()).or_default().push(v.to_string());
        }
        Ok(f)
    }

    pub fn matches(&self, e: &Event) -> bool {
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            self.0.get(key).is_none_or(|vs| vs.iter().any(|v| pred(v)))
        };
        let name = e.actor.attributes.get("name").map(String::as_str);
        let named = |kind: &str, v: &str| {
            e.kind == kind && (name == Some(v) || (!v.is_empty() && e.actor.id.starts_with(v)))
        };
        // `exec_start: sh` is an exec_start.
        let action = e.action.split(':').next().unwrap_or(&e.action);
        any("type", &|v| e.kind == v)
            && any("event", &|v| action == v || e.action == v)
            && any("container", &|v| named("container", v))
            && any("network", &|v| named("network", v))
            && any("volume", &|v| named("volume", v))
            && any("image", &|v| {
                let image = match e.kind.as_str() {
                    "image" => name.unwrap_or(&e.actor.id),
                    _ => e.actor.attributes.get("image").map_or("", String::as_str),
                };
                image == v
                    || image.strip_suffix(":latest") == Some(v)
                    || (e.kind == "image" && e.actor.id.starts_with(v))
            })
            && any("label", &|v| match v.split_once('=') {
                Some((k, val)) => e.actor.attributes.get(k).is_some_and(|x| x == val),
                None => e.actor.attributes.contains_key(v),
            })
    }
}

/// Docker's line for an event: `TIME TYPE ACTION ID (k=v, …)`.
pub fn event_line(e: &Event) -> String {
    let time = chrono::DateTime::from_timestamp_nanos(e.time_nano)
        .format("%Y-%m-%dT%H:%M:%S%.9fZ")
        .to_string();
    let attrs: Vec<String> = e
        .actor
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if attrs.is_empty() {
        format!("{time} {} {} {}", e.kind, e.action, e.actor.id)
    } else {
        format!(
            "{time} {} {} {} ({})",
            e.kind,
            e.action,
            e.actor.id,
            attrs.join(", ")
        )
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    fn f(args: &[&str]) -> EventFilters {
        EventFilters::parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn filters_match_as_dockers() {
        let start = Event::now(
            "container",
            "start",
            "abc123",
            &[("name", "web"), ("image", "busybox:latest"), ("tier", "db")],
        );
        let exec = Event::now(
            "container",
            "exec_start: sh -c ls",
            "abc123",
            &[("name", "web")],
        );
        let tag = Event::now("image", "tag", "sha256:1234", &[("name", "busybox:latest")]);
        assert!(f(&[]).matches(&start));
        assert!(f(&["type=container"]).matches(&start));
        assert!(!f(&["type=image"]).matches(&start));
        assert!(f(&["type=image", "type=container"]).matches(&start));
        assert!(f(&["container=web"]).matches(&start));
        assert!(f(&["container=abc"]).matches(&start));
        assert!(!f(&["container=web"]).matches(&tag));
        assert!(f(&["event=exec_start"]).matches(&exec));
        assert!(!f(&["event=start"]).matches(&exec));
        assert!(f(&["image=busybox"]).matches(&start));
        assert!(f(&["image=busybox"]).matches(&tag));
        assert!(f(&["label=tier=db"]).matches(&start));
        assert!(!f(&["label=tier=web"]).matches(&start));
        assert!(!f(&["container=web", "event=stop"]).matches(&start));
        assert!(EventFilters::parse_args(&["colour=red".into()]).is_err());
        let line = event_line(&start);
        assert!(
            line.ends_with(" container start abc123 (image=busybox:latest, name=web, tier=db)"),
            "{line}"
        );
    }
}

/// What `berth events` and the API's `/events` ask for: past events only with `since` or
/// `until`, then new ones as they come until `until` (forever without it).
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Unix nanoseconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub filters: EventFilters,
}

/// The events a query selects, oldest first; blocks for new ones while following.
pub struct EventStream {
    query: EventQuery,
    pending: std::collections::VecDeque<Event>,
    follower: Follower,
}

impl Journal {
    pub fn query(&self, q: EventQuery) -> EventStream {
        let (past, follower) = self.read();
        // As Docker: history only when a time bound asks for it.
        let pending = if q.since.is_some() || q.until.is_some() {
            past.into()
        } else {
            Default::default()
        };
        EventStream {
            query: q,
            pending,
            follower,
        }
    }
}

impl EventStream {
    fn wanted(&self, e: &Event) -> bool {
        let q = &self.query;
        q.since.is_none_or(|s| e.time_nano >= s)
            && q.until.is_none_or(|u| e.time_nano <= u)
            && q.filters.matches(e)
    }
}

impl EventStream {
    /// The next event; `Some(None)` after a poll that found none, so that a server can
    /// notice a client that went away; `None` once `until` has passed.
    pub fn next_or_idle(&mut self) -> Option<Option<Event>> {
        while let Some(e) = self.pending.pop_front() {
            if self.wanted(&e) {
                return Some(Some(e));
            }
        }
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        if self.query.until.is_some_and(|u| u < now) {
            return None;
        }
        self.pending.extend(self.follower.poll());
        if self.pending.is_empty() {
            self.follower.wait_for_append(Follower::POLL);
        }
        Some(None)
    }
}

impl Iterator for EventStream {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.next_or_idle()? {
                return Some(e);
            }
        }
    }
}
