//! The Dockerfile parser: lines → instructions, with BuildKit's rules for directives,
//! continuation lines (also across comments and blank lines), flags, exec vs shell form,
//! ENV/LABEL forms and heredocs. Each instruction keeps its line range.
//!
//! Linear in the input: lines are visited once and joined into one growing buffer.

use crate::ast::{Directives, Dockerfile, Heredoc, Instruction, Warning};
use crate::shell::Lex;

/// A syntax error with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl berth_error_kind::HasKind for ParseError {
    /// A Dockerfile that does not parse is always the request's fault.
    fn kind(&self) -> berth_error_kind::ErrorKind {
        berth_error_kind::ErrorKind::InvalidArgument
    }
}

/// Parses Dockerfile text.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    Parser::new(text).run()
}

struct Parser<'a> {
    lines: Vec<&'a str>,
    escape: char,
    directives_done: bool,
    directives: Directives,
    seen: Vec<String>,
}

/// Go's `[\t\v\f\r ]`, BuildKit's separator between words of an instruction.
fn is_token_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ')
}

/// Go's `\s` in regular expressions.
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{0c}' | '\r' | ' ')
}

fn is_comment(raw: &str) -> bool {
    raw.trim_start().starts_with('#')
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        column: 1,
        message: message.into(),
    }
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        if text.ends_with('\n') || text.is_empty() {
            lines.pop();
        }
        Parser {
            lines,
            escape: '\\',
            directives_done: false,
            directives: Directives::default(),
            seen: Vec::new(),
        }
    }

    /// `# name=value` at the top of the file, before anything else.
    fn possible_directive(&mut self, line: &str, lineno: usize) -> Result<(), ParseError> {
        if self.directives_done {
            return Ok(());
        }
        let Some((key, value)) = match_directive(line) else {
            self.directives_done = true;
            return Ok(());
        };
        let key = key.to_ascii_lowercase();
        if !matches!(key.as_str(), "escape" | "syntax" | "check") {
            self.directives_done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(err(
                lineno,
                format!("only one {key} parser directive can be used"),
            ));
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "escape" => {
                if value != "`" && value != "\\" {
                    return Err(err(
                        lineno,
                        format!("invalid escape token '{value}' does not match ` or \\"),
                    ));
                }
                self.escape = value.chars().next().unwrap_or('\\');
                self.directives.escape = self.escape;
            }
            "syntax" => self.directives.syntax = Some(value.to_string()),
            _ => self.directives.check = Some(value.to_string()),
        }
        Ok(())
    }

    /// Left-trims (first lines only), checks for a directive, and drops a whole-line comment.
    fn process_line(
        &mut self,
        raw: &'a str,
        strip_left: bool,
        lineno: usize,
    ) -> Result<&'a str, ParseError> {
        let token = if strip_left { raw.trim_start() } else { raw };
        self.possible_directive(token, lineno)?;
        Ok(if token.starts_with('#') { "" } else { token })
    }

    /// Removes a trailing line-continuation escape; returns whether the instruction ends here.
    fn trim_continuation<'s>(&self, line: &'s str) -> (&'s str, bool) {
        let body = line.trim_end_matches([' ', '\t']);
        if let Some(before) = body.strip_suffix(self.escape) {
            // An escaped escape (`\\` at the end) is not a continuation.
            if !before.ends_with(self.escape) {
                return (before, false);
            }
        }
        (line, true)
    }

    fn run(mut self) -> Result<Dockerfile, ParseError> {
        let mut instructions = Vec::new();
        let mut warnings = Vec::new();
        let mut comments: Vec<String> = Vec::new();
        let mut i = 0;
        while i < self.lines.len() {
            let raw = self.lines[i];
            if is_comment(raw) {
                let c = raw.trim_start()[1..].trim();
                if c.is_empty() {
                    comments.clear();
                } else {
                    comments.push(c.to_string());
                }
            }
            let processed = self.process_line(raw, true, i + 1)?;
            i += 1;
            let start_line = i;
            let (first, mut end) = self.trim_continuation(processed);
            if end && first.is_empty() {
                continue;
            }
            let mut line = String::from(first);
            let mut empty_continuation = false;
            while !end && i < self.lines.len() {
                let raw = self.lines[i];
                let processed = self.process_line(raw, false, i + 1)?;
                i += 1;
                if is_comment(raw) {
                    continue;
                }
                if processed.trim_start().is_empty() {
                    empty_continuation = true;
                    continue;
                }
                let (cont, e) = self.trim_continuation(processed);
                line.push_str(cont);
                end = e;
            }
            if empty_continuation {
                warnings.push(Warning {
                    line: start_line,
                    message: format!("Empty continuation line found in: {line}"),
                });
            }
            let mut inst = new_instruction(&line, self.escape, start_line, i)?;
            inst.comments = std::mem::take(&mut comments);
            inst.start_line = start_line;
            if matches!(inst.keyword.as_str(), "run" | "copy" | "add") && line.contains("<<") {
                for mut doc in heredocs_from_line(&line, self.escape) {
                    let mut terminated = false;
                    while i < self.lines.len() {
                        let body_line = self.lines[i];
                        i += 1;
                        let candidate = if doc.chomp {
                            body_line.trim_start_matches('\t')
                        } else {
                            body_line
                        };
                        if candidate == doc.name {
                            terminated = true;
                            break;
                        }
                        doc.content.push_str(body_line);
                        doc.content.push('\n');
                    }
                    if !terminated {
                        return Err(err(
                            start_line,
                            format!(
                                "unterminated heredoc {:?}: no line with just {} follows",
                                doc.name, doc.name
                            ),
                        ));
                    }
                    inst.heredocs.push(doc);
                }
            }
            inst.end_line = i;
            instructions.push(inst);
        }
        if instructions.is_empty() {
            return Err(err(self.lines.len().max(1), "file with no instructions"));
        }
        Ok(Dockerfile {
            directives: self.directives,
            instructions,
            warnings,
        })
    }
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
fn match_directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_re_space);
    let key_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if key_len == 0 {
        return None;
    }
    let (key, rest) = rest.split_at(key_len);
    let rest = rest.trim_start_matches(is_re_space).strip_prefix('=')?;
    let value = rest.trim_matches(is_re_space);
    if value.is_empty() {
        return None;
    }
    Some((key, value))
}

