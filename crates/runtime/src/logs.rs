//! Container logs in Docker's json-file format (`{"log":"…\n","stream":"stdout","time":"…"}`
//! one per line), rotated by size so they never fill the disk.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Docker's defaults are unlimited; berth rotates by default (10 MB × 3 files).
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1000 * 1000;
pub const DEFAULT_MAX_FILES: u32 = 3;
/// The `local` driver's defaults, as Docker's: 20 MiB × 5 files, rotated files compressed.
pub const LOCAL_MAX_SIZE: u64 = 20 * 1024 * 1024;
pub const LOCAL_MAX_FILES: u32 = 5;

/// How a container's log is kept: its size limit, how many files, whether rotated files
/// are gzipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    pub max_size: u64,
    pub max_files: u32,
    pub compress: bool,
}

impl LogSettings {
    /// The settings of a container's log driver (`json-file` or `local`) and options.
    pub fn of(c: &crate::record::RunConfig) -> LogSettings {
        let local = c.log_driver == "local";
        LogSettings {
            max_size: c.log_max_size.unwrap_or(if local {
                LOCAL_MAX_SIZE
            } else {
                DEFAULT_MAX_SIZE
            }),
            max_files: c.log_max_files.unwrap_or(if local {
                LOCAL_MAX_FILES
            } else {
                DEFAULT_MAX_FILES
            }),
            compress: c.log_compress.unwrap_or(local),
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

pub fn log_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}

/// Appends entries, rotating when the file grows past `max_size`.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
    compress: bool,
}

impl LogWriter {
    pub fn open(path: PathBuf, settings: LogSettings) -> std::io::Result<LogWriter> {
        let file = open_private_append(&path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path,
            file,
            size,
            max_size: settings.max_size,
            max_files: settings.max_files.max(1),
            compress: settings.compress,
        })
    }

    /// Writes one line (or a final partial line) of a stream.
    pub fn write(&mut self, stream: &str, line: &[u8]) -> std::io::Result<()> {
        let e = LogEntry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: stream.to_string(),
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        };
        let mut bytes = serde_json::to_vec(&e).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        if self.size + bytes.len() as u64 > self.max_size && self.size > 0 {
            self.rotate()?;
        }
        self.file.write_all(&bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if self.max_files <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        // Compressed, the files older than `.1` are `.N.gz`; `.1` stays plain so that a
        // follower still reading it when it is renamed loses nothing.
        let at = |n: u32| {
            if self.compress && n > 1 {
                gzipped(&rotated(&self.path, n))
            } else {
                rotated(&self.path, n)
            }
        };
        let _ = fs::remove_file(at(self.max_files - 1));
        for i in (2..self.max_files - 1).rev() {
            if at(i).exists() {
                fs::rename(at(i), at(i + 1))?;
            }
        }
        let first = rotated(&self.path, 1);
        if self.max_files > 2 && first.exists() {
            if self.compress {
                gzip_file(&first, &at(2))?;
                fs::remove_file(&first)?;
            } else {
                fs::rename(&first, at(2))?;
            }
        }
        fs::rename(&self.path, &first)?;
        self.file = open_private_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn gzipped(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.gz", path.display()))
}

/// `from` gzipped into `to`, written under a temporary name first.
fn gzip_file(from: &Path, to: &Path) -> std::io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", to.display()));
    let out = open_private_append(&tmp)?;
    out.set_len(0)?;
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    std::io::copy(&mut File::open(from)?, &mut gz)?;
    gz.finish()?.sync_all()?;
    fs::rename(&tmp, to)
}

/// Logs hold whatever the container prints (tokens, passwords): owner-only, as records are.
fn open_private_append(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(berth_image::permissions::PRIVATE_FILE_MODE)
        .open(path)
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    PathBuf::from(format!("{}.{n}", path.display()))
}

/// Reads a log as it grows, across rotations, as `tail -F` does: it keeps its file open, so
/// lines written just before a rotation are still read from the renamed file.
pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    partial: Vec<u8>,
}

impl LogFollower {
    /// Everything logged so far (rotated files included, oldest first), and a follower that
    /// goes on from exactly there.
    pub fn open(path: &Path) -> (Vec<LogEntry>, LogFollower) {
        // The live file first: whatever is written from now on is read through this handle.
        let file = File::open(path).ok();
        let mut entries = read_files(&rotated_files(path));
        let mut f = LogFollower {
            path: path.to_path_buf(),
            file,
            partial: Vec::new(),
        };
        entries.extend(f.poll());
        (entries, f)
    }

    /// The entries written since the last call (complete lines only).
    pub fn poll(&mut self) -> Vec<LogEntry> {
        use std::io::Read;
        let mut out = Vec::new();
        loop {
            let mut bytes = Vec::new();
            if let Some(f) = &mut self.file {
                let _ = f.read_to_end(&mut bytes);
            }
            self.take_lines(&bytes, &mut out);
            // Rotated (renamed away) or truncated: go on with the file now at the path.
            let current = fs::metadata(&self.path).ok();
            let ours = self.file.as_ref().and_then(|f| f.metadata().ok());
            let replaced = match (&current, &ours) {
                (Some(c), Some(o)) => {
                    use std::os::unix::fs::MetadataExt;
                    c.ino() != o.ino() || c.len() < position(self.file.as_mut())
                }
                (Some(_), None) => true,
                _ => false,
            };
            if !replaced {
                return out;
            }
            self.file = self.next_file(ours.as_ref());
            self.partial.clear();
        }
    }

