//! The lexer: text and actions (`{{ … }}`), with Go's trim markers and comments.

use crate::Error;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    /// `{{` (the trim marker has been applied to the text before).
    Open,
    /// `}}`.
    Close,
    /// A word: a keyword, a function name, `true`, `false`, `nil`.
    Ident(String),
    /// `.Name`.
    Field(String),
    /// `.` alone.
    Dot,
    /// `$name`, or `$` alone (name empty).
    Var(String),
    Str(String),
    Num(String),
    /// A character constant (`'a'`), a number to Go.
    Char(char),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: usize,
    /// Whitespace came right before it (separates arguments; `.A.B` is one chain).
    pub spaced: bool,
}

fn err(line: usize, msg: impl std::fmt::Display) -> Error {
    Error(format!("template: :{line}: {msg}"))
}

/// Splits the template into tokens.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, Error> {
    let mut out: Vec<Token> = Vec::new();
    let mut rest = src;
    let mut line = 1;
    let mut trim_next_text = false;
    loop {
        let (text, found) = match rest.find("{{") {
            Some(i) => (&rest[..i], true),
            None => (rest, false),
        };
        let after_open = if found { &rest[text.len() + 2..] } else { "" };
        // `{{- ` trims the whitespace before it.
        let trim_before = found
            && after_open.starts_with('-')
            && after_open[1..].starts_with(|c: char| c.is_ascii_whitespace());
        let mut t = text;
        if trim_next_text {
            t = t.trim_start_matches(|c: char| c.is_ascii_whitespace());
        }
        if trim_before {
            t = t.trim_end_matches(|c: char| c.is_ascii_whitespace());
        }
        if !t.is_empty() {
            out.push(Token {
                tok: Tok::Text(t.to_string()),
                line,
                spaced: false,
            });
        }
        line += text.matches('\n').count();
        if !found {
            return Ok(out);
        }
        let mut body = if trim_before {
            &after_open[2..]
        } else {
            after_open
        };
        // A comment: `{{/* … */}}`, with optional trim markers around it.
        let lead = body.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if lead.starts_with("/*") && (lead.len() == body.len() || trim_before) {
            let end = lead
                .find("*/")
                .ok_or_else(|| err(line, "unclosed comment"))?;
            line += lead[..end].matches('\n').count();
            let after = &lead[end + 2..];
            let (close_trim, after) = if let Some(a) = after
                .strip_prefix(|c: char| c.is_ascii_whitespace())
                .and_then(|a| {
                    a.trim_start_matches(|c: char| c.is_ascii_whitespace())
                        .strip_prefix("-}}")
                }) {
                (true, a)
            } else if let Some(a) = after.strip_prefix("}}") {
                (false, a)
            } else {
                return Err(err(line, "comment ends before closing delimiter"));
            };
            trim_next_text = close_trim;
            rest = after;
            continue;
        }
        out.push(Token {
            tok: Tok::Open,
            line,
            spaced: false,
        });
        let (consumed, close_trim) = lex_action(body, &mut line, &mut out)?;
        body = &body[consumed..];
        trim_next_text = close_trim;
        rest = body;
    }
}

