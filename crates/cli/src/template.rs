//! The part of Go's text/template that `docker --format` users write: `{{.Field}}`,
//! `{{.A.B}}`, `{{json .}}`, `{{json .Field}}`, `{{join .List ", "}}`, `{{index .Map "key"}}`,
//! `{{upper}}`, `{{lower}}`, `{{title}}`, `{{truncate .X 12}}`, the `table` prefix, and the
//! `\t`/`\n` escapes Docker's CLI expands.
//!
//! Written here rather than taken from a crate: the Rust template crates (tera, handlebars,
//! gtmpl) either use another syntax or print values differently from Go, and Docker users'
//! scripts depend on Go's exact output (`[a b]`, `map[k:v]`, HTML-escaped JSON).

use serde_json::Value;

use crate::output::go_json;

#[derive(Debug, Clone)]
enum Arg {
    Path(Vec<String>),
    Str(String),
    Num(i64),
}

#[derive(Debug, Clone)]
enum Segment {
    Text(String),
    Call(String, Vec<Arg>),
}

#[derive(Debug, Clone)]
pub struct Template {
    segments: Vec<Segment>,
    /// Started with `table`: print a header row and align columns.
    pub table: bool,
}

impl Template {
    pub fn parse(format: &str) -> Result<Template, String> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, format),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut segments = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                segments.push(Segment::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("template parsing error: unclosed action in {format:?}"))?;
            let inner = after[..end]
                .trim()
                .trim_start_matches('-')
                .trim_end_matches('-')
                .trim();
            segments.push(parse_action(inner).map_err(|e| format!("template parsing error: {e}"))?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_string()));
        }
        Ok(Template { segments, table })
    }

    /// Renders the template for one value.
    pub fn render(&self, v: &Value) -> Result<String, String> {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Call(f, args) => out.push_str(&call(f, args, v)?),
            }
        }
        Ok(out)
    }

    /// The header row for a `table` template: each field's column name from `headers`
    /// (field → header), in place of its action.
    pub fn header(&self, headers: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Call(_, args) => {
                    let name = args.iter().find_map(|a| match a {
                        Arg::Path(p) if !p.is_empty() => Some(p.join(".")),
                        _ => None,
                    });
                    let name = name.unwrap_or_default();
                    let h = headers
                        .iter()
                        .find(|(f, _)| *f == name)
                        .map(|(_, h)| h.to_string())
                        .unwrap_or_else(|| name.to_uppercase());
                    out.push_str(&h);
                }
            }
        }
        out
    }
}

fn parse_action(inner: &str) -> Result<Segment, String> {
    let words = split_args(inner)?;
    let Some(first) = words.first() else {
        return Err("empty action {{}}".into());
    };
    if first.starts_with('.') {
        if words.len() != 1 {
            return Err(format!("unexpected {:?} after {first}", words[1]));
        }
        return Ok(Segment::Call("print".into(), vec![parse_arg(first)?]));
    }
    let f = first.as_str();
    if !matches!(
        f,
        "json" | "join" | "index" | "upper" | "lower" | "title" | "truncate" | "println" | "print"
    ) {
        return Err(format!("function {f:?} not defined"));
    }
    let args = words[1..]
        .iter()
        .map(|w| parse_arg(w))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Segment::Call(f.to_string(), args))
}

fn parse_arg(w: &str) -> Result<Arg, String> {
    if w == "." {
        return Ok(Arg::Path(Vec::new()));
    }
    if let Some(p) = w.strip_prefix('.') {
        return Ok(Arg::Path(p.split('.').map(str::to_string).collect()));
    }
    if w.starts_with('"') {
        return serde_json::from_str::<String>(w)
            .map(Arg::Str)
            .map_err(|_| format!("bad string {w}"));
    }
    if let Some(s) = w.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        return Ok(Arg::Str(s.to_string()));
    }
    w.parse::<i64>()
        .map(Arg::Num)
        .map_err(|_| format!("unexpected {w:?}"))
}

fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut w = String::new();
        if c == '"' || c == '`' {
            w.push(c);
            chars.next();
            let mut closed = false;
            while let Some(d) = chars.next() {
                w.push(d);
                if d == '\\' && c == '"' {
                    if let Some(e) = chars.next() {
                        w.push(e);
                    }
                    continue;
                }
                if d == c {
                    closed = true;
                    break;
                }
            }
            if !closed {
                return Err("unterminated string".into());
            }
        } else {
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() {
                    break;
                }
                w.push(d);
                chars.next();
            }
        }
        out.push(w);
    }
    Ok(out)
}

