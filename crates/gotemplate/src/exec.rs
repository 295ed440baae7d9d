//! Executing a parsed template over a JSON value, as Go's text/template executes one over
//! Go values.

use serde_json::Value;

use crate::parse::{Arg, Branch, Cmd, List, Node, Pipe};
use crate::print::go_print;
use crate::{Error, Template};

/// What a field missing from an object gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingKey {
    /// An error, as for a Go struct without that field (`docker ps --format`).
    Error,
    /// `<no value>`, as for a Go map without that key (`docker inspect --format`).
    NoValue,
}

/// The element type of a map, where the front end knows it (see `Template::typed_maps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    /// `map[string]string`: a missing key is `""`.
    String,
    /// A map of pointers (`map[string]*EndpointSettings`): a missing key is `<nil>`.
    Pointer,
}

/// A value during execution: a JSON value, or Go's "no value" (a missing map key).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    V(Value),
    Missing,
    /// A nil slice or map of Docker's types (see `mark_typed_nils`).
    Nil(crate::NilKind),
    /// A map (an object, or `null` for a nil one) whose element type is known.
    Map(Value, Elem),
}

impl Val {
    /// A value taken out of the data: a typed nil's mark becomes `Val::Nil`.
    pub(crate) fn of(v: Value) -> Val {
        match &v {
            Value::String(s) if s == crate::print::NIL_SLICE => Val::Nil(crate::NilKind::Slice),
            Value::String(s) if s == crate::print::NIL_MAP => Val::Nil(crate::NilKind::Map),
            _ => Val::V(v),
        }
    }

    pub(crate) fn json(&self) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Val::V(v) | Val::Map(v, _) => v,
            Val::Missing | Val::Nil(_) => &NULL,
        }
    }

    pub(crate) fn print(&self) -> String {
        match self {
            Val::V(v) => go_print(v),
            Val::Missing => "<no value>".into(),
            Val::Nil(crate::NilKind::Slice) => "[]".into(),
            Val::Nil(crate::NilKind::Map) | Val::Map(Value::Null, _) => "map[]".into(),
            Val::Map(v, _) => go_print(v),
        }
    }

    /// Whether this is a nil map (which has no keys).
    pub(crate) fn is_nil_map(&self) -> bool {
        matches!(
            self,
            Val::Nil(crate::NilKind::Map) | Val::Map(Value::Null, _)
        )
    }

    /// What a map gives for a key it lacks: its element type's zero value where that type
    /// is known, else Go's "no value".
    pub(crate) fn missing_element(&self) -> Val {
        match self {
            Val::Map(_, Elem::String) => Val::V(Value::String(String::new())),
            Val::Map(_, Elem::Pointer) => Val::V(Value::Null),
            _ => Val::Missing,
        }
    }
}