/// One joined instruction line → an instruction.
fn new_instruction(
    line: &str,
    escape: char,
    start: usize,
    end: usize,
) -> Result<Instruction, ParseError> {
    let at = |m: String| ParseError {
        line: start,
        column: 1,
        message: m,
    };
    let trimmed = line.trim();
    let (word, rest) = match trimmed.find(is_token_ws) {
        Some(p) => (&trimmed[..p], trimmed[p..].trim_start_matches(is_token_ws)),
        None => (trimmed, ""),
    };
    let keyword = word.to_ascii_lowercase();
    let (args_text, flags) = extract_flags(rest);
    let args_text = args_text.trim();
    let mut inst = Instruction {
        keyword: keyword.clone(),
        keyword_as_written: word.to_string(),
        flags,
        args: Vec::new(),
        json: false,
        sub: None,
        heredocs: Vec::new(),
        original: line.to_string(),
        start_line: start,
        end_line: end,
        comments: Vec::new(),
    };
    match keyword.as_str() {
        "add" | "copy" | "volume" => {
            let (args, json) = maybe_json_to_list(args_text).map_err(at)?;
            inst.args = args;
            inst.json = json;
        }
        "arg" => inst.args = parse_words(args_text, escape),
        "cmd" | "entrypoint" | "run" | "shell" => {
            let (args, json) = maybe_json(args_text).map_err(at)?;
            inst.args = args;
            inst.json = json;
        }
        "env" | "label" => {
            inst.args = parse_name_val(args_text, &keyword.to_uppercase(), escape).map_err(at)?
        }
        "expose" | "from" => inst.args = split_ws(args_text),
        "healthcheck" => {
            let sep = args_text
                .find(char::is_whitespace)
                .unwrap_or(args_text.len());
            if sep > 0 {
                let (typ, cmd) = args_text.split_at(sep);
                let (rest, json) = maybe_json(cmd.trim_start()).map_err(at)?;
                inst.args.push(typ.to_string());
                inst.args.extend(rest);
                inst.json = json;
            }
        }
        "maintainer" | "stopsignal" | "user" | "workdir" if !args_text.is_empty() => {
            inst.args.push(args_text.to_string());
        }
        "onbuild" if !args_text.is_empty() => {
            inst.sub = Some(Box::new(new_instruction(args_text, escape, start, end)?));
        }
        _ => {} // unknown: kept so that checks can name it
    }
    Ok(inst)
}

