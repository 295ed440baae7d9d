//! `.dockerignore` matching with Docker's exact rules (moby/patternmatcher): Go
//! `filepath.Match` syntax plus `**`, `!` exceptions where later lines win, leading `/` and
//! `./` removed, `#` comments, and a path counting as excluded when it or any parent matches.
//!
//! Written here rather than with the `ignore`/`globset` crates: their gitignore semantics
//! differ from Docker's (anchoring, `!` under an excluded directory), and a build context that
//! silently includes or drops files would break users' builds.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}: invalid pattern {pattern:?}: {reason}")]
pub struct PatternError {
    pub file: String,
    pub line: usize,
    pub pattern: String,
    pub reason: String,
}

/// File names for the ignore file of a Dockerfile, most specific first: `NAME.dockerignore`
/// beside the Dockerfile (BuildKit's per-Dockerfile ignore file) wins over `.dockerignore` in
/// the context root.
pub fn ignore_file_candidates(dockerfile_name: &str) -> Vec<String> {
    let base = dockerfile_name
        .rsplit('/')
        .next()
        .unwrap_or(dockerfile_name);
    let mut out = Vec::new();
    if !base.is_empty() {
        let dir = &dockerfile_name[..dockerfile_name.len() - base.len()];
        out.push(format!("{dir}{base}.dockerignore"));
    }
    out.push(".dockerignore".to_string());
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchType {
    Exact,
    Prefix,
    Suffix,
    Glob,
}

#[derive(Debug, Clone)]
enum Tok {
    Lit(char),
    /// `*`: any run of non-separators.
    Star,
    /// `?`: one non-separator.
    Any,
    /// `**` in the middle: `(.*/)?`.
    DoubleStarDir,
    /// `**` at the end: `.*`.
    DoubleStarEnd,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

#[derive(Debug, Clone)]
struct Pattern {
    exclusion: bool,
    cleaned: String,
    kind: MatchType,
    tokens: Vec<Tok>,
}

/// A compiled list of `.dockerignore` patterns.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

impl DockerIgnore {
    /// Reads a `.dockerignore` file's text. `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<DockerIgnore, PatternError> {
        let mut lines = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let raw = if i == 0 {
                raw.strip_prefix('\u{feff}').unwrap_or(raw)
            } else {
                raw
            };
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.starts_with('#') {
                continue;
            }
            let mut p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let invert = p.starts_with('!');
            if invert {
                p = p[1..].trim();
            }
            let mut p = if p.is_empty() {
                String::new()
            } else {
                clean(p)
            };
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
            lines.push((i + 1, if invert { format!("!{p}") } else { p }));
        }
        let mut patterns = Vec::new();
        for (line, p) in lines {
            if let Some(pat) = compile(&p).map_err(|reason| PatternError {
                file: file.to_string(),
                line,
                pattern: p.clone(),
                reason,
            })? {
                patterns.push(pat);
            }
        }
        Ok(DockerIgnore { patterns })
    }

    /// Patterns given as a list (like moby's `NewPatternMatcher`).
    pub fn from_patterns<S: AsRef<str>>(patterns: &[S]) -> Result<DockerIgnore, PatternError> {
        let mut out = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let p = p.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            let p = clean(p);
            if let Some(pat) = compile(&p).map_err(|reason| PatternError {
                file: "patterns".into(),
                line: i + 1,
                pattern: p.clone(),
                reason,
            })? {
                out.push(pat);
            }
        }
        Ok(DockerIgnore { patterns: out })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// These patterns followed by `more` (which win where they match, as later lines do).
    pub fn extended<S: AsRef<str>>(&self, more: &[S]) -> Result<DockerIgnore, PatternError> {
        let mut out = self.clone();
        out.patterns
            .extend(DockerIgnore::from_patterns(more)?.patterns);
        Ok(out)
    }

    /// Whether any `!` pattern can bring back a path inside an excluded directory (so a walk
    /// must still look into excluded directories).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether the context path (relative, `/`-separated) is excluded: the last pattern that
    /// matches it or one of its parent directories decides.
    pub fn excluded(&self, path: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            // Only patterns that could change the answer are evaluated.
            if p.exclusion != matched {
                continue;
            }
            if p.matches_path_or_parent(path) {
                matched = !p.exclusion;
            }
        }
        matched
    }
}

