//! COPY and ADD: sources from the context, an earlier stage or an image, written into a
//! scratch mount of the stage's layers; the upper dir becomes the step's layer.

use std::path::Path;

use berth_dockerfile::instructions::{parse_octal_mode, CopyCommand};
use berth_dockerfile::Instruction;

use super::{clean_abs, tempfile_dir, Builder, Scope, State};
use crate::context::BuildContext;
use crate::copy::{copy_source, make_dir, CopyMode, Source};
use crate::error::{IoContext, Result};
use crate::git_source::GitSource;
use crate::scratch::ScratchRoot;
use crate::stages::step_error;
use sha2::{Digest as _, Sha256};

impl Builder<'_> {
    /// COPY and ADD.
    pub(super) fn copy_step(
        &self,
        s: State,
        inst: &Instruction,
        copy: &CopyCommand,
        is_add: bool,
        sc: &Scope,
    ) -> Result<State> {
        let bad = |m: &str| step_error(&self.file, inst, m);
        let mut words = Vec::new();
        for a in &copy.sources {
            words.push(self.expand(&s, inst, a)?);
        }
        let dest_word = self.expand(&s, inst, &copy.dest)?;
        let workdir = s.workdir();
        let dir_like = dest_word.ends_with('/') || dest_word == "." || dest_word.ends_with("/.");
        let dest = if dest_word.starts_with('/') {
            dest_word.clone()
        } else {
            format!("{}/{}", workdir.trim_end_matches('/'), dest_word)
        };
        let dest = clean_abs(&dest);
        if words.len() > 1 && !dir_like {
            // BuildKit's message.
            return Err(bad(&format!("When using {} with more than one source file, the destination must be a directory and end with a /", inst.keyword.to_ascii_uppercase())));
        }
        let excludes = copy.excludes.clone();
        let chown = match &copy.chown {
            Some(c) => Some(self.expand(&s, inst, c)?),
            None => None,
        };
        let chmod = match &copy.chmod {
            Some(m) => {
                let m = self.expand(&s, inst, m)?;
                Some(parse_octal_mode(&m).ok_or_else(|| {
                    bad(&format!("--chmod={m}: expected an octal mode such as 0755"))
                })?)
            }
            None => None,
        };
        // A context of this step's own (in `step_dir`): here-document sources (`COPY <<EOF
        // /file`) or downloads as files, or the build context less `--exclude`.
        let mut step_dir = None;
        let mut step_ctx = None;
        if !inst.heredocs.is_empty() {
            let dir = tempfile_dir(&self.store)?;
            for h in &inst.heredocs {
                let body = if h.expand {
                    // Variables expand; quotes and escapes stay as written (BuildKit's raw
                    // mode for here-documents).
                    let lex = berth_dockerfile::Lex {
                        raw_quotes: true,
                        raw_escapes: true,
                        ..self.lex
                    };
                    lex.process_word(&h.body(), &s.env())
                        .map_err(|e| bad(&e.to_string()))?
                } else {
                    h.body()
                };
                std::fs::write(dir.0.join(&h.name), body).ctx("write", dir.0.join(&h.name))?;
            }
            for w in words.iter_mut() {
                if let Some(n) = w.strip_prefix("<<") {
                    *w = n
                        .trim_start_matches('-')
                        .trim_matches(['"', '\''])
                        .to_string();
                }
            }
            step_ctx = Some(BuildContext {
                dir: dir.0.clone(),
                ignore: Default::default(),
            });
            step_dir = Some(dir);
        }
        // Where the sources come from: the context, an earlier stage or an image.
        let from = match &copy.from {
            None => None,
            Some(f) => Some(self.source_state(f, inst, sc)?),
        };
        // `ADD <url>`: downloaded into the step's own context (never unpacked, mode 0600,
        // the server's Last-Modified as mtime), so the cache key covers what was fetched.
        let urls = words.iter().filter(|w| is_url(w)).count();
        let remote = urls > 0;
        if let Some(git) = words.iter().find_map(|w| GitSource::parse(w)) {
            let git = git.map_err(|m| bad(&m))?;
            if !is_add {
                return Err(bad(
                    "source can't be a git repository for COPY (ADD clones them)",
                ));
            }
            if words.len() > 1 {
                return Err(bad("ADD of a git repository takes that one source"));
            }
            return self.git_add(s, &inst.clone(), git, dest, dest_word, (chown, chmod), copy);
        }
        if remote && !is_add {
            return Err(bad("source can't be a URL for COPY (ADD downloads URLs)"));
        }
        if remote && (urls != words.len() || step_ctx.is_some()) {
            return Err(bad(
                "ADD with both URLs and local sources is not supported by berth yet",
            ));
        }
        if copy.checksum.is_some() && !remote {
            return Err(bad("--checksum is only for URL sources"));
        }
        if remote {
            let dir = tempfile_dir(&self.store)?;
            for w in words.iter_mut() {
                let name = url_file_name(w);
                let path = dir.0.join(&name);
                let mtime = self
                    .host
                    .download(w, &path)
                    .map_err(|m| bad(&format!("{w}: {m}")))?;
                if let Some(want) = &copy.checksum {
                    let got = berth_image::Digest::of(&std::fs::read(&path).ctx("read", &path)?);
                    if got.to_string() != *want {
                        return Err(bad(&format!(
                            "{w}: checksum mismatch: expected {want}, got {got}"
                        )));
                    }
                }
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )
                .ctx("chmod", &path)?;
                if let Some(t) = mtime {
                    let t = filetime::FileTime::from_unix_time(t, 0);
                    filetime::set_file_times(&path, t, t).ctx("set times", &path)?;
                }
                *w = name;
            }
            step_ctx = Some(BuildContext {
                dir: dir.0.clone(),
                ignore: Default::default(),
            });
            step_dir = Some(dir);
        }
        // `--exclude` patterns are relative to each source's directory; they join the
        // context's ignore rules for this step.
        if !excludes.is_empty() && step_ctx.is_none() {
            let patterns =
                exclude_patterns(&words, &excludes, |rel| self.ctx.host_path(rel).is_dir());
            let ignore = self.ctx.ignore.extended(&patterns).map_err(|e| {
                bad(&format!(
                    "--exclude: invalid pattern {:?}: {}",
                    e.pattern, e.reason
                ))
            })?;
            step_ctx = Some(BuildContext {
                dir: self.ctx.dir.clone(),
                ignore,
            });
        }
        let mut ctx_sources: Vec<(String, Vec<String>)> = Vec::new();
        let source_ctx = step_ctx.as_ref().unwrap_or(&self.ctx);
        let checksum = match &from {
            None => {
                for w in &words {
                    let found = source_ctx.sources(w);
                    if found.is_empty() && !w.contains(['*', '?', '[']) {
                        return Err(bad(&format!("{w:?} not found: no such file or directory in the build context (or excluded by .dockerignore)")));
                    }
                    ctx_sources.push((w.clone(), found));
                }
                let all: Vec<String> = ctx_sources.iter().flat_map(|(_, f)| f.clone()).collect();
                if all.is_empty() {
                    return Err(bad(&format!(
                        "no source files were specified that exist in the build context: {}",
                        words.join(" ")
                    )));
                }
                source_ctx.checksum(&all)?
            }
            Some(f) => f.key.clone(),
        };
        let text = inst.original.trim().to_string();
        let step_key = |checksum: &str| {
            self.key(
                &s,
                &format!(
                    "{text}\n{}\n{dest}\n{checksum}\n{:?}",
                    words.join("\0"),
                    (&chown, chmod)
                ),
            )
        };
        let mut key = step_key(&checksum);
        // COPY --from has BuildKit's two keys: the source stage's definition (an unchanged
        // stage; also a cache imported on a fresh machine, whose source layers are not
        // here), else the files it copies (a stage rebuilt to the same files), noted under
        // the first too.
        let mut also = None;
        if let Some(f) = &from {
            if !self.opts.no_cache && self.cached(&key).is_none() {
                also = Some(std::mem::replace(
                    &mut key,
                    step_key(&self.source_content_key(f, &words)?),
                ));
            }
        }
        let created_by = format!(
            "{} {} {} # buildkit",
            inst.keyword.to_ascii_uppercase(),
            words.join(" "),
            dest_word
        );
        // ADD unpacks local archives, and downloads only when asked (`--unpack`).
        let unpack = is_add && copy.unpack.unwrap_or(!remote);
        let file = self.file.clone();
        let inst = inst.clone();
        let parents = copy.parents;
        let copies_from = from.is_some();
        let before = s.key.clone();
        let made = self.cached_or(s, key, move |b, mut s| {
            let _step_dir = step_dir;
            let source_ctx = step_ctx.as_ref().unwrap_or(&b.ctx);
            let bad = |m: &str| step_error(&file, &inst, m);
            let mut scratch = ScratchRoot::mount(&b.store, &s.chain_ids())?;
            let root = scratch.root().to_path_buf();
            let owner = match chown_ids(&root, chown.as_deref()).map_err(|m| bad(&m))? {
                Some(ids) => Some(ids),
                None if from.is_some() => None,
                None => Some((0, 0)),
            };
            let mode = CopyMode { owner, chmod };
            let into_existing_dir = || {
                std::fs::metadata(berth_runtime::rootfs::resolve_in_root(
                    &root,
                    Path::new(&dest),
                ))
                .is_ok_and(|m| m.is_dir())
            };
            // Several sources (named, or matched by a wildcard) always go into a directory.
            let many = |n: usize| words.len() > 1 || n > 1;
            match &from {
                None => {
                    let total = ctx_sources.iter().map(|(_, f)| f.len()).sum();
                    let into_dir = dir_like || many(total) || into_existing_dir();
                    for (word, found) in &ctx_sources {
                        for rel in found {
                            if parents {
                                copy_source(
                                    &Source::Context(source_ctx),
                                    rel,
                                    &root,
                                    &with_parents(&dest, word, rel),
                                    false,
                                    mode,
                                )?;
                                continue;
                            }
                            let host = source_ctx.host_path(rel);
                            if unpack && host.is_file() && is_archive(&host) {
                                let target = make_dir(&root, &dest, owner)?;
                                let f = std::fs::File::open(&host).ctx("open", &host)?;
                                let (r, _) = berth_image::layer::decompressed(f, rel)?;
                                berth_image::layer::apply_layer(
                                    r,
                                    &target,
                                    berth_image::layer::WhiteoutMode::Literal,
                                )?;
                                continue;
                            }
                            copy_source(
                                &Source::Context(source_ctx),
                                rel,
                                &root,
                                &dest,
                                into_dir,
                                mode,
                            )?;
                        }
                    }
                }
                Some(f) => {
                    let src = ScratchRoot::mount(&b.store, &f.chain_ids())?;
                    // `--exclude`: the stage's root read as a context that ignores them.
                    let stage_ctx = match excludes.is_empty() {
                        true => None,
                        false => Some(BuildContext {
                            dir: src.root().to_path_buf(),
                            ignore: stage_excludes(src.root(), &words, &excludes).map_err(|e| {
                                bad(&format!(
                                    "--exclude: invalid pattern {:?}: {}",
                                    e.pattern, e.reason
                                ))
                            })?,
                        }),
                    };
                    let source = match &stage_ctx {
                        Some(c) => Source::Context(c),
                        None => Source::Root(src.root()),
                    };
                    let mut found = Vec::new();
                    for w in &words {
                        let matched = root_sources(src.root(), w);
                        if matched.is_empty() {
                            return Err(bad(&format!(
                                "{w:?} not found in the source stage or image"
                            )));
                        }
                        found.extend(matched.into_iter().map(|rel| (w, rel)));
                    }
                    if let Some(c) = &stage_ctx {
                        found.retain(|(_, rel)| c.included(rel));
                    }
                    let into_dir = dir_like || many(found.len()) || into_existing_dir();
                    for (word, rel) in found {
                        let (to, into_dir) = match parents {
                            true => (with_parents(&dest, word, &rel), false),
                            false => (dest.clone(), into_dir),
                        };
                        copy_source(&source, &rel, &root, &to, into_dir, mode)?;
                    }
                }
            }
            let upper = scratch.changes()?.to_path_buf();
            b.add_upper_layer(&mut s, &upper)?;
            Self::history(&mut s, created_by, false);
            Ok(s)
        })?;
        let mut made = made;
        if let (true, Some(img)) = (copies_from, &made.image) {
            if let Some(k) = also {
                self.note_made(&k, img)?;
            }
            // The steps after it are keyed on the layers the copy made (their content: the
            // same after an export and import), whichever of its keys found it, so both lead
            // to the same cache entries after it.
            let layers = made.chain_ids().last().map(|c| c.to_string());
            made.key = hex::encode(Sha256::digest(format!(
                "{before}\nCOPY --from result {}",
                layers.unwrap_or_default()
            )));
        }
        Ok(made)
    }
}