/// Go's truth: false, 0, nil, and empty strings, lists and maps are false.
pub(crate) fn truth(v: &Val) -> bool {
    match v.json() {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Why a list stopped early.
enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct State<'t> {
    tmpl: &'t Template,
    vars: Vec<(String, Val)>,
    out: String,
    depth: usize,
}

pub(crate) fn execute(t: &Template, data: &Value) -> Result<String, Error> {
    let mut s = State {
        tmpl: t,
        vars: vec![(String::new(), Val::V(data.clone()))],
        out: String::new(),
        depth: 0,
    };
    s.list(&t.root, &Val::V(data.clone()))?;
    Ok(s.out)
}

fn exec_err(p: &Pipe, msg: impl std::fmt::Display) -> Error {
    Error(format!(
        "template: :{}: executing \"\" at <{}>: {msg}",
        p.line, p.text
    ))
}

impl State<'_> {
    fn list(&mut self, list: &List, dot: &Val) -> Result<Flow, Error> {
        for n in list {
            match self.node(n, dot)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, n: &Node, dot: &Val) -> Result<Flow, Error> {
        match n {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                let v = self.pipe(p, dot)?;
                // A declaration prints nothing.
                if p.decl.is_empty() {
                    self.out.push_str(&v.print());
                }
            }
            Node::If(b) => return self.branch(b, dot, false),
            Node::With(b) => return self.branch(b, dot, true),
            Node::Range(b) => return self.range(b, dot),
            Node::Template { name, pipe, line } => {
                let body = self.tmpl.defines.get(name).ok_or_else(|| {
                    Error(format!("template: :{line}: no such template {name:?}"))
                })?;
                let new_dot = match pipe {
                    Some(p) => self.pipe(p, dot)?,
                    None => Val::V(Value::Null),
                };
                self.depth += 1;
                if self.depth > 1000 {
                    return Err(Error(format!(
                        "template: :{line}: exceeded maximum template depth (1000)"
                    )));
                }
                let saved =
                    std::mem::replace(&mut self.vars, vec![(String::new(), new_dot.clone())]);
                let r = self.list(body, &new_dot);
                self.vars = saved;
                self.depth -= 1;
                r?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn branch(&mut self, b: &Branch, dot: &Val, with: bool) -> Result<Flow, Error> {
        let mark = self.vars.len();
        let v = self.pipe(&b.pipe, dot)?;
        let r = if truth(&v) {
            let d = if with { v } else { dot.clone() };
            self.list(&b.list, &d)
        } else if let Some(e) = &b.else_list {
            self.list(e, dot)
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        r
    }

    fn range(&mut self, b: &Branch, dot: &Val) -> Result<Flow, Error> {
        let mark = self.vars.len();
        // The declared variables get each key and element, not the whole value.
        let undeclared = Pipe {
            decl: Vec::new(),
            ..b.pipe.clone()
        };
        let v = self.pipe(&undeclared, dot)?;
        let items: Vec<(Value, Value)> = match v.json() {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::from(i), e.clone()))
                .collect(),
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                keys.into_iter()
                    .map(|k| (Value::String(k.clone()), m[k.as_str()].clone()))
                    .collect()
            }
            Value::Number(n) if n.as_i64().is_some() => (0..n.as_i64().unwrap_or(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            Value::Null => Vec::new(),
            other => {
                return Err(exec_err(
                    &b.pipe,
                    format!("range can't iterate over {}", go_print(other)),
                ))
            }
        };
        if items.is_empty() {
            let r = match &b.else_list {
                Some(e) => self.list(e, dot),
                None => Ok(Flow::Normal),
            };
            self.vars.truncate(mark);
            return r.map(|_| Flow::Normal);
        }
        for (k, e) in items {
            let inner = self.vars.len();
            match b.pipe.decl.as_slice() {
                [one] => self.set_var(one, Val::of(e.clone()), b.pipe.assign),
                [key, elem] => {
                    self.set_var(key, Val::V(k), b.pipe.assign);
                    self.set_var(elem, Val::of(e.clone()), b.pipe.assign);
                }
                _ => {}
            }
            let flow = self.list(&b.list, &Val::of(e));
            self.vars.truncate(inner.max(mark));
            if let Flow::Break = flow? {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn set_var(&mut self, name: &str, v: Val, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
                return;
            }
        }
        self.vars.push((name.to_string(), v));
    }

    fn var(&self, name: &str, p: &Pipe) -> Result<Val, Error> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| exec_err(p, format!("undefined variable: ${name}")))
    }

    pub(crate) fn pipe(&mut self, p: &Pipe, dot: &Val) -> Result<Val, Error> {
        let mut last: Option<Val> = None;
        for c in &p.cmds {
            last = Some(self.cmd(c, dot, last, p)?);
        }
        let v = last.unwrap_or(Val::V(Value::Null));
        for name in &p.decl {
            self.set_var(name, v.clone(), p.assign);
        }
        Ok(v)
    }

    fn cmd(&mut self, c: &Cmd, dot: &Val, last: Option<Val>, p: &Pipe) -> Result<Val, Error> {
        let first = &c.args[0];
        if let Arg::Func(name) = first {
            return crate::funcs::call(self, name, &c.args[1..], last, dot, p);
        }
        if c.args.len() > 1 || last.is_some() {
            let what = match first {
                Arg::Field(f) => format!("can't give argument to non-function .{}", f.join(".")),
                _ => "can't give argument to non-function".to_string(),
            };
            return Err(exec_err(p, what));
        }
        self.arg(first, dot, p)
    }

    pub(crate) fn arg(&mut self, a: &Arg, dot: &Val, p: &Pipe) -> Result<Val, Error> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Nil => Val::V(Value::Null),
            Arg::Bool(b) => Val::V(Value::Bool(*b)),
            Arg::Int(i) => Val::V(Value::from(*i)),
            Arg::Float(f) => Val::V(
                serde_json::Number::from_f64(*f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            ),
            Arg::Str(s) => Val::V(Value::String(s.clone())),
            Arg::Field(chain) => self.fields(dot.clone(), chain, p)?,
            Arg::Var(name, chain) => {
                let v = self.var(name, p)?;
                self.fields(v, chain, p)?
            }
            Arg::Pipe(inner, chain) => {
                let v = self.pipe(inner, dot)?;
                self.fields(v, chain, p)?
            }
            Arg::Func(name) => {
                return crate::funcs::call(self, name, &[], None, dot, p);
            }
        })
    }

    /// `.A.B` from `v`.
    fn fields(&self, mut v: Val, chain: &[String], p: &Pipe) -> Result<Val, Error> {
        for name in chain {
            let holder = match v {
                Val::Map(Value::Null, _) => Val::Nil(crate::NilKind::Map),
                Val::Map(m, _) => Val::V(m),
                other => other,
            };
            v = match holder {
                Val::Missing => match self.tmpl.missing_key {
                    MissingKey::NoValue => Val::Missing,
                    MissingKey::Error => {
                        return Err(exec_err(p, format!("nil pointer evaluating .{name}")))
                    }
                },
                Val::V(Value::Object(m)) => {
                    // Go names a struct's field (`APIVersion`) where its JSON may spell it
                    // otherwise (`ApiVersion`): the exact key first, then one that differs
                    // only in case.
                    let found = m.get(name).or_else(|| {
                        m.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v)
                    });
                    match (found, self.tmpl.missing_key) {
                        (Some(x), _) => Val::of(x.clone()),
                        (None, MissingKey::NoValue) => Val::Missing,
                        (None, MissingKey::Error) => {
                            return Err(exec_err(p, format!("can't evaluate field {name}")))
                        }
                    }
                }
                // A key of a nil map is no value; a nil slice has no fields.
                Val::Nil(crate::NilKind::Map) => Val::Missing,
                Val::Nil(crate::NilKind::Slice) => {
                    return Err(exec_err(
                        p,
                        format!("can't evaluate field {name} in type []interface {{}}"),
                    ))
                }
                Val::V(Value::Null) => match self.tmpl.missing_key {
                    MissingKey::NoValue => Val::Missing,
                    MissingKey::Error => {
                        return Err(exec_err(
                            p,
                            format!("nil pointer evaluating interface {{}}.{name}"),
                        ))
                    }
                },
                Val::V(other) => {
                    return Err(exec_err(
                        p,
                        format!(
                            "can't evaluate field {name} in type {}",
                            crate::funcs::type_name(&other)
                        ),
                    ))
                }
                // Made plain above.
                Val::Map(..) => Val::Missing,
            };
            if let Some((_, elem)) = self.tmpl.typed_maps.iter().find(|(n, _)| n == name) {
                v = match v {
                    Val::V(m @ Value::Object(_)) => Val::Map(m, *elem),
                    Val::Nil(crate::NilKind::Map) => Val::Map(Value::Null, *elem),
                    other => other,
                };
            }
        }
        Ok(v)
    }
}

pub(crate) type Exec<'a, 't> = &'a mut State<'t>;