/// Go's `filepath.Dir` for `/`-separated paths.
fn dir_of(path: &str) -> String {
    match path.rfind('/') {
        None => ".".into(),
        Some(i) => {
            let d = clean(&path[..=i]);
            if d.is_empty() {
                ".".into()
            } else {
                d
            }
        }
    }
}

/// Go's `filepath.Clean`.
fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Compiles one cleaned pattern the way moby's patternmatcher classifies and converts it.
fn compile(p: &str) -> Result<Option<Pattern>, String> {
    let (exclusion, body) = match p.strip_prefix('!') {
        Some("") => return Err("illegal exclusion pattern: \"!\"".into()),
        Some(rest) => (true, rest),
        None => (false, p),
    };
    let chars: Vec<char> = body.chars().collect();
    let mut tokens = Vec::new();
    let mut kind = MatchType::Exact;
    let mut i = 0;
    let mut idx = 0; // count of scanned tokens, as moby's loop counter
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if kind == MatchType::Exact {
                        kind = MatchType::Prefix;
                    } else {
                        kind = MatchType::Glob;
                    }
                    tokens.push(Tok::DoubleStarEnd);
                } else {
                    tokens.push(Tok::DoubleStarDir);
                    kind = MatchType::Glob;
                }
                if idx == 0 {
                    kind = MatchType::Suffix;
                }
            } else {
                tokens.push(Tok::Star);
                kind = MatchType::Glob;
            }
        } else if ch == '?' {
            tokens.push(Tok::Any);
            kind = MatchType::Glob;
        } else if ch == '\\' {
            match chars.get(i) {
                Some(&n) => {
                    i += 1;
                    tokens.push(Tok::Lit(n));
                    kind = MatchType::Glob;
                }
                None => return Err("syntax error in pattern: trailing '\\'".into()),
            }
        } else if ch == '[' {
            let (tok, next) = parse_class(&chars, i)?;
            tokens.push(tok);
            i = next;
            kind = MatchType::Glob;
        } else if ch == ']' {
            tokens.push(Tok::Lit(']'));
            kind = MatchType::Glob;
        } else {
            tokens.push(Tok::Lit(ch));
        }
        idx += 1;
    }
    Ok(Some(Pattern {
        exclusion,
        cleaned: body.to_string(),
        kind,
        tokens,
    }))
}

/// `[...]` after its `[`: returns the class and the index after its `]`.
fn parse_class(chars: &[char], mut i: usize) -> Result<(Tok, usize), String> {
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("syntax error in pattern: missing ']'".into());
        };
        if c == ']' && !first {
            return Ok((Tok::Class { negated, items }, i + 1));
        }
        first = false;
        let lo = if c == '\\' {
            i += 1;
            *chars
                .get(i)
                .ok_or("syntax error in pattern: trailing '\\'")?
        } else {
            c
        };
        i += 1;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            hi = chars[i + 1];
            i += 2;
            if hi < lo {
                return Err(format!("syntax error in pattern: bad range {lo}-{hi}"));
            }
        }
        items.push((lo, hi));
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match self.kind {
            MatchType::Exact => path == self.cleaned,
            MatchType::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            MatchType::Suffix => {
                let suffix = &self.cleaned[2..];
                if path.ends_with(suffix) {
                    return true;
                }
                suffix.starts_with('/') && path == &suffix[1..]
            }
            MatchType::Glob => {
                let p: Vec<char> = path.chars().collect();
                match_prefixes(&self.tokens, &p, &mut |end| end == p.len())
            }
        }
    }

    /// Whether the pattern matches `path` or one of its parent directories.
    fn matches_path_or_parent(&self, path: &str) -> bool {
        if self.kind == MatchType::Glob {
            // One pass: a match of the prefix before any '/' is a parent directory's match.
            let p: Vec<char> = path.chars().collect();
            return match_prefixes(&self.tokens, &p, &mut |end| end == p.len() || end > 0);
        }
        if self.matches(path) {
            return true;
        }
        let parent = dir_of(path);
        if parent == "." {
            return false;
        }
        let mut prefix = String::new();
        for (i, d) in parent.split('/').enumerate() {
            if i > 0 {
                prefix.push('/');
            }
            prefix.push_str(d);
            if self.matches(&prefix) {
                return true;
            }
        }
        false
    }
}