impl Builder<'_> {
    /// `ADD <git URL> <dir>`: the commit the ref names now is the cache key; a miss clones
    /// the repository, checks the commit out and copies its tree (or subdir) into `dest`.
    #[allow(clippy::too_many_arguments)]
    fn git_add(
        &self,
        s: State,
        inst: &Instruction,
        git: GitSource,
        dest: String,
        dest_word: String,
        (chown, chmod): (Option<String>, Option<u32>),
        copy: &CopyCommand,
    ) -> Result<State> {
        let bad = |m: &str| step_error(&self.file, inst, m);
        let commit = git.resolve().map_err(|m| bad(&m))?;
        let keep_git_dir = copy.keep_git_dir || git.keep_git_dir;
        let key = self.key(
            &s,
            &format!(
                "{}\nGIT {}\n{commit}\n{}\n{keep_git_dir}\nsubmodules {}\n{dest}\n{:?}",
                inst.original.trim(),
                git.remote,
                git.subdir,
                git.submodules,
                (&chown, chmod)
            ),
        );
        let created_by = format!(
            "ADD {}{} {dest_word} # buildkit",
            git.remote,
            match (git.reference.as_str(), git.subdir.as_str()) {
                ("", "") => String::new(),
                (r, "") => format!("#{r}"),
                (r, d) => format!("#{r}:{d}"),
            }
        );
        let file = self.file.clone();
        let inst = inst.clone();
        self.cached_or(s, key, move |b, mut s| {
            let bad = |m: &str| step_error(&file, &inst, m);
            let tmp = tempfile_dir(&b.store)?;
            let tree = git
                .checkout(&commit, &tmp.0.join("repo"), keep_git_dir)
                .map_err(|m| bad(&m))?;
            let ctx = BuildContext {
                dir: tree,
                ignore: Default::default(),
            };
            let mut scratch = ScratchRoot::mount(&b.store, &s.chain_ids())?;
            let root = scratch.root().to_path_buf();
            let owner = chown_ids(&root, chown.as_deref()).map_err(|m| bad(&m))?;
            let mode = CopyMode {
                owner: Some(owner.unwrap_or((0, 0))),
                chmod,
            };
            copy_source(&Source::Context(&ctx), "", &root, &dest, true, mode)?;
            let upper = scratch.changes()?.to_path_buf();
            b.add_upper_layer(&mut s, &upper)?;
            Self::history(&mut s, created_by, false);
            Ok(s)
        })
    }
}

