//! Word expansion for ARG/ENV substitution, as BuildKit's shell lexer does it: quotes, the
//! escape token, `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}`,
//! `${VAR:?msg}`, `${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`,
//! `${VAR/pat/repl}`, `${VAR//pat/repl}`, positional and special parameters (always unset), and
//! word splitting of unquoted expansions.
//!
//! Works on chars with an index, never re-scanning: linear in the input.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {source_text:?}: {message}")]
pub struct ExpandError {
    pub source_text: String,
    pub message: String,
}

/// The lexer's settings.
#[derive(Debug, Clone, Copy)]
pub struct Lex {
    pub escape: char,
    /// Keep quote characters in the output (used to find heredoc markers).
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
}

impl Default for Lex {
    fn default() -> Self {
        Lex::new('\\')
    }
}

/// Variables for expansion.
pub trait Env {
    fn get(&self, name: &str) -> Option<&str>;
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

impl Env for &[(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        // Later definitions win, as with repeated ENV.
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Env for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Result of processing a word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processed {
    /// The expanded word, quotes removed.
    pub word: String,
    /// The same split into words on unquoted whitespace.
    pub words: Vec<String>,
    /// Variables referenced but not set (for checks such as an undefined ARG in FROM).
    pub unset: Vec<String>,
}

impl Lex {
    pub fn new(escape: char) -> Lex {
        Lex {
            escape,
            raw_quotes: false,
            raw_escapes: false,
        }
    }

    /// Expands `word` into one string (ENV values, WORKDIR, …).
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, ExpandError> {
        self.process(word, env).map(|p| p.word)
    }

    /// Expands and splits `word` into words (EXPOSE, VOLUME, …).
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ExpandError> {
        self.process(word, env).map(|p| p.words)
    }

    pub fn process(&self, word: &str, env: &dyn Env) -> Result<Processed, ExpandError> {
        let mut sw = ShellWord {
            chars: word.chars().collect(),
            pos: 0,
            lex: *self,
            raw_escapes: self.raw_escapes,
            env,
            unset: Vec::new(),
        };
        match sw.process_stop_on(None, self.raw_escapes) {
            Ok((w, words)) => Ok(Processed {
                word: w,
                words,
                unset: sw.unset,
            }),
            Err(message) => Err(ExpandError {
                source_text: word.to_string(),
                message,
            }),
        }
    }
}

struct ShellWord<'a> {
    chars: Vec<char>,
    pos: usize,
    lex: Lex,
    raw_escapes: bool,
    env: &'a dyn Env,
    unset: Vec<String>,
}

#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() && self.in_word {
            if !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else if !ch.is_whitespace() {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        for c in s.chars() {
            self.add_char(c);
        }
    }
    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

type R<T> = Result<T, String>;

impl ShellWord<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> R<(String, Vec<String>)> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> R<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                    words.add_string(&v);
                }
                '\'' => {
                    let v = self.process_single_quote()?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                '"' => {
                    let v = self.process_double_quote()?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                _ => {
                    self.next();
                    let mut ch = ch;
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break, // an escape at the very end is dropped
                            Some(c) => {
                                ch = c;
                                words.add_raw_char(ch);
                            }
                        }
                    } else {
                        words.add_char(ch);
                    }
                    result.push(ch);
                }
            }
        }
        if let Some(s) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {s}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> R<String> {
        let mut out = String::new();
        let q = self.next();
        if self.lex.raw_quotes {
            out.extend(q);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> R<String> {
        let mut out = String::new();
        let q = self.next();
        if self.lex.raw_quotes {
            out.extend(q);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    out.push_str(&v);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lex.escape => {
                                ch = c;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        let v = self.env.get(name).map(str::to_string);
        if v.is_none() && !self.unset.iter().any(|u| u == name) {
            self.unset.push(name.to_string());
        }
        v
    }

    fn process_dollar(&mut self) -> R<String> {
        self.next(); // '$'
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.next(); // '{'
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{') | Some('}') | Some(':') => {
                return Err("syntax error: bad substitution".into())
            }
            _ => {}
        }
        let name = self.process_name();
        let first = self.next();
        match first {
            Some('}') => Ok(self.lookup(&name).unwrap_or_default()),
            Some(':') | Some('+') | Some('-') | Some('?') | Some('#') | Some('%') => {
                let mut null_is_unset = false;
                let mut ch = first;
                let mut shown = first.map(String::from).unwrap_or_default();
                if first == Some(':') {
                    null_is_unset = true;
                    ch = self.next();
                    shown.extend(ch);
                }
                let raw = matches!(ch, Some('#') | Some('%'));
                let word = match self.process_stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".into());
                        }
                        return Err(e);
                    }
                };
                let value = self.lookup(&name);
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let empty_or_unset = !set || (null_is_unset && value.is_empty());
                match ch {
                    Some('-') => Ok(if empty_or_unset { word } else { value }),
                    Some('+') => Ok(if empty_or_unset { String::new() } else { word }),
                    Some('?') => {
                        if !set {
                            let m = if word.is_empty() {
                                "is not allowed to be unset".to_string()
                            } else {
                                word
                            };
                            Err(format!("{name}: {m}"))
                        } else if null_is_unset && value.is_empty() {
                            let m = if word.is_empty() {
                                "is not allowed to be empty".to_string()
                            } else {
                                word
                            };
                            Err(format!("{name}: {m}"))
                        } else {
                            Ok(value)
                        }
                    }
                    Some(c @ ('#' | '%')) if !null_is_unset => {
                        let (greedy, pat) = match word.strip_prefix(c) {
                            Some(rest) => (true, rest.to_string()),
                            None => (false, word),
                        };
                        let pattern = Pattern::parse(&pat)?;
                        Ok(if c == '#' {
                            pattern.trim_prefix(&value, greedy)
                        } else {
                            pattern.trim_suffix(&value, greedy)
                        })
                    }
                    _ => Err(format!("unsupported modifier ({shown}) in substitution")),
                }
            }
            Some('/') => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let pat = match self.process_stop_on(Some('/'), true) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '/' in ${}".into());
                        }
                        return Err(e);
                    }
                };
                let repl = match self.process_stop_on(Some('}'), true) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".into());
                        }
                        return Err(e);
                    }
                };
                let value = self.lookup(&name).unwrap_or_default();
                let pattern = Pattern::parse(&pat)?;
                Ok(pattern.replace(&value, &repl, all))
            }
            other => Err(format!(
                "unsupported modifier ({}) in substitution",
                other.map(String::from).unwrap_or_default()
            )),
        }
    }

    /// A variable name: letters, digits and `_`; or all-digit positional parameters; or one
    /// special parameter character.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }
}