/// Matches `s` against the tokens by simulating the pattern as an automaton, one character
/// at a time: O(tokens × length) whatever the pattern (a backtracking matcher hung on
/// `****…` patterns under fuzzing). Calls `accept_at` for every prefix length at which the
/// pattern matches and stops when it returns true.
fn match_prefixes(t: &[Tok], s: &[char], accept_at: &mut dyn FnMut(usize) -> bool) -> bool {
    // State 2*i: at token i. State 2*i+1: inside the `(.*/)?` of a DoubleStarDir at token i,
    // waiting for a '/'.
    let n = t.len();
    let mut cur: Vec<usize> = Vec::new();
    let mut seen = vec![false; 2 * (n + 1)];
    fn add(t: &[Tok], st: usize, set: &mut Vec<usize>, seen: &mut [bool]) {
        if seen[st] {
            return;
        }
        seen[st] = true;
        set.push(st);
        let i = st / 2;
        if st.is_multiple_of(2)
            && i < t.len()
            && matches!(t[i], Tok::Star | Tok::DoubleStarDir | Tok::DoubleStarEnd)
        {
            add(t, 2 * (i + 1), set, seen); // these may match nothing
        }
    }
    add(t, 0, &mut cur, &mut seen);
    let accepting = |set: &Vec<usize>| set.contains(&(2 * n));
    for (pos, &c) in s.iter().enumerate() {
        if c == '/' && accepting(&cur) && accept_at(pos) {
            return true;
        }
        let mut next = Vec::new();
        seen.iter_mut().for_each(|x| *x = false);
        for &st in &cur {
            let i = st / 2;
            if st % 2 == 1 {
                add(t, st, &mut next, &mut seen);
                if c == '/' {
                    add(t, 2 * (i + 1), &mut next, &mut seen);
                }
                continue;
            }
            if i == n {
                continue;
            }
            match &t[i] {
                Tok::Lit(x) if *x == c => add(t, 2 * (i + 1), &mut next, &mut seen),
                Tok::Any if c != '/' => add(t, 2 * (i + 1), &mut next, &mut seen),
                Tok::Class { negated, items }
                    if c != '/'
                        && (items.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated) =>
                {
                    add(t, 2 * (i + 1), &mut next, &mut seen)
                }
                Tok::Star if c != '/' => add(t, st, &mut next, &mut seen),
                Tok::DoubleStarEnd => add(t, st, &mut next, &mut seen),
                Tok::DoubleStarDir => {
                    add(t, st + 1, &mut next, &mut seen);
                    if c == '/' {
                        add(t, 2 * (i + 1), &mut next, &mut seen);
                    }
                }
                _ => {}
            }
        }
        cur = next;
        if cur.is_empty() {
            return false;
        }
    }
    accepting(&cur) && accept_at(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_syntax() {
        let di = DockerIgnore::parse(
            "# comment\n/node_modules\n./build\n*.log\n!keep.log\n\n  docs/**  \n",
            ".dockerignore",
        )
        .unwrap();
        assert!(di.excluded("node_modules/x/y.js"));
        assert!(di.excluded("build"));
        assert!(di.excluded("a.log"));
        assert!(!di.excluded("keep.log"));
        assert!(!di.excluded("sub/a.log"), "* does not cross /");
        assert!(di.excluded("docs/a/b.md"));
        assert!(!di.excluded("src/main.rs"));
        let e = DockerIgnore::parse("ok\n[z-a]\n", ".dockerignore").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(DockerIgnore::parse("!\n", "x").is_err());
    }

    #[test]
    fn per_dockerfile_ignore_file_first() {
        assert_eq!(
            ignore_file_candidates("Dockerfile"),
            vec!["Dockerfile.dockerignore", ".dockerignore"]
        );
        assert_eq!(
            ignore_file_candidates("build/app.Dockerfile"),
            vec!["build/app.Dockerfile.dockerignore", ".dockerignore"]
        );
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;

    /// Found by fuzzing: many `*`/`?` against a long path took minutes with backtracking.
    #[test]
    fn star_heavy_patterns_stay_linear() {
        let pattern = "*?".repeat(2000) + "x";
        let path = "a".repeat(3000) + "/" + &"b/".repeat(1000);
        let di = DockerIgnore::from_patterns(&[pattern.as_str(), "**/a*/**/c?", "!a*"]).unwrap();
        assert!(!di.excluded(&path));
        let di = DockerIgnore::from_patterns(&["**/b"]).unwrap();
        assert!(di.excluded(&path), "a parent directory named b matches");
    }
}