impl Builder<'_> {
    /// What `COPY --from` takes out of `f`, as the step's key sees it: a checksum of the
    /// matched paths (contents, modes, owners), as BuildKit keys it, so a stage rebuilt to
    /// the same files leaves the steps after the copy cached. Noted in the build cache by the
    /// source's layers, so an unchanged source is read once, not at every build.
    fn source_content_key(&self, f: &State, words: &[String]) -> Result<String> {
        let chain = f.chain_ids();
        let Some(top) = chain.last() else {
            // An empty source (scratch): nothing to read.
            return Ok(f.key.clone());
        };
        let memo = {
            let mut h = Sha256::new();
            h.update(top.to_string().as_bytes());
            for w in words {
                h.update([0]);
                h.update(w.as_bytes());
            }
            hex::encode(h.finalize())
        };
        if let Some(sum) = self.store.source_checksum(&memo) {
            return Ok(sum);
        }
        let scratch = ScratchRoot::mount(&self.store, &chain)?;
        let tree = BuildContext {
            dir: scratch.root().to_path_buf(),
            ignore: Default::default(),
        };
        let mut found = Vec::new();
        for w in words {
            let matched = tree.sources(w);
            if matched.is_empty() {
                // Not there: the copy itself says so; the key need not be shared.
                return Ok(format!("{}\0missing {w}", f.key));
            }
            found.extend(matched);
        }
        let sum = tree.checksum_of(&found, true)?;
        drop(scratch);
        // Best effort: the cache may be read-only or full; the build goes on.
        let _ = self.store.note_source_checksum(&memo, &sum);
        Ok(sum)
    }
}