/// Lexes an action's inside up to and including its `}}`; returns the bytes consumed and
/// whether the action ended with ` -}}`.
fn lex_action(s: &str, line: &mut usize, out: &mut Vec<Token>) -> Result<(usize, bool), Error> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut spaced = false;
    let push = |out: &mut Vec<Token>, tok: Tok, line: usize, spaced: &mut bool| {
        out.push(Token {
            tok,
            line,
            spaced: *spaced,
        });
        *spaced = false;
    };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            // ` -}}`: the end, trimming what follows.
            let j = i + s[i..].len() - s[i..].trim_start().len();
            if s[j..].starts_with("-}}") {
                *line += s[i..j].matches('\n').count();
                out.push(Token {
                    tok: Tok::Close,
                    line: *line,
                    spaced: true,
                });
                return Ok((j + 3, true));
            }
            if c == b'\n' {
                *line += 1;
            }
            spaced = true;
            i += 1;
            continue;
        }
        if s[i..].starts_with("}}") {
            push(out, Tok::Close, *line, &mut spaced);
            return Ok((i + 2, false));
        }
        match c {
            b'(' => {
                push(out, Tok::LParen, *line, &mut spaced);
                i += 1;
            }
            b')' => {
                push(out, Tok::RParen, *line, &mut spaced);
                i += 1;
            }
            b'|' => {
                push(out, Tok::Pipe, *line, &mut spaced);
                i += 1;
            }
            b',' => {
                push(out, Tok::Comma, *line, &mut spaced);
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                push(out, Tok::Declare, *line, &mut spaced);
                i += 2;
            }
            b'=' => {
                push(out, Tok::Assign, *line, &mut spaced);
                i += 1;
            }
            b'"' => {
                let (v, n) = quoted(&s[i..]).map_err(|m| err(*line, m))?;
                push(out, Tok::Str(v), *line, &mut spaced);
                i += n;
            }
            b'`' => {
                let end = s[i + 1..]
                    .find('`')
                    .ok_or_else(|| err(*line, "unterminated raw quoted string"))?;
                let v = &s[i + 1..i + 1 + end];
                *line += v.matches('\n').count();
                push(out, Tok::Str(v.to_string()), *line, &mut spaced);
                i += end + 2;
            }
            b'\'' => {
                let (ch, n) = char_const(&s[i..]).map_err(|m| err(*line, m))?;
                push(out, Tok::Char(ch), *line, &mut spaced);
                i += n;
            }
            b'$' => {
                let n = word_len(&s[i + 1..]);
                push(
                    out,
                    Tok::Var(s[i + 1..i + 1 + n].to_string()),
                    *line,
                    &mut spaced,
                );
                i += 1 + n;
            }
            b'.' => {
                let next = b.get(i + 1).copied();
                if next.is_some_and(|d| d.is_ascii_digit()) {
                    let n = number_len(&s[i..]);
                    push(out, Tok::Num(s[i..i + n].to_string()), *line, &mut spaced);
                    i += n;
                } else {
                    let n = word_len(&s[i + 1..]);
                    let tok = if n == 0 {
                        Tok::Dot
                    } else {
                        Tok::Field(s[i + 1..i + 1 + n].to_string())
                    };
                    push(out, tok, *line, &mut spaced);
                    i += 1 + n;
                }
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let n = number_len(&s[i..]);
                if n == 0 {
                    return Err(err(*line, format!("bad character {:?}", c as char)));
                }
                push(out, Tok::Num(s[i..i + n].to_string()), *line, &mut spaced);
                i += n;
            }
            _ if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                let n = word_len(&s[i..]);
                push(out, Tok::Ident(s[i..i + n].to_string()), *line, &mut spaced);
                i += n;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(err(*line, format!("unexpected {ch:?} in command")));
            }
        }
    }
    Err(err(*line, "unclosed action"))
}

fn word_len(s: &str) -> usize {
    s.char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(s.len())
}

fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let start = i;
    if s[i..].starts_with("0x") || s[i..].starts_with("0X") {
        i += 2;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'_') {
            i += 1;
        }
        return i;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i > start && i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    if i == start {
        0
    } else {
        i
    }
}

/// A Go double-quoted string at the start of `s`: its value and length.
fn quoted(s: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\n' => break,
            '\\' => {
                let (_, e) = chars.next().ok_or("unterminated quoted string")?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        let v =
                            u32::from_str_radix(&hex, 16).map_err(|_| "bad escape in string")?;
                        out.push(char::from_u32(v).ok_or("bad escape in string")?);
                    }
                    _ => return Err(format!("unknown escape sequence \\{e}")),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

fn char_const(s: &str) -> Result<(char, usize), String> {
    let mut chars = s.char_indices().skip(1);
    let (_, c) = chars.next().ok_or("unterminated character constant")?;
    let c = if c == '\\' {
        let (_, e) = chars.next().ok_or("unterminated character constant")?;
        match e {
            'n' => '\n',
            't' => '\t',
            '\\' => '\\',
            '\'' => '\'',
            '0' => '\0',
            _ => return Err(format!("unknown escape sequence \\{e}")),
        }
    } else {
        c
    };
    match chars.next() {
        Some((i, '\'')) => Ok((c, i + 1)),
        _ => Err("unterminated character constant".into()),
    }
}
