//! The parser: tokens into a tree of text, actions and control structures.

use std::collections::BTreeMap;

use crate::lex::{Tok, Token};
use crate::Error;

pub(crate) type List = Vec<Node>;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        name: String,
        pipe: Option<Pipe>,
        line: usize,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub decl: Vec<String>,
    /// `=` (assign to existing variables) rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Cmd>,
    pub line: usize,
    /// The pipeline as written, for error messages.
    pub text: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `.A.B`.
    Field(Vec<String>),
    /// `$x.A.B` (`$` alone: name empty).
    Var(String, Vec<String>),
    Func(String),
    /// `(pipeline).A.B`.
    Pipe(Box<Pipe>, Vec<String>),
}

fn err(line: usize, msg: impl std::fmt::Display) -> Error {
    Error(format!("template: :{line}: {msg}"))
}

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    defines: BTreeMap<String, List>,
    /// How many `range`s enclose the current position (for break/continue).
    in_range: usize,
    /// Declared variables, for "undefined variable" at parse time, as Go.
    vars: Vec<String>,
}

/// What ended a list.
enum Stop {
    Eof,
    End,
    /// `{{else}}` or `{{else if …}}` / `{{else with …}}` (the keyword after `else`).
    Else(Option<String>),
}

pub(crate) fn parse(toks: &[Token]) -> Result<(List, BTreeMap<String, List>), Error> {
    let mut p = Parser {
        toks,
        pos: 0,
        defines: BTreeMap::new(),
        in_range: 0,
        vars: vec![String::new()],
    };
    let (list, end) = p.list()?;
    match end {
        Stop::Eof => Ok((list, p.defines)),
        Stop::End => Err(err(p.line(), "unexpected {{end}}")),
        Stop::Else(_) => Err(err(p.line(), "unexpected {{else}}")),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }

    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .map_or(1, |t| t.line)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect_close(&mut self, ctx: &str) -> Result<(), Error> {
        match self.next() {
            Some(Token {
                tok: Tok::Close, ..
            }) => Ok(()),
            Some(t) => Err(err(t.line, format!("unexpected {:?} in {ctx}", t.tok))),
            None => Err(err(self.line(), format!("unclosed action in {ctx}"))),
        }
    }

    /// Nodes up to `{{end}}`, `{{else}}` or the end of the input.
    fn list(&mut self) -> Result<(List, Stop), Error> {
        let mut list = Vec::new();
        while let Some(t) = self.next() {
            match t.tok {
                Tok::Text(s) => list.push(Node::Text(s)),
                Tok::Open => {
                    let line = t.line;
                    let kw = match self.peek() {
                        Some(Tok::Ident(k)) => Some(k.clone()),
                        _ => None,
                    };
                    match kw.as_deref() {
                        Some("end") => {
                            self.pos += 1;
                            self.expect_close("end")?;
                            return Ok((list, Stop::End));
                        }
                        Some("else") => {
                            self.pos += 1;
                            let then = match self.peek() {
                                Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                                    let k = k.clone();
                                    self.pos += 1;
                                    Some(k)
                                }
                                _ => {
                                    self.expect_close("else")?;
                                    None
                                }
                            };
                            return Ok((list, Stop::Else(then)));
                        }
                        Some("if") | Some("range") | Some("with") => {
                            self.pos += 1;
                            let k = kw.unwrap_or_default();
                            list.push(self.control(&k, line)?);
                        }
                        Some("define") => {
                            self.pos += 1;
                            self.define(line)?;
                        }
                        Some("template") => {
                            self.pos += 1;
                            list.push(self.template(line)?);
                        }
                        Some("block") => {
                            self.pos += 1;
                            let node = self.template(line)?;
                            let (body, end) = self.list()?;
                            if !matches!(end, Stop::End) {
                                return Err(err(line, "unexpected end in block"));
                            }
                            if let Node::Template { name, .. } = &node {
                                self.defines.insert(name.clone(), body);
                            }
                            list.push(node);
                        }
                        Some("break") | Some("continue") => {
                            self.pos += 1;
                            let k = kw.unwrap_or_default();
                            if self.in_range == 0 {
                                return Err(err(
                                    line,
                                    format!("{{{{{k}}}}} outside {{{{range}}}}"),
                                ));
                            }
                            self.expect_close(&k)?;
                            list.push(if k == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        _ => {
                            let pipe = self.pipeline("command", true)?;
                            self.expect_close("command")?;
                            if pipe.cmds.is_empty() && pipe.decl.is_empty() {
                                return Err(err(line, "missing value for command"));
                            }
                            list.push(Node::Action(pipe));
                        }
                    }
                }
                other => return Err(err(t.line, format!("unexpected {other:?}"))),
            }
        }
        Ok((list, Stop::Eof))
    }

    /// `if`, `range` or `with` after its keyword, to its `{{end}}`.
    fn control(&mut self, kw: &str, line: usize) -> Result<Node, Error> {
        let mark = self.vars.len();
        let pipe = self.pipeline(kw, true)?;
        self.expect_close(kw)?;
        if pipe.cmds.is_empty() {
            return Err(err(line, format!("missing value for {kw}")));
        }
        if kw == "range" {
            self.in_range += 1;
        }
        let (list, end) = self.list()?;
        if kw == "range" {
            self.in_range -= 1;
        }
        let else_list = match end {
            Stop::Eof => return Err(err(line, format!("unexpected EOF in {kw}"))),
            Stop::End => None,
            Stop::Else(None) => {
                let (l, end) = self.list()?;
                if !matches!(end, Stop::End) {
                    return Err(err(line, format!("expected end; found else in {kw}")));
                }
                Some(l)
            }
            // `{{else if …}}` is an `if` inside the else, sharing its `{{end}}`.
            Stop::Else(Some(k)) => {
                if (k == "if" && kw != "if") || (k == "with" && kw != "with") {
                    return Err(err(line, format!("unexpected else {k} in {kw}")));
                }
                Some(vec![self.control(&k, line)?])
            }
        };
        self.vars.truncate(mark);
        let b = Branch {
            pipe,
            list,
            else_list,
        };
        Ok(match kw {
            "if" => Node::If(b),
            "range" => Node::Range(b),
            _ => Node::With(b),
        })
    }

    fn define(&mut self, line: usize) -> Result<(), Error> {
        let name = match self.next().map(|t| t.tok) {
            Some(Tok::Str(s)) => s,
            _ => return Err(err(line, "define: expected a template name")),
        };
        self.expect_close("define")?;
        let saved = std::mem::replace(&mut self.vars, vec![String::new()]);
        let (body, end) = self.list()?;
        self.vars = saved;
        if !matches!(end, Stop::End) {
            return Err(err(line, "unexpected EOF in define"));
        }
        self.defines.insert(name, body);
        Ok(())
    }

    /// `template "name" [pipeline]` after its keyword, to its `}}`.
    fn template(&mut self, line: usize) -> Result<Node, Error> {
        let name = match self.next().map(|t| t.tok) {
            Some(Tok::Str(s)) => s,
            _ => return Err(err(line, "template: expected a template name")),
        };
        let pipe = if matches!(self.peek(), Some(Tok::Close)) {
            None
        } else {
            Some(self.pipeline("template", false)?)
        };
        self.expect_close("template")?;
        Ok(Node::Template { name, pipe, line })
    }

    /// A pipeline, up to (not including) `}}` or `)`.
    fn pipeline(&mut self, ctx: &str, allow_decl: bool) -> Result<Pipe, Error> {
        let line = self.line();
        let start = self.pos;
        let mut decl = Vec::new();
        let mut assign = false;
        if allow_decl {
            // `$x :=`, `$x =`, `$i, $e :=`.
            let mut n = 0;
            let mut names = Vec::new();
            while let Some(Tok::Var(v)) = self.peek_at(n) {
                names.push(v.clone());
                match self.peek_at(n + 1) {
                    Some(Tok::Comma) => n += 2,
                    Some(Tok::Declare) | Some(Tok::Assign) => {
                        assign = matches!(self.peek_at(n + 1), Some(Tok::Assign));
                        n += 2;
                        decl = names.clone();
                        break;
                    }
                    _ => break,
                }
            }
            if !decl.is_empty() {
                if decl.len() > 2 || (decl.len() == 2 && ctx != "range") {
                    return Err(err(line, format!("too many declarations in {ctx}")));
                }
                self.pos += n;
                for v in &decl {
                    if assign {
                        if !self.vars.contains(v) {
                            return Err(err(line, format!("undefined variable \"${v}\"")));
                        }
                    } else {
                        self.vars.push(v.clone());
                    }
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            let cmd = self.command(ctx)?;
            if !cmd.args.is_empty() {
                cmds.push(cmd);
            }
            match self.peek() {
                Some(Tok::Pipe) => {
                    if cmds.is_empty() {
                        return Err(err(line, "missing command before |"));
                    }
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let text = self.toks[start..self.pos]
            .iter()
            .map(|t| tok_text(&t.tok))
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Pipe {
            decl,
            assign,
            cmds,
            line,
            text,
        })
    }

    fn command(&mut self, ctx: &str) -> Result<Cmd, Error> {
        let mut args = Vec::new();
        loop {
            match self.peek() {
                None => return Err(err(self.line(), format!("unclosed action in {ctx}"))),
                Some(Tok::Close) | Some(Tok::RParen) | Some(Tok::Pipe) => break,
                _ => {}
            }
            if !args.is_empty() && !self.toks[self.pos].spaced {
                let t = &self.toks[self.pos];
                return Err(err(
                    t.line,
                    format!("missing space before {:?}", tok_text(&t.tok)),
                ));
            }
            args.push(self.operand()?);
        }
        Ok(Cmd { args })
    }

    fn operand(&mut self) -> Result<Arg, Error> {
        let t = self
            .next()
            .ok_or_else(|| err(self.line(), "unexpected EOF"))?;
        let line = t.line;
        let term = match t.tok {
            Tok::Dot => Arg::Dot,
            Tok::Field(f) => Arg::Field(vec![f]),
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return Err(err(line, format!("undefined variable \"${v}\"")));
                }
                Arg::Var(v, Vec::new())
            }
            Tok::Str(s) => Arg::Str(s),
            Tok::Char(c) => Arg::Int(c as i64),
            Tok::Num(n) => {
                number(&n).ok_or_else(|| err(line, format!("bad number syntax: {n:?}")))?
            }
            Tok::Ident(i) => match i.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                _ if crate::funcs::is_func(&i) => Arg::Func(i),
                _ => return Err(err(line, format!("function {i:?} not defined"))),
            },
            Tok::LParen => {
                let p = self.pipeline("parenthesized pipeline", true)?;
                match self.next() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => {}
                    _ => return Err(err(line, "unclosed left paren")),
                }
                Arg::Pipe(Box::new(p), Vec::new())
            }
            other => {
                return Err(err(
                    line,
                    format!("unexpected {:?} in operand", tok_text(&other)),
                ))
            }
        };
        // A chain of fields right after the term: `.A.B`, `$x.A`, `(…).A`.
        let mut chain = Vec::new();
        while let Some(Token {
            tok: Tok::Field(f),
            spaced: false,
            ..
        }) = self.toks.get(self.pos)
        {
            chain.push(f.clone());
            self.pos += 1;
        }
        Ok(match term {
            Arg::Field(mut f) => {
                f.extend(chain);
                Arg::Field(f)
            }
            Arg::Var(v, _) => Arg::Var(v, chain),
            Arg::Pipe(p, _) => Arg::Pipe(p, chain),
            _ if !chain.is_empty() => {
                return Err(err(line, format!("unexpected . after term {:?}", chain[0])));
            }
            other => other,
        })
    }
}

fn number(s: &str) -> Option<Arg> {
    let clean = s.replace('_', "");
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        let v = i64::from_str_radix(h, 16).ok()?;
        return Some(Arg::Int(if neg { -v } else { v }));
    }
    if let Ok(v) = digits.parse::<i64>() {
        return Some(Arg::Int(if neg { -v } else { v }));
    }
    let v: f64 = digits.parse().ok()?;
    Some(Arg::Float(if neg { -v } else { v }))
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Text(s) => s.clone(),
        Tok::Open => "{{".into(),
        Tok::Close => "}}".into(),
        Tok::Ident(s) => s.clone(),
        Tok::Field(f) => format!(".{f}"),
        Tok::Dot => ".".into(),
        Tok::Var(v) => format!("${v}"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Num(n) => n.clone(),
        Tok::Char(c) => format!("{c:?}"),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::Pipe => "|".into(),
        Tok::Declare => ":=".into(),
        Tok::Assign => "=".into(),
        Tok::Comma => ",".into(),
    }
}