/// Where `COPY --parents` puts the source `rel` (matched by `word`): under `dest` with its
/// parent directories, from the context's root or, when `word` has a `/./` pivot, from there
/// (BuildKit's rule: `COPY --parents a/./b/c.txt /d/` makes /d/b/c.txt).
fn with_parents(dest: &str, word: &str, rel: &str) -> String {
    let kept = match word.find("/./") {
        Some(i) => {
            let pivot = crate::context::clean_relative(&word[..i]);
            match rel.strip_prefix(&format!("{pivot}/")) {
                Some(rest) if !pivot.is_empty() => rest,
                _ => rel,
            }
        }
        None => rel,
    };
    format!("{}/{kept}", dest.trim_end_matches('/'))
}

/// `--exclude` patterns made relative to each source's directory (`is_dir`: whether a
/// source, relative to where sources are read, is a directory).
fn exclude_patterns(
    words: &[String],
    excludes: &[String],
    is_dir: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut patterns = Vec::new();
    for w in words {
        let rel = crate::context::clean_relative(w);
        let base = match rel.find(['*', '?', '[']) {
            Some(i) => rel[..i].rsplit_once('/').map(|p| p.0).unwrap_or(""),
            None if is_dir(&rel) => rel.as_str(),
            None => rel.rsplit_once('/').map(|p| p.0).unwrap_or(""),
        };
        for e in excludes {
            patterns.push(crate::context::join(base, e));
        }
    }
    patterns
}