/// Leading `--flag[=value]` words (quotes removed); stops at the first other word or `--`.
fn extract_flags(line: &str) -> (&str, Vec<String>) {
    // Most instructions have no flags: answer without allocating.
    let start = line.trim_start();
    if !start.starts_with("--") {
        return (start, Vec::new());
    }
    let b: Vec<char> = line.chars().collect();
    // Byte offsets of each char, to slice the remainder.
    let offsets: Vec<usize> = line
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(line.len()))
        .collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let mut phase = Phase::Spaces;
    let mut pos = 0;
    while pos <= b.len() {
        let ch = b.get(pos).copied();
        if phase == Phase::Spaces {
            let Some(c) = ch else { break };
            if c.is_whitespace() {
                pos += 1;
                continue;
            }
            if c != '-' || b.get(pos + 1) != Some(&'-') {
                return (&line[offsets[pos]..], words);
            }
            phase = Phase::Word;
        }
        let Some(c) = ch else {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        };
        match phase {
            Phase::Word => {
                if c.is_whitespace() {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (&line[offsets[pos]..], words);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                } else if c == '\'' || c == '"' {
                    phase = Phase::Quote(c);
                    blank_ok = true;
                } else if c == '\\' {
                    if pos + 1 < b.len() {
                        pos += 1;
                        word.push(b[pos]);
                    }
                } else {
                    word.push(c);
                }
            }
            Phase::Quote(q) => {
                if c == q {
                    phase = Phase::Word;
                } else if c == '\\' {
                    if pos + 1 < b.len() {
                        pos += 1;
                        word.push(b[pos]);
                    } else {
                        phase = Phase::Word;
                    }
                } else {
                    word.push(c);
                }
            }
            Phase::Spaces => {}
        }
        pos += 1;
    }
    ("", words)
}

const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// `Some(words)` for a JSON array of strings; `None` when the text is not JSON.
fn parse_json(rest: &str) -> Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    match serde_json::from_str::<serde_json::Value>(rest) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(NOT_STRING_ARRAY.to_string()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Ok(None),
    }
}

/// Exec form if the arguments are a JSON array, else one shell-form string.
fn maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    match parse_json(rest)? {
        Some(words) => Ok((words, true)),
        None => Ok((vec![rest.to_string()], false)),
    }
}

/// Exec form if JSON, else whitespace-separated words.
fn maybe_json_to_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    match parse_json(rest)? {
        Some(words) => Ok((words, true)),
        None => Ok((split_ws(rest), false)),
    }
}

fn split_ws(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split(is_token_ws)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Words separated by whitespace, quotes and escapes kept (word expansion removes them later).
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut pos = 0;
    while pos < chars.len() {
        let ch = chars[pos];
        if !in_word {
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            in_word = true;
        }
        match quote {
            None => {
                if ch.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                    in_word = false;
                    pos += 1;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    if pos + 1 == chars.len() {
                        pos += 1;
                        continue; // an escape at the very end is dropped
                    }
                    word.push(ch);
                    pos += 1;
                    word.push(chars[pos]);
                    pos += 1;
                    continue;
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    if pos + 1 == chars.len() {
                        quote = None;
                        pos += 1;
                        continue;
                    }
                    word.push(ch);
                    pos += 1;
                    word.push(chars[pos]);
                    pos += 1;
                    continue;
                }
                word.push(ch);
            }
        }
        pos += 1;
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// ENV and LABEL: `KEY value` (old form) or `k=v k2=v2`, as (key, value, separator) triples.
fn parse_name_val(rest: &str, instr: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let Some(p) = rest.find(is_token_ws) else {
            return Err(format!("{instr} must have two arguments"));
        };
        let value = rest[p..].trim_start_matches(is_token_ws);
        return Ok(vec![
            rest[..p].to_string(),
            value.to_string(),
            String::new(),
        ]);
    }
    let mut out = Vec::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                go_quote(&w)
            ));
        };
        out.extend([k.to_string(), v.to_string(), "=".to_string()]);
    }
    Ok(out)
}

/// Heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) in an instruction line.
fn heredocs_from_line(line: &str, escape: char) -> Vec<Heredoc> {
    let lex = Lex {
        escape,
        raw_quotes: true,
        raw_escapes: true,
    };
    let empty: Vec<(String, String)> = Vec::new();
    let words = match lex.process_words(line, &empty) {
        Ok(w) => w,
        Err(_) => return Vec::new(),
    };
    words
        .iter()
        .filter_map(|w| parse_heredoc(w, escape))
        .collect()
}