/// A shell pattern (`*`, `?`, `\` escapes, no bracket expressions), as BuildKit supports in
/// `${VAR#pat}` and friends.
#[derive(Debug)]
struct Pattern {
    tokens: Vec<Tok>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Lit(char),
    Any,
    Star,
}

impl Pattern {
    fn parse(p: &str) -> R<Pattern> {
        let mut tokens = Vec::new();
        let mut it = p.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '*' => tokens.push(Tok::Star),
                '?' => tokens.push(Tok::Any),
                '\\' => match it.peek().copied() {
                    Some('}') | Some('/') => {}
                    Some(n @ ('*' | '?' | '\\')) => {
                        it.next();
                        tokens.push(Tok::Lit(n));
                    }
                    Some(n) => {
                        return Err(format!(
                            "invalid pattern ({p}) in substitution: invalid escape '\\{n}'"
                        ))
                    }
                    None => {
                        return Err(format!(
                            "invalid pattern ({p}) in substitution: trailing backslash"
                        ))
                    }
                },
                c => tokens.push(Tok::Lit(c)),
            }
        }
        Ok(Pattern { tokens })
    }

    /// Whether the whole of `s` matches.
    fn matches(&self, s: &[char]) -> bool {
        // Iterative glob matching with single-star backtracking: O(len(s) * len(tokens)).
        let t = &self.tokens;
        let (mut ti, mut si) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            if ti < t.len() && (t[ti] == Tok::Any || t[ti] == Tok::Lit(s[si])) {
                ti += 1;
                si += 1;
            } else if ti < t.len() && t[ti] == Tok::Star {
                star = Some((ti, si));
                ti += 1;
            } else if let Some((st, ss)) = star {
                ti = st + 1;
                si = ss + 1;
                star = Some((st, ss + 1));
            } else {
                return false;
            }
        }
        while ti < t.len() && t[ti] == Tok::Star {
            ti += 1;
        }
        ti == t.len()
    }

    fn trim_prefix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut ends: Box<dyn Iterator<Item = usize>> = if greedy {
            Box::new((0..=chars.len()).rev())
        } else {
            Box::new(0..=chars.len())
        };
        match ends.find(|&e| self.matches(&chars[..e])) {
            Some(e) => chars[e..].iter().collect(),
            None => value.to_string(),
        }
    }

    fn trim_suffix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut starts: Box<dyn Iterator<Item = usize>> = if greedy {
            Box::new(0..=chars.len())
        } else {
            Box::new((0..=chars.len()).rev())
        };
        match starts.find(|&s| self.matches(&chars[s..])) {
            Some(s) => chars[..s].iter().collect(),
            None => value.to_string(),
        }
    }

    /// Replaces the first (or every) leftmost-longest match.
    fn replace(&self, value: &str, repl: &str, all: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        let mut replaced = false;
        while i <= chars.len() {
            if replaced && !all {
                break;
            }
            let hit = (i..=chars.len())
                .rev()
                .find(|&e| self.matches(&chars[i..e]));
            match hit {
                Some(e) if e > i || !self.tokens.is_empty() => {
                    out.push_str(repl);
                    replaced = true;
                    if e == i {
                        if i < chars.len() {
                            out.push(chars[i]);
                        }
                        i += 1;
                    } else {
                        i = e;
                    }
                }
                _ => {
                    if i < chars.len() {
                        out.push(chars[i]);
                    }
                    i += 1;
                }
            }
        }
        if i < chars.len() {
            out.extend(&chars[i..]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin".into()),
            ("EMPTY".into(), String::new()),
            ("FILE".into(), "archive.tar.gz".into()),
        ]
    }

    fn w(s: &str) -> String {
        Lex::default().process_word(s, &env()).unwrap()
    }

    #[test]
    fn pattern_modifiers() {
        assert_eq!(w("${FILE#*.}"), "tar.gz");
        assert_eq!(w("${FILE##*.}"), "gz");
        assert_eq!(w("${FILE%.*}"), "archive.tar");
        assert_eq!(w("${FILE%%.*}"), "archive");
        assert_eq!(w("${PATH/bin/sbin}"), "/usr/local/sbin:/usr/bin");
        assert_eq!(w("${PATH//bin/sbin}"), "/usr/local/sbin:/usr/sbin");
        assert_eq!(
            w("${FILE/#arch/ARCH}"),
            "archive.tar.gz",
            "no anchors in BuildKit patterns"
        );
        assert_eq!(w("${FILE-x}${EMPTY-y}${NOPE-z}"), "archive.tar.gzz");
        assert_eq!(w("${EMPTY:-y}${EMPTY+p}${NOPE+q}"), "yp");
    }

    #[test]
    fn errors_and_unset_tracking() {
        let e = Lex::default()
            .process_word("${NOPE:?must be set}", &env())
            .unwrap_err();
        assert_eq!(e.message, "NOPE: must be set");
        let p = Lex::default().process("$A ${B:-x} $PATH", &env()).unwrap();
        assert_eq!(p.unset, vec!["A", "B"]);
    }

    #[test]
    fn backtick_escape() {
        let lex = Lex::new('`');
        assert_eq!(
            lex.process_word("C:\\path`$X", &env()).unwrap(),
            "C:\\path$X"
        );
    }
}