/// `COPY --from --exclude` patterns, relative to each source's directory in the stage's
/// root (as they are to the context's for a plain COPY).
fn stage_excludes(
    root: &Path,
    words: &[String],
    excludes: &[String],
) -> std::result::Result<berth_dockerfile::DockerIgnore, berth_dockerfile::dockerignore::PatternError>
{
    let patterns = exclude_patterns(words, excludes, |rel| {
        berth_runtime::rootfs::resolve_in_root(root, Path::new(rel)).is_dir()
    });
    berth_dockerfile::DockerIgnore::from_patterns(&patterns)
}

/// The ids `--chown=USER[:GROUP]` names in the image at `root` (None without `--chown`); the
/// error names the flag.
fn chown_ids(root: &Path, chown: Option<&str>) -> std::result::Result<Option<(u32, u32)>, String> {
    let Some(c) = chown else { return Ok(None) };
    let (u, g, _) =
        berth_runtime::rootfs::resolve_user(root, c).map_err(|e| format!("--chown={c}: {e}"))?;
    Ok(Some((u, g)))
}

/// Paths in another stage's root that a `COPY --from` source names (wildcards in the last
/// component only).
fn root_sources(root: &Path, source: &str) -> Vec<String> {
    let rel = crate::context::clean_relative(source);
    if !rel.contains(['*', '?', '[']) {
        let host = berth_runtime::rootfs::resolve_in_root(root, Path::new(&rel));
        return if std::fs::symlink_metadata(host).is_ok() {
            vec![rel]
        } else {
            Vec::new()
        };
    }
    let (parent, pat) = rel.rsplit_once('/').unwrap_or(("", &rel));
    let Ok(m) = berth_dockerfile::DockerIgnore::from_patterns(&[pat]) else {
        return Vec::new();
    };
    let dir = berth_runtime::rootfs::resolve_in_root(root, Path::new(parent));
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| m.excluded(n))
        .map(|n| crate::context::join(parent, &n))
        .collect();
    out.sort();
    out
}

/// Whether ADD unpacks this file: a tar archive, plain or compressed.
fn is_archive(p: &Path) -> bool {
    std::fs::File::open(p).is_ok_and(berth_image::layer::is_tar)
}

fn is_url(w: &str) -> bool {
    w.starts_with("http://") || w.starts_with("https://")
}

/// The file name ADD gives a download: the URL path's last segment (`download` if none).
fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.split_once("://").map(|p| p.1).unwrap_or(path);
    match after_host.split_once('/') {
        Some((_, p)) => p
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .unwrap_or("download")
            .to_string(),
        None => "download".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::with_parents;

    #[test]
    fn parents_are_kept_from_the_root_or_from_a_pivot() {
        assert_eq!(with_parents("/d/", "x/a.txt", "x/a.txt"), "/d/x/a.txt");
        assert_eq!(with_parents("/d", "*/a.txt", "y/a.txt"), "/d/y/a.txt");
        assert_eq!(
            with_parents("/d/", "x/./y/*.txt", "x/y/b.txt"),
            "/d/y/b.txt"
        );
        assert_eq!(with_parents("/d/", "./x/./y", "x/y"), "/d/y");
        assert_eq!(with_parents("/", "src/app", "src/app"), "/src/app");
    }
}