/// `^(\d*)<<(-?)([^<]*)$`
fn parse_heredoc(word: &str, escape: char) -> Option<Heredoc> {
    let digits = word.chars().take_while(char::is_ascii_digit).count();
    let rest = word[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let empty: Vec<(String, String)> = Vec::new();
    let name = Lex::new(escape).process_word(rest, &empty).ok()?;
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return None;
    }
    Some(Heredoc {
        name,
        content: String::new(),
        expand: !rest.contains(['\'', '"']),
        chomp,
        file_descriptor: if digits > 0 {
            word[..digits].parse().ok()
        } else {
            None
        },
    })
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() || c == '\u{feff}' => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// BuildKit's parse-tree dump of one instruction: `(run "echo hi")`, `(copy ["--from=a"] "x" "y")`.
pub fn dump(inst: &Instruction) -> String {
    let mut s = format!("({}", inst.keyword);
    if !inst.flags.is_empty() {
        s.push_str(" [");
        s.push_str(
            &inst
                .flags
                .iter()
                .map(|f| go_quote(f))
                .collect::<Vec<_>>()
                .join(" "),
        );
        s.push(']');
    }
    if let Some(sub) = &inst.sub {
        s.push(' ');
        s.push_str(&dump(sub));
    }
    for a in &inst.args {
        s.push(' ');
        s.push_str(&go_quote(a));
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredocs_are_read_with_their_lines() {
        let df = parse("FROM busybox\nRUN <<EOF cat >/x <<-'END'\necho $HOME\nEOF\n\tliteral $HOME\n\tEND\nCOPY <<EOF /app/conf\nkey=value\nEOF\nRUN true\n").unwrap();
        let run = &df.instructions[1];
        assert_eq!((run.start_line, run.end_line), (2, 6));
        assert_eq!(run.heredocs.len(), 2);
        assert_eq!(run.heredocs[0].name, "EOF");
        assert!(run.heredocs[0].expand);
        assert_eq!(run.heredocs[0].content, "echo $HOME\n");
        assert_eq!(run.heredocs[1].name, "END");
        assert!(!run.heredocs[1].expand && run.heredocs[1].chomp);
        assert_eq!(run.heredocs[1].body(), "literal $HOME\n");
        let copy = &df.instructions[2];
        assert_eq!(copy.heredocs[0].content, "key=value\n");
        assert_eq!(copy.args, vec!["<<EOF", "/app/conf"]);
        assert_eq!(df.instructions[3].start_line, 10);
        let e = parse("FROM a\nRUN <<EOF\nno end\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unterminated heredoc"));
    }

    #[test]
    fn flags_mounts_and_spans() {
        let df = parse("FROM --platform=linux/amd64 golang:1.22 AS build\n\nRUN --mount=type=cache,target=/root/.cache \\\n    --network=none go build ./...\n").unwrap();
        let from = &df.instructions[0];
        assert_eq!(from.flag("platform"), Some("linux/amd64"));
        assert_eq!(from.args, vec!["golang:1.22", "AS", "build"]);
        let run = &df.instructions[1];
        assert_eq!((run.start_line, run.end_line), (3, 4));
        assert_eq!(
            run.flag_values("mount"),
            vec!["type=cache,target=/root/.cache"]
        );
        assert_eq!(run.flag("network"), Some("none"));
        assert_eq!(run.args, vec!["go build ./..."]);
    }

    #[test]
    fn directives() {
        let df = parse("# syntax=docker/dockerfile:1\n# check=skip=all\n# escape=`\nFROM a\nRUN echo `\n  hi\n").unwrap();
        assert_eq!(df.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(df.directives.check.as_deref(), Some("skip=all"));
        assert_eq!(df.directives.escape, '`');
        assert_eq!(df.instructions[1].args, vec!["echo   hi"]);
        assert!(parse("# escape=x\nFROM a\n")
            .unwrap_err()
            .message
            .contains("invalid escape token"));
        assert!(parse("# escape=`\n# escape=\\\nFROM a\n")
            .unwrap_err()
            .message
            .contains("only one escape"));
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;

    /// 100,000 continuation lines (about 1 MB) in one instruction: joined correctly. With a
    /// quadratic join this would take minutes instead of milliseconds.
    #[test]
    fn long_continuations_join_linearly() {
        let mut s = String::from("FROM busybox\nRUN echo start");
        for i in 0..100_000 {
            s.push_str(&format!(" \\\n  a{i:05}"));
        }
        s.push('\n');
        let df = parse(&s).unwrap();
        let run = &df.instructions[1];
        assert_eq!((run.start_line, run.end_line), (2, 100_002));
        assert!(run.args[0].ends_with("   a99999"));
        assert_eq!(run.args[0].matches(" a").count(), 100_000);
    }
}
