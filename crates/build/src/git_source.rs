//! Git sources, as BuildKit reads them: `ADD https://host/repo.git#REF:SUBDIR /dest` (also
//! `git://…`, `ssh://…`, `git@host:repo.git`) and build contexts given as such a URL. The ref
//! (a branch, a tag or a commit; the remote's HEAD when absent) is resolved to a commit with
//! `git ls-remote` first, so the step's cache key is the commit and an unchanged repository
//! is not fetched again; a miss clones it with the `git` program (its credentials, proxies
//! and SSH setup apply) and checks the commit out.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A git URL split as BuildKit splits it: the remote, the ref (empty: HEAD) and a
/// subdirectory (empty: the whole tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    pub remote: String,
    pub reference: String,
    pub subdir: String,
}

impl GitSource {
    /// `Some` when `s` names a git repository rather than a file or a plain URL.
    pub fn parse(s: &str) -> Option<GitSource> {
        let (remote, fragment) = s.split_once('#').unwrap_or((s, ""));
        let is_git = remote.starts_with("git://")
            || remote.starts_with("git@")
            || remote.starts_with("ssh://")
            || ((remote.starts_with("https://") || remote.starts_with("http://"))
                && remote.trim_end_matches('/').ends_with(".git"));
        if !is_git {
            return None;
        }
        let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
        Some(GitSource {
            remote: remote.to_string(),
            reference: reference.to_string(),
            subdir: subdir.trim_matches('/').to_string(),
        })
    }

    /// The commit the ref names now (`git ls-remote`); a full commit hash is taken as it is.
    pub fn resolve(&self) -> Result<String, String> {
        let r = self.reference.as_str();
        if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(r.to_ascii_lowercase());
        }
        let out = git(None, &["ls-remote", "--", &self.remote])?;
        let mut head = None;
        let mut found: Option<(u8, String)> = None;
        for line in out.lines() {
            let Some((sha, name)) = line.split_once('\t') else {
                continue;
            };
            if name == "HEAD" {
                head = Some(sha.to_string());
            }
            if r.is_empty() {
                continue;
            }
            // An annotated tag's commit (`^{}`) wins over the tag object; then branches, tags,
            // any ref of that exact name.
            let rank = if name == format!("refs/tags/{r}^{{}}") {
                0
            } else if name == format!("refs/heads/{r}") {
                1
            } else if name == format!("refs/tags/{r}") {
                2
            } else if name == r {
                3
            } else {
                continue;
            };
            if found.as_ref().is_none_or(|(best, _)| rank < *best) {
                found = Some((rank, sha.to_string()));
            }
        }
        match (r.is_empty(), found, head) {
            (true, _, Some(h)) => Ok(h),
            (false, Some((_, sha)), _) => Ok(sha),
            (true, _, None) => Err(format!("{}: the repository has no HEAD", self.remote)),
            (false, None, _) => Err(format!(
                "{}: no branch, tag or ref named {r:?}",
                self.remote
            )),
        }
    }

    /// Clones the repository into `dir` (which must not exist) with `commit` checked out;
    /// `.git` is removed unless `keep_git_dir`. Returns the directory of the subdir.
    pub fn checkout(
        &self,
        commit: &str,
        dir: &Path,
        keep_git_dir: bool,
    ) -> Result<PathBuf, String> {
        let d = dir.to_string_lossy();
        git(
            None,
            &["clone", "-q", "--no-checkout", "--", &self.remote, &d],
        )?;
        git(Some(dir), &["checkout", "-q", "--detach", commit])?;
        if !keep_git_dir {
            let dot_git = dir.join(".git");
            std::fs::remove_dir_all(&dot_git)
                .map_err(|e| format!("remove {}: {e}", dot_git.display()))?;
        }
        let sub = dir.join(&self.subdir);
        let inside = std::fs::canonicalize(&sub)
            .ok()
            .zip(std::fs::canonicalize(dir).ok())
            .is_some_and(|(s, d)| s.starts_with(d));
        if self.subdir.contains("..") || !inside || !sub.is_dir() {
            return Err(format!(
                "{}: {:?} is not a directory of the repository",
                self.remote, self.subdir
            ));
        }
        Ok(sub)
    }
}

/// Runs `git` (in `cwd`), never asking for a password on a terminal; its stdout, or its
/// stderr as the error.
fn git(cwd: Option<&Path>, args: &[&str]) -> Result<String, String> {
    let mut c = Command::new("git");
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let out = c
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("git: {e} (is git installed?)"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("git {}: {}", args[0], err.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_urls_are_told_from_files_and_plain_urls() {
        assert_eq!(
            GitSource::parse("https://example.com/app.git#v1.2:docs"),
            Some(GitSource {
                remote: "https://example.com/app.git".into(),
                reference: "v1.2".into(),
                subdir: "docs".into()
            })
        );
        let g = GitSource::parse("git@example.com:team/app.git").unwrap();
        assert_eq!((g.reference.as_str(), g.subdir.as_str()), ("", ""));
        assert!(GitSource::parse("git://127.0.0.1/app#main").is_some());
        assert!(GitSource::parse("https://example.com/file.tar.gz").is_none());
        assert!(GitSource::parse("src/app.git").is_none());
    }

    /// A repository made here: its refs resolve to their commits, and a checkout has the
    /// commit's tree, without `.git` unless asked.
    #[test]
    fn refs_resolve_to_commits_and_check_out() {
        if Command::new("git").arg("--version").output().is_err() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("sub")).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("git")
                .args([
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "-c",
                    "init.defaultBranch=main",
                ])
                .args(args)
                .current_dir(&repo)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        run(&["init", "-q"]);
        std::fs::write(repo.join("sub/a"), "one").unwrap();
        run(&["add", "."]);
        run(&["commit", "-q", "-m", "one"]);
        let first = run(&["rev-parse", "HEAD"]);
        run(&["tag", "-a", "v1", "-m", "v1"]);
        std::fs::write(repo.join("sub/a"), "two").unwrap();
        run(&["commit", "-q", "-am", "two"]);
        let second = run(&["rev-parse", "HEAD"]);
        let url = format!("{}#v1:sub", repo.display());
        let mut g = GitSource::parse(&format!("ssh://x/{url}")).unwrap();
        g.remote = repo.display().to_string();
        assert_eq!(g.resolve().unwrap(), first, "an annotated tag's commit");
        g.reference = "main".into();
        assert_eq!(g.resolve().unwrap(), second);
        g.reference = String::new();
        assert_eq!(g.resolve().unwrap(), second, "HEAD");
        g.reference = "nope".into();
        assert!(g
            .resolve()
            .unwrap_err()
            .contains("no branch, tag or ref named"));
        let out = dir.path().join("out");
        let sub = g.checkout(&first, &out, false).unwrap();
        assert_eq!(std::fs::read_to_string(sub.join("a")).unwrap(), "one");
        assert!(!out.join(".git").exists());
        let kept = dir.path().join("kept");
        g.subdir = "../..".into();
        assert!(g.checkout(&second, &kept, true).is_err());
        assert!(kept.join(".git").is_dir());
    }
}
