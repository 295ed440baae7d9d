//! `--format` templates: Go's text/template (the `berth-gotemplate` crate) with what the
//! docker CLI adds around it: the `table` prefix (a header row, aligned columns) and the
//! `\t`/`\n` escapes it expands before parsing.

use serde_json::Value;

use berth_gotemplate::MissingKey;

#[derive(Debug, Clone)]
pub struct Template {
    inner: berth_gotemplate::Template,
    /// The template as parsed (after the `table` prefix), for the header row.
    body: String,
    /// Started with `table`: print a header row and align columns.
    pub table: bool,
}

impl Template {
    /// Parses a `--format` value; the error reads as Docker's (`template parsing error: …`).
    pub fn parse(format: &str) -> Result<Template, String> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, format),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let inner = berth_gotemplate::Template::parse(&body)
            .map_err(|e| format!("template parsing error: {e}"))?;
        Ok(Template { inner, body, table })
    }

    /// For data that Docker formats as Go maps (`inspect`, events' attributes): a missing key
    /// prints `<no value>` instead of failing.
    pub fn over_maps(mut self) -> Template {
        self.inner = self.inner.missing_key(MissingKey::NoValue);
        self
    }

    /// Renders the template for one value; the error is Go's without its `template: `.
    pub fn render(&self, v: &Value) -> Result<String, String> {
        self.inner.execute(v).map_err(|e| {
            let m = e.to_string();
            m.strip_prefix("template: ")
                .map(str::to_string)
                .unwrap_or(m)
        })
    }

    /// The header row for a `table` template: the template run over the column names
    /// (`headers`: field → header; any other field shows as its name in capitals).
    pub fn header(&self, headers: &[(&str, &str)]) -> String {
        let mut names = serde_json::Map::new();
        for field in referenced_fields(&self.body) {
            names.insert(field.clone(), Value::String(field.to_uppercase()));
        }
        for (field, header) in headers {
            names.insert(field.to_string(), Value::String(header.to_string()));
        }
        self.inner
            .clone()
            .missing_key(MissingKey::NoValue)
            .execute(&Value::Object(names))
            .unwrap_or_default()
    }
}

/// The `.Name` fields a template mentions (the first of each chain).
fn referenced_fields(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = body.as_bytes();
    for (i, c) in body.char_indices() {
        if c != '.' || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) {
            continue;
        }
        let name: String = body[i + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::go_json;
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
