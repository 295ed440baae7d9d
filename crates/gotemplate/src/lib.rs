//! Go's `text/template`, as `docker … --format` takes it, over JSON values: actions,
//! pipelines, parentheses, variables (`$x := …`, `$x = …`), `if`/`else if`/`else`,
//! `range` (lists, maps in key order, integers; `break`, `continue`), `with`, `define`,
//! `template` and `block`, comments, whitespace trimming (`{{-`, `-}}`), Go's functions
//! (and, or, not, len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html,
//! js, urlquery) and Docker's (json, join, split, lower, upper, title, truncate, pad).
//! Values print as Go's fmt prints them (`[a b]`, `map[k:v]`, `<nil>`, `<no value>`).
//!
//! Written here rather than taken from the `gtmpl` crate, which was evaluated first: it
//! ranges over maps in hash order (Go sorts the keys), fails on a missing map key (Go prints
//! `<no value>`), lacks `slice` and has had no release since 2021; Docker users' scripts
//! depend on Go's exact behaviour.

mod exec;
mod funcs;
mod lex;
mod parse;
mod print;

pub use exec::MissingKey;
pub use print::{go_float, go_print};

/// A parse or execution error, in Go's words (`template: :1: function "x" not defined`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    root: parse::List,
    defines: std::collections::BTreeMap<String, parse::List>,
    missing_key: MissingKey,
}

impl Template {
    /// Parses `text` as Go's text/template does.
    pub fn parse(text: &str) -> Result<Template, Error> {
        let tokens = lex::lex(text)?;
        let (root, defines) = parse::parse(&tokens)?;
        Ok(Template {
            root,
            defines,
            missing_key: MissingKey::Error,
        })
    }

    /// What a field missing from an object gives: an error (Go's structs: the default) or
    /// `<no value>` (Go's maps: what `docker inspect` ranges over).
    pub fn missing_key(mut self, m: MissingKey) -> Template {
        self.missing_key = m;
        self
    }

    /// Executes the template with `data` as dot.
    pub fn execute(&self, data: &serde_json::Value) -> Result<String, Error> {
        exec::execute(self, data)
    }
}
