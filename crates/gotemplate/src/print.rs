//! Values printed as Go's fmt prints them (`%v`).

use serde_json::Value;

/// What `mark_typed_nils` puts where a Go slice or map was nil (JSON `null`): values no JSON
/// document holds, turned back into `null` by `json` and printed as Go prints them.
pub(crate) const NIL_SLICE: &str = "\u{0}go:nil-slice";
pub(crate) const NIL_MAP: &str = "\u{0}go:nil-map";

/// `value` with the typed nils back as JSON `null`.
pub(crate) fn without_typed_nils(value: Value) -> Value {
    match value {
        Value::String(s) if s == NIL_SLICE || s == NIL_MAP => Value::Null,
        Value::Array(a) => Value::Array(a.into_iter().map(without_typed_nils).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, without_typed_nils(v)))
                .collect(),
        ),
        v => v,
    }
}

/// `%v` of a value: strings as they are, `[a b]`, `map[k:v]` (keys sorted), `<nil>`.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) if s == NIL_SLICE => "[]".into(),
        Value::String(s) if s == NIL_MAP => "map[]".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_print(&m[k.as_str()])))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

pub(crate) fn number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        go_float(n.as_f64().unwrap_or(0.0))
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits
/// that read back, in exponent form when the exponent is below -4 or 6 and up (`1e+06`,
/// `123456`, `1e-05`).
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: d.ddddde±x.
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let n = digits.len() as i32;
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else if point >= n {
        format!("{}{}", digits, "0".repeat((point - n) as usize))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_print_as_go_prints_them() {
        assert_eq!(go_print(&json!(["a", 1, true])), "[a 1 true]");
        assert_eq!(go_print(&json!({"b": 2, "a": [1]})), "map[a:[1] b:2]");
        assert_eq!(go_print(&json!(null)), "<nil>");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.25), "-2.25");
        assert_eq!(go_float(1e20), "1e+20");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(1.234567e21), "1.234567e+21");
    }
}
