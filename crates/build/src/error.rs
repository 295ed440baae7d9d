//! What can stop a build. Every error about the Dockerfile names the file and line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Dockerfile does not parse.
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
    /// The Dockerfile is wrong before any step runs (syntax, an unknown instruction, a bad
    /// flag or argument, stages): BuildKit's wording. `excerpt` is BuildKit's source view of
    /// the offending lines (`Dockerfile:3`, a rule, numbered lines with `>>>`), for a front
    /// end to print before the message.
    #[error("dockerfile parse error on line {line}: {message}")]
    Dockerfile {
        file: String,
        line: usize,
        message: String,
        excerpt: String,
    },
    /// An instruction cannot be carried out (bad argument, missing source, unknown stage, …).
    #[error("{file}:{line}: {instruction}: {message}")]
    Step {
        file: String,
        line: usize,
        instruction: String,
        message: String,
    },
    /// A RUN command exited non-zero (BuildKit's wording).
    #[error(
        "{file}:{line}: RUN: process {command:?} did not complete successfully: exit code: {code}"
    )]
    RunFailed {
        file: String,
        line: usize,
        command: String,
        code: i32,
    },
    #[error("failed to read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// `--target` names no stage (Docker's classic builder's words).
    #[error("failed to reach build target {0} in Dockerfile")]
    NoSuchTarget(String),
    /// A build option's value is wrong (the message names the flag).
    #[error("{0}")]
    Option(String),
    /// `--cache-to` could not write the cache (the image is built).
    #[error("failed to export cache to {place}: {reason}")]
    CacheExport { place: String, reason: String },
    #[error("{0}")]
    Image(#[from] berth_image::Error),
    #[error("{0}")]
    Runtime(#[from] berth_runtime::Error),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.into(),
            source,
        })
    }
}

impl berth_error_kind::HasKind for Error {
    fn kind(&self) -> berth_error_kind::ErrorKind {
        use berth_error_kind::ErrorKind as K;
        match self {
            Error::Parse { .. }
            | Error::Dockerfile { .. }
            | Error::Step { .. }
            | Error::NoSuchTarget(_)
            | Error::Option(_) => K::InvalidArgument,
            Error::CacheExport { .. } => K::Unavailable,
            // The user's command failed, not the engine; Docker answers the build with it.
            Error::RunFailed { .. } => K::InvalidArgument,
            Error::Read { source, .. } | Error::Io { source, .. } => {
                berth_error_kind::io_kind(source)
            }
            Error::Image(e) => e.kind(),
            Error::Runtime(e) => e.kind(),
        }
    }
}

/// BuildKit's view of where a Dockerfile is wrong: the file and first line, a rule, the
/// offending lines marked `>>>` with a little context around them (more for a single line),
/// and a closing rule.
pub fn source_excerpt(file: &str, text: &str, line: usize, end_line: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if line == 0 || line > lines.len() {
        return String::new();
    }
    let end_line = end_line.clamp(line, lines.len());
    let pad = if end_line == line { 4 } else { 2 };
    let (mut first, mut last, mut added) = (line, end_line, 0);
    while added < pad && (first > 1 || last < lines.len()) {
        if first > 1 {
            first -= 1;
            added += 1;
        }
        if added < pad && last < lines.len() {
            last += 1;
            added += 1;
        }
    }
    let rule = "--------------------";
    let mut out = format!("{file}:{line}\n{rule}\n");
    for (n, l) in lines.iter().enumerate().take(last).skip(first - 1) {
        let n = n + 1;
        let mark = if (line..=end_line).contains(&n) {
            ">>>"
        } else {
            "   "
        };
        out.push_str(&format!(" {n:>3} | {mark} {l}\n"));
    }
    out.push_str(rule);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn excerpts_mark_the_offending_lines_as_buildkit_does() {
        let text = "FROM busybox\nRUN true\nNOINSTRUCTION x\nRUN a\nRUN b\nRUN c\n";
        assert_eq!(
            super::source_excerpt("Dockerfile", text, 3, 3),
            "Dockerfile:3\n--------------------\n   1 |     FROM busybox\n   2 |     RUN true\n   3 | >>> NOINSTRUCTION x\n   4 |     RUN a\n   5 |     RUN b\n--------------------\n"
        );
        assert_eq!(
            super::source_excerpt("df", text, 1, 2),
            "df:1\n--------------------\n   1 | >>> FROM busybox\n   2 | >>> RUN true\n   3 |     NOINSTRUCTION x\n   4 |     RUN a\n--------------------\n"
        );
        assert_eq!(super::source_excerpt("df", text, 9, 9), "");
    }
}
