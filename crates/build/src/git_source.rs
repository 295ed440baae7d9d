//! Git sources, as BuildKit reads them: `ADD https://host/repo.git#REF:SUBDIR /dest` (also
//! `git://…`, `ssh://…`, `git@host:repo.git`) and build contexts given as such a URL. The ref
//! (a branch, a tag or a commit; the remote's HEAD when absent) is resolved to a commit with
//! `git ls-remote` first, so the step's cache key is the commit and an unchanged repository
//! is not fetched again; a miss fetches that commit alone (`--depth 1`, or the whole
//! repository from a server that refuses a commit by its hash) with the `git` program (its
//! credentials, proxies and SSH setup apply), checks it out and, as BuildKit does, its
//! submodules too (`?submodules=false` leaves them out).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A git URL split as BuildKit splits it: the remote, the ref (empty: HEAD) and a
/// subdirectory (empty: the whole tree), from a fragment (`#REF:SUBDIR`) or from BuildKit's
/// query form (`?ref=…&tag=…&branch=…&checksum=…&subdir=…&keep-git-dir=…`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitSource {
    pub remote: String,
    pub reference: String,
    /// Which refs `reference` may name (`?tag=`, `?branch=`; any for `#REF` and `?ref=`).
    pub ref_kind: RefKind,
    /// `?checksum=` (alias `commit`): the commit the ref must resolve to, or the commit.
    pub checksum: String,
    pub subdir: String,
    /// `?keep-git-dir=true`: as `ADD --keep-git-dir`.
    pub keep_git_dir: bool,
    /// Check the submodules out too (BuildKit's default; `?submodules=false`).
    pub submodules: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefKind {
    #[default]
    Any,
    Tag,
    Branch,
}

