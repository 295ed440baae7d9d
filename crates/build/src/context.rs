//! The build context: a directory on the host, less what `.dockerignore` excludes. berth reads
//! it in place (there is no daemon to send it to), so nothing is copied until a COPY or ADD
//! needs it.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use berth_dockerfile::dockerignore::ignore_file_candidates;
use berth_dockerfile::DockerIgnore;
use sha2::{Digest as _, Sha256};

use berth_runtime::rootfs::resolve_in_root;

use crate::error::{Error, IoContext, Result};

pub struct BuildContext {
    pub dir: PathBuf,
    pub ignore: DockerIgnore,
}

impl BuildContext {
    /// Opens `dir` with the ignore file that applies to `dockerfile`: `NAME.dockerignore`
    /// beside it, else `.dockerignore` in the context root (as BuildKit).
    pub fn open(dir: &Path, dockerfile: &Path) -> Result<BuildContext> {
        let meta = fs::metadata(dir).map_err(|source| Error::Read {
            what: "build context",
            path: dir.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(Error::Read {
                what: "build context",
                path: dir.to_path_buf(),
                source: std::io::Error::other("not a directory"),
            });
        }
        let name = dockerfile
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("Dockerfile");
        let mut ignore = DockerIgnore::default();
        for cand in ignore_file_candidates(name) {
            let path = if cand == ".dockerignore" {
                dir.join(&cand)
            } else {
                dockerfile.with_file_name(&cand)
            };
            if let Ok(text) = fs::read_to_string(&path) {
                ignore = DockerIgnore::parse(&text, &path.display().to_string()).map_err(|e| {
                    Error::Parse {
                        file: e.file.clone(),
                        line: e.line,
                        message: format!("invalid pattern {:?}: {}", e.pattern, e.reason),
                    }
                })?;
                break;
            }
        }
        Ok(BuildContext {
            dir: dir.to_path_buf(),
            ignore,
        })
    }

    /// Where `rel` is on the host, its links resolved inside the context (as BuildKit: a link to
    /// `/etc` in the context means the context's `etc`, never the host's).
    pub fn host_path(&self, rel: &str) -> PathBuf {
        resolve_in_root(&self.dir, Path::new(rel))
    }

    /// `rel` itself (a link is not followed), its parents resolved inside the context.
    fn entry_path(&self, rel: &str) -> PathBuf {
        let p = Path::new(rel);
        match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) => resolve_in_root(&self.dir, parent).join(name),
            _ => self.dir.clone(),
        }
    }

    /// Whether `rel` (context-relative, `/`-separated) is sent to the build.
    pub fn included(&self, rel: &str) -> bool {
        rel.is_empty() || !self.ignore.excluded(rel)
    }

    /// Context-relative paths a COPY/ADD source names: itself, or what its wildcards match
    /// (Go's filepath.Match per path component, as BuildKit). Excluded paths never match.
    pub fn sources(&self, source: &str) -> Vec<String> {
        let rel = clean_relative(source);
        let has_wildcard = |s: &str| s.contains(['*', '?', '[']);
        if !has_wildcard(&rel) {
            let exists = fs::symlink_metadata(self.entry_path(&rel)).is_ok();
            return if exists && (self.included(&rel) || self.has_included_inside(&rel)) {
                vec![rel]
            } else {
                Vec::new()
            };
        }
        let mut found = vec![String::new()];
        for part in rel.split('/') {
            let mut next = Vec::new();
            for base in &found {
                let dir = self.host_path(base);
                if !has_wildcard(part) {
                    if fs::symlink_metadata(dir.join(part)).is_ok() {
                        next.push(join(base, part));
                    }
                    continue;
                }
                let Ok(matcher) = DockerIgnore::from_patterns(&[part]) else {
                    continue;
                };
                let Ok(rd) = fs::read_dir(&dir) else { continue };
                let mut names: Vec<String> = rd
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| matcher.excluded(n))
                    .collect();
                names.sort();
                next.extend(names.iter().map(|n| join(base, n)));
            }
            found = next;
        }
        found.retain(|p| self.included(p) || self.has_included_inside(p));
        found
    }

    /// An excluded directory may still hold paths a `!` pattern brings back.
    fn has_included_inside(&self, rel: &str) -> bool {
        if !self.ignore.has_exceptions() {
            return false;
        }
        let Ok(rd) = fs::read_dir(self.host_path(rel)) else {
            return false;
        };
        rd.flatten().any(|e| {
            let Some(n) = e.file_name().to_str().map(str::to_string) else {
                return false;
            };
            let child = join(rel, &n);
            self.included(&child) || self.has_included_inside(&child)
        })
    }

    /// A digest of the content and metadata COPY would take from these sources (what the
    /// build cache keys a COPY on): names, types, modes, link targets and file contents.
    pub fn checksum(&self, sources: &[String]) -> Result<String> {
        self.checksum_of(sources, false)
    }

    /// `checksum`, with each path's owner too (`owners`: for `COPY --from`, which keeps them).
    pub fn checksum_of(&self, sources: &[String], owners: bool) -> Result<String> {
        let mut h = Sha256::new();
        for s in sources {
            // A source that is a link is copied as what it points to: hash that.
            self.hash_path(s, true, owners, &mut h)?;
        }
        Ok(hex::encode(h.finalize()))
    }

    fn hash_path(&self, rel: &str, follow: bool, owners: bool, h: &mut Sha256) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let path = if follow {
            self.host_path(rel)
        } else {
            self.entry_path(rel)
        };
        let m = fs::symlink_metadata(&path).map_err(|e| Error::Io {
            op: "read",
            path: PathBuf::from(rel),
            source: std::io::Error::new(
                e.kind(),
                "not found in the build context (links are followed inside it, never to the host)",
            ),
        })?;
        let included = self.included(rel);
        if included {
            h.update(rel.as_bytes());
            h.update([0]);
            h.update((m.permissions().mode()).to_le_bytes());
            if owners {
                use std::os::unix::fs::MetadataExt;
                h.update(m.uid().to_le_bytes());
                h.update(m.gid().to_le_bytes());
            }
        }
        if m.file_type().is_symlink() {
            h.update(
                fs::read_link(&path)
                    .ctx("read link", &path)?
                    .as_os_str()
                    .as_encoded_bytes(),
            );
        } else if m.is_file() && included {
            h.update(m.len().to_le_bytes());
            let mut f = fs::File::open(&path).ctx("open", &path)?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = f.read(&mut buf).ctx("read", &path)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        } else if m.is_dir() {
            let mut names: Vec<String> = fs::read_dir(&path)
                .ctx("read directory", &path)?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            names.sort();
            for n in names {
                let child = join(rel, &n);
                if self.included(&child) || self.has_included_inside(&child) {
                    self.hash_path(&child, false, owners, h)?;
                }
            }
        }
        h.update([0xff]);
        Ok(())
    }
}

