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

pub use exec::{Elem, MissingKey};
pub use print::{go_float, go_print};

/// The Go type of a field whose JSON is `null`: Go prints a nil slice `[]` and a nil map
/// `map[]` (a nil pointer `<nil>`), and `json` gives `null` for all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NilKind {
    Slice,
    Map,
}

/// Marks the `null`s at `paths` (dot-separated field names; `*` for every key of a map) as
/// nil slices or maps, so templates print them as Go prints Docker's typed fields
/// (`{{.Config.Entrypoint}}` → `[]`) while `json` still gives `null`.
pub fn mark_typed_nils(value: &mut serde_json::Value, paths: &[(&str, NilKind)]) {
    mark(value, paths, false)
}

/// `mark_typed_nils`, and a field missing from an object that is there counts as `null` (the
/// field of a Go struct is always there, whatever its JSON omits).
pub fn insert_typed_nils(value: &mut serde_json::Value, paths: &[(&str, NilKind)]) {
    mark(value, paths, true)
}

fn mark(value: &mut serde_json::Value, paths: &[(&str, NilKind)], insert: bool) {
    fn walk(v: &mut serde_json::Value, parts: &[&str], kind: NilKind, insert: bool) {
        let Some((first, rest)) = parts.split_first() else {
            if v.is_null() {
                *v = serde_json::Value::String(
                    match kind {
                        NilKind::Slice => print::NIL_SLICE,
                        NilKind::Map => print::NIL_MAP,
                    }
                    .to_string(),
                );
            }
            return;
        };
        let serde_json::Value::Object(m) = v else {
            return;
        };
        if *first == "*" {
            for child in m.values_mut() {
                walk(child, rest, kind, insert);
            }
        } else if let Some(child) = m.get_mut(*first) {
            walk(child, rest, kind, insert);
        } else if insert && rest.is_empty() {
            let mut null = serde_json::Value::Null;
            walk(&mut null, rest, kind, insert);
            m.insert(first.to_string(), null);
        }
    }
    for (path, kind) in paths {
        let parts: Vec<&str> = path.split('.').collect();
        walk(value, &parts, *kind, insert);
    }
}

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
    typed_maps: &'static [(&'static str, Elem)],
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
            typed_maps: &[],
        })
    }

    /// What a field missing from an object gives: an error (Go's structs: the default) or
    /// `<no value>` (Go's maps: what `docker inspect` ranges over).
    pub fn missing_key(mut self, m: MissingKey) -> Template {
        self.missing_key = m;
        self
    }

    /// The element types of the maps held by fields of these names (Docker's `Labels` is a
    /// `map[string]string`): `index` of a key such a map lacks gives the type's zero value
    /// (`""`), as Go's does, where an untyped map gives `<no value>`.
    pub fn typed_maps(mut self, t: &'static [(&'static str, Elem)]) -> Template {
        self.typed_maps = t;
        self
    }

    /// Executes the template with `data` as dot.
    pub fn execute(&self, data: &serde_json::Value) -> Result<String, Error> {
        exec::execute(self, data)
    }
}