impl GitSource {
    /// `Some` when `s` names a git repository rather than a file or a plain URL; an error
    /// when its query is not one BuildKit reads.
    pub fn parse(s: &str) -> Option<Result<GitSource, String>> {
        let (url, fragment) = s.split_once('#').unwrap_or((s, ""));
        let (remote, query) = url.split_once('?').unwrap_or((url, ""));
        let is_git = remote.starts_with("git://")
            || remote.starts_with("git@")
            || remote.starts_with("ssh://")
            || ((remote.starts_with("https://") || remote.starts_with("http://"))
                && remote.trim_end_matches('/').ends_with(".git"));
        if !is_git {
            return None;
        }
        let mut g = GitSource {
            remote: remote.to_string(),
            submodules: true,
            ..GitSource::default()
        };
        if !query.is_empty() && !fragment.is_empty() {
            return Some(Err(format!(
                "{s}: a git URL takes a #fragment or a ?query, not both"
            )));
        }
        if query.is_empty() {
            let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
            g.reference = reference.to_string();
            g.subdir = subdir.trim_matches('/').to_string();
            return Some(Ok(g));
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let mut set_ref = |kind: RefKind| {
                if !g.reference.is_empty() {
                    return Err(format!("{s}: give one of ref, tag and branch"));
                }
                g.reference = v.to_string();
                g.ref_kind = kind;
                Ok(())
            };
            let r = match k {
                "ref" => set_ref(RefKind::Any),
                "tag" => set_ref(RefKind::Tag),
                "branch" => set_ref(RefKind::Branch),
                "checksum" | "commit" => {
                    g.checksum = v.to_ascii_lowercase();
                    Ok(())
                }
                "subdir" => {
                    g.subdir = v.trim_matches('/').to_string();
                    Ok(())
                }
                "keep-git-dir" => match v {
                    "true" | "1" | "" => {
                        g.keep_git_dir = true;
                        Ok(())
                    }
                    "false" | "0" => Ok(()),
                    _ => Err(format!("{s}: keep-git-dir takes true or false, not {v:?}")),
                },
                "submodules" => match v {
                    "true" | "1" | "" => Ok(()),
                    "false" | "0" => {
                        g.submodules = false;
                        Ok(())
                    }
                    _ => Err(format!("{s}: submodules takes true or false, not {v:?}")),
                },
                other => Err(format!(
                    "{s}: unknown query parameter {other:?} (expected ref, tag, branch, checksum, subdir, keep-git-dir or submodules)"
                )),
            };
            if let Err(e) = r {
                return Some(Err(e));
            }
        }
        if !g.checksum.is_empty() && !g.checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(Err(format!("{s}: checksum must be a commit hash")));
        }
        Some(Ok(g))
    }

    /// The commit the ref names now (`git ls-remote`); a full commit hash is taken as it is.
    pub fn resolve(&self) -> Result<String, String> {
        let commit = self.resolve_ref()?;
        let sum = self.checksum.as_str();
        if !sum.is_empty() && !commit.starts_with(sum) {
            return Err(format!(
                "{}: {:?} is commit {commit}, not the checksum {sum} asked for",
                self.remote, self.reference
            ));
        }
        Ok(commit)
    }

    fn resolve_ref(&self) -> Result<String, String> {
        let r = self.reference.as_str();
        if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(r.to_ascii_lowercase());
        }
        // A full commit alone names what to check out; a short one needs a ref to check.
        if r.is_empty() && self.checksum.len() == 40 {
            return Ok(self.checksum.clone());
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
            let (tag, branch) = (
                self.ref_kind != RefKind::Branch,
                self.ref_kind != RefKind::Tag,
            );
            let rank = if tag && name == format!("refs/tags/{r}^{{}}") {
                0
            } else if branch && name == format!("refs/heads/{r}") {
                1
            } else if tag && name == format!("refs/tags/{r}") {
                2
            } else if self.ref_kind == RefKind::Any && (name == r || name == format!("refs/{r}")) {
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

    /// Fetches `commit` of the repository into `dir` (which must not exist) and checks it
    /// out with its submodules (unless `?submodules=false`); every `.git` is removed unless
    /// `keep_git_dir`. Returns the directory of the subdir.
    pub fn checkout(
        &self,
        commit: &str,
        dir: &Path,
        keep_git_dir: bool,
    ) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        git(Some(dir), &["init", "-q"])?;
        // The remote is a URL (parse only takes those), never an option; relative submodule
        // URLs are resolved against it.
        git(Some(dir), &["remote", "add", "origin", &self.remote])?;
        // The commit alone first, as BuildKit fetches; a server that refuses a commit by its
        // hash (git's protocol v0 without uploadpack.allowReachableSHA1InWant) gives all.
        if git(
            Some(dir),
            &["fetch", "-q", "--depth", "1", "origin", commit],
        )
        .is_err()
        {
            git(
                Some(dir),
                &["fetch", "-q", "origin", "+refs/*:refs/remotes/origin/all/*"],
            )?;
        }
        git(Some(dir), &["checkout", "-q", "--detach", commit])?;
        if self.submodules && dir.join(".gitmodules").is_file() {
            git(
                Some(dir),
                &["submodule", "update", "-q", "--init", "--recursive"],
            )?;
        }
        if !keep_git_dir {
            remove_git_dirs(dir)?;
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

/// Removes `.git` (a directory, or a submodule's file pointing into one) wherever it is.
fn remove_git_dirs(dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if entry.file_name() == ".git" {
            let removed = if kind.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| format!("remove {}: {e}", path.display()))?;
        } else if kind.is_dir() {
            remove_git_dirs(&path)?;
        }
    }
    Ok(())
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
            Some(Ok(GitSource {
                remote: "https://example.com/app.git".into(),
                reference: "v1.2".into(),
                subdir: "docs".into(),
                submodules: true,
                ..GitSource::default()
            }))
        );
        let g = GitSource::parse("git@example.com:team/app.git")
            .unwrap()
            .unwrap();
        assert_eq!((g.reference.as_str(), g.subdir.as_str()), ("", ""));
        assert!(GitSource::parse("git://127.0.0.1/app#main").is_some());
        assert!(GitSource::parse("https://example.com/file.tar.gz").is_none());
        assert!(GitSource::parse("src/app.git").is_none());
    }

    #[test]
    fn buildkits_query_form_is_read_and_checked() {
        let g = GitSource::parse(
            "https://example.com/app.git?tag=v1&subdir=/docs/&checksum=ABC123&keep-git-dir=true&submodules=false",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            g,
            GitSource {
                remote: "https://example.com/app.git".into(),
                reference: "v1".into(),
                ref_kind: RefKind::Tag,
                checksum: "abc123".into(),
                subdir: "docs".into(),
                keep_git_dir: true,
                submodules: false,
            }
        );
        assert!(
            GitSource::parse("git://h/app?submodules=true")
                .unwrap()
                .unwrap()
                .submodules
        );
        let err = |s: &str| GitSource::parse(s).unwrap().unwrap_err();
        assert!(err("git://h/app?ref=a#b").contains("#fragment or a ?query"));
        assert!(err("git://h/app?tag=a&branch=b").contains("one of ref, tag and branch"));
        assert!(err("git://h/app?depth=1").contains("unknown query parameter \"depth\""));
        assert!(err("git://h/app?submodules=maybe").contains("submodules takes true or false"));
        assert!(err("git://h/app?checksum=xyz").contains("checksum must be a commit hash"));
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
        let mut g = GitSource::parse(&format!("ssh://x/{url}"))
            .unwrap()
            .unwrap();
        g.remote = repo.display().to_string();
        assert_eq!(g.resolve().unwrap(), first, "an annotated tag's commit");
        g.reference = "main".into();
        assert_eq!(g.resolve().unwrap(), second);
        g.reference = String::new();
        assert_eq!(g.resolve().unwrap(), second, "HEAD");
        // ?tag= and ?branch= look at their kind of ref only.
        g.reference = "v1".into();
        g.ref_kind = RefKind::Tag;
        assert_eq!(g.resolve().unwrap(), first);
        g.ref_kind = RefKind::Branch;
        assert!(g.resolve().is_err(), "v1 is a tag, not a branch");
        // ?checksum=: the ref must resolve to it; alone (full), it is the commit.
        g.reference = "main".into();
        g.checksum = second[..8].into();
        assert_eq!(g.resolve().unwrap(), second);
        g.checksum = first[..8].into();
        assert!(g.resolve().unwrap_err().contains("not the checksum"));
        g.reference = String::new();
        g.checksum = first.clone();
        assert_eq!(g.resolve().unwrap(), first);
        g.checksum = String::new();
        g.ref_kind = RefKind::Any;
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