/// `a` + `/` + `b`, for context-relative paths (`""` is the root).
pub(crate) fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// A source path as a clean context-relative path: leading `/` and `./` dropped, `..` never
/// above the root (BuildKit treats the context as the root of the sources).
pub fn clean_relative(p: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(files: &[&str], ignore: &str) -> (tempfile::TempDir, BuildContext) {
        let d = tempfile::tempdir().unwrap();
        for f in files {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, f).unwrap();
        }
        fs::write(d.path().join(".dockerignore"), ignore).unwrap();
        let c = BuildContext::open(d.path(), &d.path().join("Dockerfile")).unwrap();
        (d, c)
    }

    #[test]
    fn sources_follow_wildcards_and_the_ignore_file() {
        let (_d, c) = ctx(
            &["a.py", "b.py", "c.txt", "src/x.py", "src/y.rs", "secret.py"],
            "secret.py\n",
        );
        assert_eq!(c.sources("*.py"), vec!["a.py", "b.py"]);
        assert_eq!(c.sources("./src/*.py"), vec!["src/x.py"]);
        assert_eq!(c.sources("/c.txt"), vec!["c.txt"]);
        assert!(c.sources("secret.py").is_empty());
        assert!(c.sources("missing").is_empty());
        assert_eq!(c.sources("../../a.py"), vec!["a.py"]);
    }

    #[test]
    fn excluded_directories_still_give_what_exceptions_bring_back() {
        let (_d, c) = ctx(&["docs/a.md", "docs/keep.md"], "docs\n!docs/keep.md\n");
        assert_eq!(c.sources("docs"), vec!["docs"]);
        assert!(!c.included("docs/a.md"));
        assert!(c.included("docs/keep.md"));
    }

    #[test]
    fn links_in_the_context_resolve_inside_it() {
        let (d, c) = ctx(&["etc/hostname"], "");
        std::os::unix::fs::symlink("/etc", d.path().join("link")).unwrap();
        assert_eq!(c.host_path("link/hostname"), d.path().join("etc/hostname"));
        assert_eq!(c.sources("link/hostname"), vec!["link/hostname"]);
        assert!(
            c.sources("link/passwd").is_empty(),
            "the host's /etc is never looked at"
        );
    }

    #[test]
    fn checksum_changes_with_content_but_not_with_ignored_files() {
        let (d, c) = ctx(&["app/main.py", "app/cache.pyc"], "**/*.pyc\n");
        let before = c.checksum(&["app".into()]).unwrap();
        fs::write(d.path().join("app/cache.pyc"), "changed").unwrap();
        assert_eq!(c.checksum(&["app".into()]).unwrap(), before);
        fs::write(d.path().join("app/main.py"), "changed").unwrap();
        assert_ne!(c.checksum(&["app".into()]).unwrap(), before);
    }
}
