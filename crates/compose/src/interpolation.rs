//! Variable interpolation in compose files, as the Compose Specification has it: `$VAR`,
//! `${VAR}`, `${VAR:-default}` / `${VAR-default}`, `${VAR:?error}` / `${VAR?error}`,
//! `${VAR:+replacement}` / `${VAR+replacement}`, nested defaults, and `$$` for a literal `$`.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

/// Where variables come from: the process environment over the project's `.env`.
pub type Variables = BTreeMap<String, String>;

/// What went wrong in one string: the caller adds the file and key.
#[derive(Debug, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${VAR:?message}` with VAR unset (or empty).
    Required { name: String, message: String },
    /// `${` without a matching `}`, or a name that is not one.
    Syntax(String),
}

impl std::fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpolationError::Required { name, message } => {
                write!(f, "required variable {name} is missing a value")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            InterpolationError::Syntax(s) => write!(f, "invalid interpolation format for {s:?}"),
        }
    }
}

/// Interpolates one string. Variables used but not set are added to `unset` (Compose warns
/// about them and substitutes an empty string).
pub fn interpolate(
    s: &str,
    vars: &Variables,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let next = s[i..].find('$').map_or(s.len(), |n| i + n);
            out.push_str(&s[i..next]);
            i = next;
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let close = matching_brace(s, i + 2)
                    .ok_or_else(|| InterpolationError::Syntax(s.to_string()))?;
                out.push_str(&braced(&s[i + 2..close], s, vars, unset)?);
                i = close + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let end = s[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(s.len(), |n| i + 1 + n);
                out.push_str(&lookup(&s[i + 1..end], vars, unset));
                i = end;
            }
            // A `$` not followed by a name is kept, as Compose keeps it.
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The index of the `}` that closes a `${` whose body starts at `from` (nested `${…}` in
/// defaults counted).
fn matching_brace(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 1;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn lookup(name: &str, vars: &Variables, unset: &mut Vec<String>) -> String {
    match vars.get(name) {
        Some(v) => v.clone(),
        None => {
            if !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            String::new()
        }
    }
}

/// The body of `${…}`: a name, then perhaps an operator and its word.
fn braced(
    body: &str,
    whole: &str,
    vars: &Variables,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let name_end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
        return Err(InterpolationError::Syntax(whole.to_string()));
    }
    let rest = &body[name_end..];
    let value = vars.get(name);
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let (op, word) = if let Some(w) = rest.strip_prefix(":-") {
        (":-", w)
    } else if let Some(w) = rest.strip_prefix(":?") {
        (":?", w)
    } else if let Some(w) = rest.strip_prefix(":+") {
        (":+", w)
    } else if rest.is_empty() {
        ("", "")
    } else {
        match rest.split_at(1) {
            (o @ ("-" | "?" | "+"), w) => (o, w),
            _ => return Err(InterpolationError::Syntax(whole.to_string())),
        }
    };
    let word = |unset: &mut Vec<String>| interpolate(word, vars, unset);
    Ok(match op {
        "" => lookup(name, vars, unset),
        ":-" if non_empty => value.cloned().unwrap_or_default(),
        ":-" => word(unset)?,
        "-" if set => value.cloned().unwrap_or_default(),
        "-" => word(unset)?,
        ":?" | "?" if (op == "?" && set) || non_empty => value.cloned().unwrap_or_default(),
        ":?" | "?" => {
            return Err(InterpolationError::Required {
                name: name.to_string(),
                message: word(unset)?,
            })
        }
        ":+" if non_empty => word(unset)?,
        "+" if set => word(unset)?,
        _ => String::new(),
    })
}

/// Interpolates every string scalar in a YAML tree (values, not keys). `path` names where a
/// failure was (`services.web.image`).
pub fn interpolate_tree(
    v: &mut Value,
    vars: &Variables,
    unset: &mut Vec<String>,
    path: &mut Vec<String>,
) -> Result<(), String> {
    match v {
        Value::String(s) => {
            *s = interpolate(s, vars, unset).map_err(|e| format!("{}: {e}", path.join(".")))?;
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                interpolate_tree(item, vars, unset, path)?;
                path.pop();
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                path.push(key_text(k));
                interpolate_tree(item, vars, unset, path)?;
                path.pop();
            }
        }
        Value::Tagged(t) => interpolate_tree(&mut t.value, vars, unset, path)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// A mapping key as text (keys in compose files are strings, but YAML allows numbers).
pub fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::from("?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        [("A", "x"), ("EMPTY", ""), ("PORT", "8080")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn i(s: &str) -> String {
        interpolate(s, &vars(), &mut Vec::new()).unwrap()
    }

    #[test]
    fn names_braced_and_bare() {
        assert_eq!(i("$A-${A}:${PORT}/"), "x-x:8080/");
        assert_eq!(i("a$$b $$A"), "a$b $A");
        assert_eq!(i("cost: 5$"), "cost: 5$");
    }

    #[test]
    fn defaults_tell_unset_from_empty() {
        assert_eq!(i("${EMPTY:-d}"), "d");
        assert_eq!(i("${EMPTY-d}"), "");
        assert_eq!(i("${NOPE-d}"), "d");
        assert_eq!(i("${NOPE:-${A}-${PORT}}"), "x-8080");
        assert_eq!(i("${A:+yes}${EMPTY:+no}${EMPTY+set}"), "yesset");
    }

    #[test]
    fn required_variables_fail_with_their_message() {
        let e = interpolate("${NOPE:?set NOPE first}", &vars(), &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "required variable NOPE is missing a value: set NOPE first"
        );
        assert!(interpolate("${EMPTY:?}", &vars(), &mut Vec::new()).is_err());
        assert_eq!(i("${EMPTY?}"), "");
    }

    #[test]
    fn unset_variables_are_reported_once_and_blank() {
        let mut unset = Vec::new();
        let s = interpolate("$NOPE ${NOPE} $A", &vars(), &mut unset).unwrap();
        assert_eq!(s, "  x");
        assert_eq!(unset, vec!["NOPE".to_string()]);
    }

    #[test]
    fn broken_syntax_is_an_error() {
        assert!(interpolate("${A", &vars(), &mut Vec::new()).is_err());
        assert!(interpolate("${A*b}", &vars(), &mut Vec::new()).is_err());
        assert!(interpolate("${}", &vars(), &mut Vec::new()).is_err());
    }

    #[test]
    fn trees_are_interpolated_in_values_and_errors_name_the_key() {
        let mut v: Value = serde_yaml_ng::from_str(
            "services:\n  web:\n    image: \"busybox:${TAG:?need a tag}\"\n",
        )
        .unwrap();
        let e = interpolate_tree(&mut v, &vars(), &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert_eq!(
            e,
            "services.web.image: required variable TAG is missing a value: need a tag"
        );
    }
}
