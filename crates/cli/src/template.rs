//! `--format` templates: Go's text/template (the `berth-gotemplate` crate) with what the
//! docker CLI adds around it: the `table` prefix (a header row, aligned columns) and the
//! `\t`/`\n` escapes it expands before parsing.

use serde_json::Value;

use berth_gotemplate::{Elem, MissingKey, NilKind};

/// The maps of Docker's inspect and event types by the name of the field holding them,
/// where that name means one element type in every one of those types: `index` of a missing
/// key then gives Go's zero value (`{{index .Config.Labels "x"}}` prints nothing, as with
/// Docker, not `<no value>`).
const DOCKER_TYPED_MAPS: &[(&str, Elem)] = &[
    ("Labels", Elem::String),
    ("Options", Elem::String),
    ("DriverOpts", Elem::String),
    ("Sysctls", Elem::String),
    ("StorageOpt", Elem::String),
    ("Annotations", Elem::String),
    ("Tmpfs", Elem::String),
    ("Attributes", Elem::String),
    ("Data", Elem::String),
    ("Networks", Elem::Pointer),
];

/// The fields of Docker's inspect types that are Go slices or maps: a `null` there prints as
/// Go prints a nil one (`[]`, `map[]`), not `<nil>` (which stays for nil pointers such as
/// `State.Health`). Paths of containers, images, networks and volumes together (a path an
/// object lacks changes nothing).
const DOCKER_TYPED_NILS: &[(&str, NilKind)] = {
    use NilKind::{Map as M, Slice as S};
    &[
        ("Args", S),
        ("Mounts", S),
        ("Config.Cmd", S),
        ("Config.Entrypoint", S),
        ("Config.Env", S),
        ("Config.OnBuild", S),
        ("Config.Shell", S),
        ("Config.ExposedPorts", M),
        ("Config.Volumes", M),
        ("Config.Labels", M),
        ("HostConfig.Binds", S),
        ("HostConfig.CapAdd", S),
        ("HostConfig.CapDrop", S),
        ("HostConfig.Dns", S),
        ("HostConfig.DnsOptions", S),
        ("HostConfig.DnsSearch", S),
        ("HostConfig.ExtraHosts", S),
        ("HostConfig.GroupAdd", S),
        ("HostConfig.Links", S),
        ("HostConfig.SecurityOpt", S),
        ("HostConfig.VolumesFrom", S),
        ("HostConfig.Devices", S),
        ("HostConfig.DeviceCgroupRules", S),
        ("HostConfig.DeviceRequests", S),
        ("HostConfig.Ulimits", S),
        ("HostConfig.Mounts", S),
        ("HostConfig.MaskedPaths", S),
        ("HostConfig.ReadonlyPaths", S),
        ("HostConfig.BlkioWeightDevice", S),
        ("HostConfig.BlkioDeviceReadBps", S),
        ("HostConfig.BlkioDeviceWriteBps", S),
        ("HostConfig.BlkioDeviceReadIOps", S),
        ("HostConfig.BlkioDeviceWriteIOps", S),
        ("HostConfig.PortBindings", M),
        ("HostConfig.Tmpfs", M),
        ("HostConfig.Sysctls", M),
        ("HostConfig.StorageOpt", M),
        ("HostConfig.Annotations", M),
        ("HostConfig.LogConfig.Config", M),
        ("NetworkSettings.Ports", M),
        ("NetworkSettings.Networks", M),
        ("NetworkSettings.SecondaryIPAddresses", S),
        ("NetworkSettings.SecondaryIPv6Addresses", S),
        ("NetworkSettings.Networks.*.Aliases", S),
        ("NetworkSettings.Networks.*.Links", S),
        ("NetworkSettings.Networks.*.DNSNames", S),
        ("NetworkSettings.Networks.*.DriverOpts", M),
        ("RepoTags", S),
        ("RepoDigests", S),
        ("RootFS.Layers", S),
        ("GraphDriver.Data", M),
        ("Labels", M),
        ("Options", M),
        ("Status", M),
        ("Containers", M),
        ("IPAM.Config", S),
        ("IPAM.Options", M),
    ]
};

/// An inspect object ready for a template: its nil slices and maps marked as Go's. Under
/// `Config`, `HostConfig` and `NetworkSettings` (Go structs in every object that has them) a
/// field berth's JSON leaves out is Go's nil too; a top-level one (whose object kind decides
/// whether Docker has it) only when it is `null`.
pub fn with_typed_nils(mut v: Value) -> Value {
    let (nested, top): (Vec<_>, Vec<_>) = DOCKER_TYPED_NILS.iter().copied().partition(|(p, _)| {
        p.contains('.')
            && !p.starts_with("IPAM.")
            && !p.starts_with("RootFS.")
            && !p.starts_with("GraphDriver.")
    });
    berth_gotemplate::insert_typed_nils(&mut v, &nested);
    berth_gotemplate::mark_typed_nils(&mut v, &top);
    v
}

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
        self.inner = self
            .inner
            .missing_key(MissingKey::NoValue)
            .typed_maps(DOCKER_TYPED_MAPS);
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
