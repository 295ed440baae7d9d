//! The functions a template may call: Go's built-ins and Docker's (`json`, `join`, `split`,
//! `lower`, `upper`, `title`, `truncate`, `pad`).

use serde_json::Value;

use crate::exec::{truth, Exec, Val};
use crate::parse::{Arg, Pipe};
use crate::print::{go_float, go_print};
use crate::Error;

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "js", "urlquery", "call", "json", "join", "split", "lower", "upper",
    "title", "truncate", "pad",
];

pub(crate) fn is_func(name: &str) -> bool {
    FUNCS.contains(&name)
}

/// Go's name of a value's type, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn fail(p: &Pipe, name: &str, msg: impl std::fmt::Display) -> Error {
    Error(format!(
        "template: :{}: executing \"\" at <{name}>: error calling {name}: {msg}",
        p.line
    ))
}

pub(crate) fn call(
    s: Exec,
    name: &str,
    args: &[Arg],
    last: Option<Val>,
    dot: &Val,
    p: &Pipe,
) -> Result<Val, Error> {
    // and/or stop at the first value that decides, as Go's do.
    if name == "and" || name == "or" {
        let total = args.len() + usize::from(last.is_some());
        if total == 0 {
            return Err(fail(p, name, "wrong number of args: want at least 1 got 0"));
        }
        let mut v = Val::V(Value::Null);
        for a in args {
            v = s.arg(a, dot, p)?;
            if truth(&v) != (name == "and") {
                return Ok(v);
            }
        }
        if let Some(l) = last {
            v = l;
        }
        return Ok(v);
    }
    let mut vals = Vec::with_capacity(args.len() + 1);
    for a in args {
        vals.push(s.arg(a, dot, p)?);
    }
    if let Some(l) = last {
        vals.push(l);
    }
    let want = |n: usize| -> Result<(), Error> {
        if vals.len() == n {
            Ok(())
        } else {
            Err(fail(
                p,
                name,
                format!(
                    "wrong number of args for {name}: want {n} got {}",
                    vals.len()
                ),
            ))
        }
    };
    let j = |v: &Val| v.json().clone();
    let string = |v: &Val| -> String { v.print() };
    let int = |v: &Val| -> Result<i64, Error> {
        match v.json() {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| fail(p, name, format!("non-integer {n}"))),
            other => Err(fail(
                p,
                name,
                format!("expected an integer; found {}", go_print(other)),
            )),
        }
    };
    Ok(Val::V(match name {
        "not" => {
            want(1)?;
            Value::Bool(!truth(&vals[0]))
        }
        "len" => {
            want(1)?;
            let n = match vals[0].json() {
                _ if matches!(vals[0], Val::Nil(_)) || vals[0].is_nil_map() => 0,
                Value::String(s) => s.len(),
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                other => return Err(fail(p, name, format!("len of type {}", type_name(other)))),
            };
            Value::from(n)
        }
        "index" => {
            let Some(first) = vals.first() else {
                return Err(fail(p, name, "wrong number of args: want at least 1 got 0"));
            };
            let mut cur = first.clone();
            for k in &vals[1..] {
                cur = match (cur.json(), k.json()) {
                    (Value::Object(m), Value::String(key)) => match m.get(key) {
                        Some(v) => Val::of(v.clone()),
                        None => cur.missing_element(),
                    },
                    (Value::Array(a), Value::Number(n)) => {
                        let i = n.as_i64().unwrap_or(-1);
                        match usize::try_from(i).ok().and_then(|i| a.get(i)) {
                            Some(x) => Val::of(x.clone()),
                            None => return Err(fail(p, name, format!("index out of range: {i}"))),
                        }
                    }
                    (Value::String(st), Value::Number(n)) => {
                        let i = n.as_i64().unwrap_or(-1);
                        match usize::try_from(i).ok().and_then(|i| st.as_bytes().get(i)) {
                            Some(b) => Val::V(Value::from(*b)),
                            None => return Err(fail(p, name, format!("index out of range: {i}"))),
                        }
                    }
                    // A nil map has no keys; a nil slice no elements.
                    (Value::Null, _) if cur.is_nil_map() => cur.missing_element(),
                    (Value::Null, _) if cur == Val::Nil(crate::NilKind::Slice) => {
                        return Err(fail(p, name, "index out of range: 0"));
                    }
                    (Value::Null, _) => {
                        return Err(fail(p, name, "index of untyped nil"));
                    }
                    (c, k) => {
                        return Err(fail(
                            p,
                            name,
                            format!("cannot index {} with {}", type_name(c), type_name(k)),
                        ))
                    }
                };
            }
            return Ok(cur);
        }
        "slice" => {
            let Some(first) = vals.first() else {
                return Err(fail(p, name, "wrong number of args: want at least 1 got 0"));
            };
            let idx = vals[1..].iter().map(int).collect::<Result<Vec<_>, _>>()?;
            if idx.len() > 3 {
                return Err(fail(
                    p,
                    name,
                    format!("too many slice indexes: {}", idx.len()),
                ));
            }
            let bounds = |len: usize| -> Result<(usize, usize), Error> {
                let lo = idx.first().copied().unwrap_or(0);
                let hi = idx.get(1).copied().unwrap_or(len as i64);
                if lo < 0 || hi < lo || hi as usize > len {
                    return Err(fail(p, name, format!("index out of range: [{lo}:{hi}]")));
                }
                Ok((lo as usize, hi as usize))
            };
            match first.json() {
                Value::String(st) => {
                    if idx.len() == 3 {
                        return Err(fail(p, name, "cannot 3-index slice a string"));
                    }
                    let (lo, hi) = bounds(st.len())?;
                    Value::String(String::from_utf8_lossy(&st.as_bytes()[lo..hi]).into_owned())
                }
                Value::Array(a) => {
                    let (lo, hi) = bounds(a.len())?;
                    Value::Array(a[lo..hi].to_vec())
                }
                other => {
                    return Err(fail(
                        p,
                        name,
                        format!("can't slice item of type {}", type_name(other)),
                    ))
                }
            }
        }
        "print" => Value::String(sprint(&vals)),
        "println" => Value::String(format!(
            "{}\n",
            vals.iter().map(Val::print).collect::<Vec<_>>().join(" ")
        )),
        "printf" => {
            let Some(f) = vals.first() else {
                return Err(fail(p, name, "wrong number of args: want at least 1 got 0"));
            };
            let Value::String(f) = f.json() else {
                return Err(fail(p, name, "format must be a string"));
            };
            Value::String(sprintf(f, &vals[1..]))
        }
        "eq" => {
            if vals.len() < 2 {
                return Err(fail(p, name, "missing argument for comparison"));
            }
            let first = &vals[0];
            let mut any = false;
            for other in &vals[1..] {
                if equal(first, other).map_err(|m| fail(p, name, m))? {
                    any = true;
                }
            }
            Value::Bool(any)
        }
        "ne" => {
            want(2)?;
            Value::Bool(!equal(&vals[0], &vals[1]).map_err(|m| fail(p, name, m))?)
        }
        "lt" | "le" | "gt" | "ge" => {
            want(2)?;
            let o = order(&vals[0], &vals[1]).map_err(|m| fail(p, name, m))?;
            Value::Bool(match name {
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        "html" => Value::String(html_escape(&sprint(&vals))),
        "js" => Value::String(js_escape(&sprint(&vals))),
        "urlquery" => Value::String(url_escape(&sprint(&vals))),
        "call" => return Err(fail(p, name, "berth's templates have no functions to call")),
        // Docker's functions.
        "json" => {
            want(1)?;
            // Docker's json turns HTML escaping off: `>` stays `>`.
            let v = match &vals[0] {
                Val::Missing | Val::Nil(_) | Val::Map(Value::Null, _) => Value::Null,
                v => crate::print::without_typed_nils(j(v)),
            };
            Value::String(serde_json::to_string(&v).unwrap_or_default())
        }
        "join" => {
            want(2)?;
            let sep = string(&vals[1]);
            match vals[0].json() {
                Value::Array(a) => {
                    Value::String(a.iter().map(go_print).collect::<Vec<_>>().join(&sep))
                }
                Value::Null => Value::String(String::new()),
                other => {
                    return Err(fail(
                        p,
                        name,
                        format!("expected a list, got {}", type_name(other)),
                    ))
                }
            }
        }
        "split" => {
            want(2)?;
            let (st, sep) = (string(&vals[0]), string(&vals[1]));
            let parts: Vec<Value> = if sep.is_empty() {
                st.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                st.split(sep.as_str())
                    .map(|x| Value::String(x.to_string()))
                    .collect()
            };
            Value::Array(parts)
        }
        "lower" => {
            want(1)?;
            Value::String(string(&vals[0]).to_lowercase())
        }
        "upper" => {
            want(1)?;
            Value::String(string(&vals[0]).to_uppercase())
        }
        "title" => {
            want(1)?;
            Value::String(title(&string(&vals[0])))
        }
        "truncate" => {
            want(2)?;
            let n = int(&vals[1])?.max(0) as usize;
            Value::String(string(&vals[0]).chars().take(n).collect())
        }
        "pad" => {
            want(3)?;
            let (before, after) = (
                int(&vals[1])?.max(0) as usize,
                int(&vals[2])?.max(0) as usize,
            );
            Value::String(format!(
                "{}{}{}",
                " ".repeat(before),
                string(&vals[0]),
                " ".repeat(after)
            ))
        }
        other => return Err(fail(p, other, format!("function {other:?} not defined"))),
    }))
}

/// Go's `fmt.Sprint`: a space between two operands when neither is a string.
fn sprint(vals: &[Val]) -> String {
    let mut out = String::new();
    for (i, v) in vals.iter().enumerate() {
        let is_str = |v: &Val| matches!(v.json(), Value::String(_));
        if i > 0 && !is_str(v) && !is_str(&vals[i - 1]) {
            out.push(' ');
        }
        out.push_str(&v.print());
    }
    out
}

fn number_of(v: &Val) -> Option<f64> {
    match v.json() {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn equal(a: &Val, b: &Val) -> Result<bool, String> {
    match (a.json(), b.json()) {
        (Value::Number(x), Value::Number(y)) => Ok(match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        }),
        (Value::String(x), Value::String(y)) => Ok(x == y),
        (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
        (Value::Null, Value::Null) => Ok(true),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            Err("non-comparable type".into())
        }
        (Value::Null, _) | (_, Value::Null) => Ok(false),
        _ => Err("incompatible types for comparison".into()),
    }
}

fn order(a: &Val, b: &Val) -> Result<std::cmp::Ordering, String> {
    match (a.json(), b.json()) {
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Number(_), Value::Number(_)) => {
            let (x, y) = (number_of(a).unwrap_or(0.0), number_of(b).unwrap_or(0.0));
            x.partial_cmp(&y)
                .ok_or_else(|| "incomparable numbers".into())
        }
        (Value::Bool(_), Value::Bool(_)) | (Value::Null, _) | (_, Value::Null) => {
            Err("invalid type for comparison".into())
        }
        _ => Err("incompatible types for comparison".into()),
    }
}

/// Docker's `title`: each word's first letter in upper case.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %q %x %X %o %b %t %f %e %g %c
/// %%`, with flags (`-+ 0#`), width and precision.
pub(crate) fn sprintf(f: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut chars = f.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero, mut space, mut sharp) =
            (false, false, false, false, false);
        while let Some(&fl) = chars.peek() {
            match fl {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => sharp = true,
                _ => break,
            }
            chars.next();
        }
        let mut width: Option<usize> = None;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            chars.next();
        }
        let mut prec: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                chars.next();
            }
            prec = Some(p);
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let body = format_one(verb, arg, prec, plus, space, sharp);
        let padded = match width {
            Some(w) if body.chars().count() < w => {
                let pad = w - body.chars().count();
                if minus {
                    format!("{body}{}", " ".repeat(pad))
                } else if zero && matches!(verb, 'd' | 'f' | 'e' | 'g' | 'x' | 'X' | 'o' | 'b') {
                    let (sign, digits) = match body.strip_prefix('-') {
                        Some(d) => ("-", d.to_string()),
                        None => ("", body.clone()),
                    };
                    format!("{sign}{}{digits}", "0".repeat(pad))
                } else {
                    format!("{}{body}", " ".repeat(pad))
                }
            }
            _ => body,
        };
        out.push_str(&padded);
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", type_name(a.json()), a.print()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn format_one(
    verb: char,
    arg: &Val,
    prec: Option<usize>,
    plus: bool,
    space: bool,
    sharp: bool,
) -> String {
    let v = arg.json();
    let bad = || format!("%!{verb}({}={})", type_name(v), arg.print());
    let signed = |s: String, neg: bool| -> String {
        if neg {
            s
        } else if plus {
            format!("+{s}")
        } else if space {
            format!(" {s}")
        } else {
            s
        }
    };
    match verb {
        'v' => match v {
            Value::String(s) if sharp => format!("{s:?}"),
            _ => arg.print(),
        },
        's' => match v {
            Value::String(s) => match prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            Value::Number(_) | Value::Bool(_) => bad(),
            _ => arg.print(),
        },
        'q' => match v {
            Value::String(s) => go_quote(s),
            Value::Number(n) if n.as_i64().is_some() => {
                let c = char::from_u32(n.as_i64().unwrap_or(0) as u32).unwrap_or('\u{FFFD}');
                format!("'{c}'")
            }
            _ => bad(),
        },
        'd' => match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) => signed(i.to_string(), i < 0),
                None => bad(),
            },
            _ => bad(),
        },
        'x' | 'X' | 'o' | 'b' => match v {
            Value::Number(n) if n.as_i64().is_some() => {
                let i = n.as_i64().unwrap_or(0);
                let (neg, a) = (i < 0, i.unsigned_abs());
                let s = match verb {
                    'x' => format!("{a:x}"),
                    'X' => format!("{a:X}"),
                    'o' => format!("{a:o}"),
                    _ => format!("{a:b}"),
                };
                let s = if sharp && verb == 'x' {
                    format!("0x{s}")
                } else if sharp && verb == 'X' {
                    format!("0X{s}")
                } else {
                    s
                };
                signed(if neg { format!("-{s}") } else { s }, neg)
            }
            Value::String(s) if verb == 'x' || verb == 'X' => {
                let h: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                if verb == 'X' {
                    h.to_uppercase()
                } else {
                    h
                }
            }
            _ => bad(),
        },
        'c' => match v {
            Value::Number(n) if n.as_i64().is_some() => {
                char::from_u32(n.as_i64().unwrap_or(0) as u32)
                    .unwrap_or('\u{FFFD}')
                    .to_string()
            }
            _ => bad(),
        },
        't' => match v {
            Value::Bool(b) => b.to_string(),
            _ => bad(),
        },
        'f' | 'F' | 'e' | 'g' => match number_of(arg) {
            Some(x) => {
                let s = match verb {
                    'f' | 'F' => format!("{:.*}", prec.unwrap_or(6), x),
                    'e' => {
                        let s = format!("{:.*e}", prec.unwrap_or(6), x);
                        // Go writes the exponent with a sign and at least two digits.
                        match s.split_once('e') {
                            Some((m, e)) => {
                                let (sign, d) = match e.strip_prefix('-') {
                                    Some(d) => ('-', d),
                                    None => ('+', e),
                                };
                                format!("{m}e{sign}{d:0>2}")
                            }
                            None => s,
                        }
                    }
                    _ => go_float(x),
                };
                signed(s, x < 0.0)
            }
            None => bad(),
        },
        _ => format!("%!{verb}({}={})", type_name(v), arg.print()),
    }
}

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