    /// The file written after ours: the one rotated in after it when several rotations
    /// happened since the last poll, else the live file.
    fn next_file(&self, ours: Option<&fs::Metadata>) -> Option<File> {
        use std::os::unix::fs::MetadataExt;
        if let Some(ours) = ours {
            let rotated_names: Vec<PathBuf> = (1..100)
                .map(|n| rotated(&self.path, n))
                .take_while(|p| p.exists())
                .collect();
            let at = rotated_names.iter().position(|p| {
                fs::metadata(p).is_ok_and(|m| m.ino() == ours.ino() && m.dev() == ours.dev())
            });
            if let Some(k) = at.filter(|k| *k > 0) {
                return File::open(&rotated_names[k - 1]).ok();
            }
        }
        File::open(&self.path).ok()
    }

    fn take_lines(&mut self, bytes: &[u8], out: &mut Vec<LogEntry>) {
        self.partial.extend_from_slice(bytes);
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            if let Ok(e) = serde_json::from_slice::<LogEntry>(&line) {
                out.push(e);
            }
        }
    }
}

fn position(f: Option<&mut File>) -> u64 {
    use std::io::Seek;
    f.and_then(|f| f.stream_position().ok()).unwrap_or(0)
}

/// The rotated files of a log (plain `.N` or gzipped `.N.gz`), oldest first.
fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..100)
        .map_while(|n| {
            let plain = rotated(path, n);
            let gz = gzipped(&plain);
            if plain.exists() {
                Some(plain)
            } else if gz.exists() {
                Some(gz)
            } else {
                None
            }
        })
        .collect();
    files.reverse();
    files
}

fn read_files(files: &[PathBuf]) -> Vec<LogEntry> {
    let mut out = Vec::new();
    for f in files {
        let Ok(file) = File::open(f) else { continue };
        let reader: Box<dyn BufRead> = if f.extension().is_some_and(|e| e == "gz") {
            Box::new(BufReader::new(flate2::read::GzDecoder::new(file)))
        } else {
            Box::new(BufReader::new(file))
        };
        for line in reader.lines().map_while(Result::ok) {
            if let Ok(e) = serde_json::from_str::<LogEntry>(&line) {
                out.push(e);
            }
        }
    }
    out
}

/// All entries, oldest first (rotated files included).
pub fn read_all(path: &Path) -> Vec<LogEntry> {
    let mut files = rotated_files(path);
    files.push(path.to_path_buf());
    read_files(&files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_size: u64, max_files: u32, compress: bool) -> LogSettings {
        LogSettings {
            max_size,
            max_files,
            compress,
        }
    }

    /// Compressed, files past `.1` are gzipped, and everything still reads back in order
    /// (the `local` driver's way).
    #[test]
    fn compressed_rotations_read_back_in_order() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x-json.log");
        let mut w = LogWriter::open(p.clone(), settings(200, 4, true)).unwrap();
        for i in 0..14 {
            w.write("stdout", format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(rotated(&p, 1).exists());
        assert!(gzipped(&rotated(&p, 2)).exists());
        assert!(gzipped(&rotated(&p, 3)).exists());
        assert!(!rotated(&p, 2).exists() && !gzipped(&rotated(&p, 4)).exists());
        let gz = fs::read(gzipped(&rotated(&p, 2))).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "a gzip file");
        let logs: Vec<String> = read_all(&p).into_iter().map(|e| e.log).collect();
        let n = logs.len();
        assert!(n > 4 && n < 14, "{logs:?}");
        let want: Vec<String> = (14 - n..14).map(|i| format!("line {i}\n")).collect();
        assert_eq!(logs, want);
        let (all, _) = LogFollower::open(&p);
        assert_eq!(all.len(), n);
    }

    #[test]
    fn a_follower_reads_across_rotations_without_losing_a_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x-json.log");
        let mut w = LogWriter::open(p.clone(), settings(400, 3, false)).unwrap();
        w.write("stdout", b"before\n").unwrap();
        let (first, mut f) = LogFollower::open(&p);
        assert_eq!(first.len(), 1);
        let mut seen = Vec::new();
        for i in 0..30 {
            w.write("stdout", format!("line {i}\n").as_bytes()).unwrap();
            // Now and then, so that two rotations happen between some polls.
            if i % 9 == 0 {
                seen.extend(f.poll());
            }
        }
        seen.extend(f.poll());
        let logs: Vec<String> = seen.iter().map(|e| e.log.clone()).collect();
        let want: Vec<String> = (0..30).map(|i| format!("line {i}\n")).collect();
        assert_eq!(logs, want);
        assert!(rotated(&p, 1).exists(), "the log did rotate");
        assert!(f.poll().is_empty());
    }

    #[test]
    fn rotates_and_reads_back_in_order() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x-json.log");
        let mut w = LogWriter::open(p.clone(), settings(300, 3, false)).unwrap();
        for i in 0..20 {
            w.write(
                if i % 2 == 0 { "stdout" } else { "stderr" },
                format!("line {i}\n").as_bytes(),
            )
            .unwrap();
        }
        let all = read_all(&p);
        assert!(all.len() < 20, "old entries were rotated away");
        assert_eq!(all.last().unwrap().log, "line 19\n");
        assert!(!rotated(&p, 3).exists(), "at most 3 files");
        let total: u64 = [p.clone(), rotated(&p, 1), rotated(&p, 2)]
            .iter()
            .filter_map(|f| fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        assert!(total <= 900);
    }
}