fn lookup<'a>(v: &'a Value, path: &[String]) -> Result<&'a Value, String> {
    let mut cur = v;
    for p in path {
        match cur {
            Value::Object(m) => {
                // Go names a struct's field (`APIVersion`) where its JSON may spell it
                // otherwise (`ApiVersion`): the exact key first, then one that differs in case.
                cur = m
                    .get(p)
                    .or_else(|| {
                        m.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(p))
                            .map(|(_, v)| v)
                    })
                    .ok_or_else(|| format!("can't evaluate field {p}"))?;
            }
            Value::Null => return Ok(&Value::Null),
            _ => return Err(format!("can't evaluate field {p} in a non-object")),
        }
    }
    Ok(cur)
}

fn arg_value(a: &Arg, v: &Value) -> Result<Value, String> {
    match a {
        Arg::Path(p) => lookup(v, p).cloned(),
        Arg::Str(s) => Ok(Value::String(s.clone())),
        Arg::Num(n) => Ok(Value::from(*n)),
    }
}

fn call(f: &str, args: &[Arg], v: &Value) -> Result<String, String> {
    let vals = args
        .iter()
        .map(|a| arg_value(a, v))
        .collect::<Result<Vec<_>, _>>()?;
    let one = || vals.first().cloned().unwrap_or_else(|| v.clone());
    Ok(match f {
        "print" => vals.iter().map(go_print).collect::<Vec<_>>().join(" "),
        "println" => format!(
            "{}\n",
            vals.iter().map(go_print).collect::<Vec<_>>().join(" ")
        ),
        "json" => go_json(&one()),
        "upper" => go_print(&one()).to_uppercase(),
        "lower" => go_print(&one()).to_lowercase(),
        "title" => {
            let s = go_print(&one());
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
        "join" => {
            let sep = vals.get(1).map(go_print).unwrap_or_default();
            match vals.first() {
                Some(Value::Array(a)) => a.iter().map(go_print).collect::<Vec<_>>().join(&sep),
                Some(Value::Null) | None => String::new(),
                Some(other) => {
                    return Err(format!("join: expected a list, got {}", go_print(other)))
                }
            }
        }
        "index" => {
            let key = vals.get(1).ok_or("index: needs a key")?;
            match (vals.first(), key) {
                (Some(Value::Object(m)), Value::String(k)) => m
                    .get(k)
                    .map(go_print)
                    .unwrap_or_else(|| "<no value>".into()),
                (Some(Value::Array(a)), Value::Number(n)) => a
                    .get(n.as_u64().unwrap_or(u64::MAX) as usize)
                    .map(go_print)
                    .ok_or("index out of range")?,
                (Some(Value::Null), _) => "<no value>".into(),
                _ => return Err("index: wrong argument types".into()),
            }
        }
        "truncate" => {
            let n = vals.get(1).and_then(Value::as_u64).unwrap_or(0) as usize;
            go_print(&one()).chars().take(n).collect()
        }
        _ => return Err(format!("function {f:?} not defined")),
    })
}

/// How Go's fmt prints a value: `[a b]`, `map[k:v]`, `<nil>`.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_docker_style_formats() {
        let v = json!({"Repository": "busybox", "Tag": "latest", "Config": {"Cmd": ["sh", "-c"], "Labels": {"a": "b"}}});
        let t = Template::parse("{{.Repository}}:{{.Tag}}").unwrap();
        assert_eq!(t.render(&v).unwrap(), "busybox:latest");
        assert_eq!(
            Template::parse("{{.Config.Cmd}}")
                .unwrap()
                .render(&v)
                .unwrap(),
            "[sh -c]"
        );
        assert_eq!(
            Template::parse("{{json .Config.Cmd}}")
                .unwrap()
                .render(&v)
                .unwrap(),
            r#"["sh","-c"]"#
        );
        assert_eq!(
            Template::parse(r#"{{join .Config.Cmd ","}}"#)
                .unwrap()
                .render(&v)
                .unwrap(),
            "sh,-c"
        );
        assert_eq!(
            Template::parse(r#"{{index .Config.Labels "a"}}"#)
                .unwrap()
                .render(&v)
                .unwrap(),
            "b"
        );
        assert_eq!(
            Template::parse(r"{{.Tag}}\t{{upper .Tag}}")
                .unwrap()
                .render(&v)
                .unwrap(),
            "latest\tLATEST"
        );
        let t = Template::parse("table {{.Repository}}\t{{.ID}}").unwrap();
        assert!(t.table);
        assert_eq!(t.header(&[("ID", "IMAGE ID")]), "REPOSITORY\tIMAGE ID");
    }

    #[test]
    fn reports_errors() {
        assert!(Template::parse("{{.Repository").is_err());
        assert!(Template::parse("{{nosuchfunc .X}}").is_err());
        let v = json!({"A": 1});
        assert!(Template::parse("{{.Missing}}").unwrap().render(&v).is_err());
        assert_eq!(go_json(&json!("<none>")), "\"\\u003cnone\\u003e\"");
    }
}
