//! Docker's conventions for query parameters: booleans (`1`, `true`, anything but
//! `0`/`false`/`no`/`none`/empty) and `filters` (`{"key": ["value"]}`, or the older
//! `{"key": {"value": true}}`).

use std::collections::{BTreeMap, HashMap};

use crate::error::ApiError;

/// A request's query parameters. A name given twice keeps its first value, as Go's
/// `FormValue` does (docker-py sends `dockerfile` twice for a Dockerfile outside the
/// context; dockerd reads the first).
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    #[cfg(test)]
    pub(crate) fn new() -> Params {
        Params::default()
    }
}

impl std::ops::Deref for Params {
    type Target = HashMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<const N: usize> From<[(String, String); N]> for Params {
    fn from(pairs: [(String, String); N]) -> Params {
        pairs.into_iter().collect()
    }
}

impl FromIterator<(String, String)> for Params {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Params {
        let mut m = HashMap::new();
        for (k, v) in pairs {
            m.entry(k).or_insert(v);
        }
        Params(m)
    }
}

impl<'de> serde::Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Params, D::Error> {
        Ok(Vec::<(String, String)>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

/// moby's `httputils.BoolValue`.
pub(crate) fn flag(q: &Params, key: &str) -> bool {
    q.get(key).is_some_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "no" | "false" | "none"
        )
    })
}

/// Every value of a parameter that may repeat (`names=a&names=b`, `changes=…`).
pub(crate) fn all_values(raw: Option<&str>, key: &str) -> Result<Vec<String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    Ok(pairs
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect())
}

/// An integer parameter; absent or empty is `None`.
pub(crate) fn int(q: &Params, key: &str) -> Result<Option<i64>, ApiError> {
    match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid value for {key}: {v:?}: expected an integer"
            ))
        }),
    }
}

/// The `filters` parameter, key → values.
pub(crate) fn filters(q: &Params) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
    let Some(raw) = q.get("filters").filter(|f| !f.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let v: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid filter: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad_request("invalid filter: expected a JSON object"))?;
    let mut out = BTreeMap::new();
    for (k, vals) in obj {
        let list: Vec<String> = match vals {
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    ApiError::bad_request(format!("invalid filter '{k}': expected strings"))
                })?,
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(_, on)| on.as_bool() == Some(true))
                .map(|(x, _)| x.clone())
                .collect(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid filter '{k}': expected a list of values"
                )))
            }
        };
        out.insert(k.clone(), list);
    }
    Ok(out)
}

/// Filters as the CLI's `key=value` arguments, which the libraries parse.
pub(crate) fn filter_args(q: &Params) -> Result<Vec<String>, ApiError> {
    Ok(filters(q)?
        .into_iter()
        .flat_map(|(k, vs)| vs.into_iter().map(move |v| format!("{k}={v}")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_parameter_keeps_its_first_value_as_in_go() {
        let q: Params =
            serde_urlencoded::from_str("dockerfile=.dockerfile.1&t=a&dockerfile=FROM+x").unwrap();
        assert_eq!(
            q.get("dockerfile").map(String::as_str),
            Some(".dockerfile.1")
        );
        assert_eq!(q.get("t").map(String::as_str), Some("a"));
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn booleans_are_mobys() {
        let q = params(&[
            ("a", "1"),
            ("b", "True"),
            ("c", "0"),
            ("d", "no"),
            ("e", ""),
        ]);
        assert!(flag(&q, "a") && flag(&q, "b"));
        assert!(!flag(&q, "c") && !flag(&q, "d") && !flag(&q, "e") && !flag(&q, "zz"));
    }

    #[test]
    fn both_filter_forms_are_read() {
        let q = params(&[(
            "filters",
            r#"{"status":["exited","created"],"label":{"a=b":true}}"#,
        )]);
        assert_eq!(
            filter_args(&q).unwrap(),
            vec!["label=a=b", "status=exited", "status=created"]
        );
        let e = filters(&params(&[("filters", "{nope")])).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.starts_with("invalid filter"), "{}", e.message);
        assert!(int(&params(&[("t", "x")]), "t").is_err());
        assert_eq!(int(&params(&[("t", "5")]), "t").unwrap(), Some(5));
    }
}
