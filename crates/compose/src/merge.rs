//! Merging compose files (`-f a.yaml -f b.yaml`, `extends`), by the Compose Specification's
//! rules: mappings merge key by key; `command`, `entrypoint` and `healthcheck.test` are
//! replaced; `environment`, `labels`, `build.args`, `networks` and `depends_on` merge as maps
//! whatever form each file uses; a service's `volumes` merge by target path; other lists are
//! appended without duplicates.

use serde_yaml_ng::{Mapping, Value};

/// Merges `over` into `base` as a whole compose file.
pub fn merge_files(base: &mut Value, over: Value) {
    let (Value::Mapping(b), Value::Mapping(o)) = (&mut *base, over) else {
        return;
    };
    for (k, v) in o {
        match (k.as_str(), b.get_mut(&k)) {
            (Some("services"), Some(Value::Mapping(bs))) => {
                if let Value::Mapping(os) = v {
                    for (name, svc) in os {
                        match bs.get_mut(&name) {
                            Some(existing) => merge_service(existing, svc),
                            None => {
                                bs.insert(name, svc);
                            }
                        }
                    }
                }
            }
            (_, Some(existing)) => merge_value(existing, v, ""),
            (_, None) => {
                b.insert(k, v);
            }
        }
    }
}

/// Merges one service definition over another.
pub fn merge_service(base: &mut Value, over: Value) {
    normalize_service(base);
    let mut over = over;
    normalize_service(&mut over);
    let (Value::Mapping(b), Value::Mapping(o)) = (&mut *base, over) else {
        *base = Value::Null;
        return;
    };
    for (k, v) in o {
        let key = k.as_str().unwrap_or_default().to_string();
        match b.get_mut(&k) {
            None => {
                b.insert(k, v);
            }
            Some(existing) => match key.as_str() {
                "command" | "entrypoint" => *existing = v,
                "volumes" => merge_volumes(existing, v),
                _ => merge_value(existing, v, &key),
            },
        }
    }
}

/// Mappings merge; lists append what is new; anything else is replaced.
fn merge_value(base: &mut Value, over: Value, key: &str) {
    match (&mut *base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let sub = k.as_str().unwrap_or_default().to_string();
                match b.get_mut(&k) {
                    // `healthcheck.test` is one command, not a list of items.
                    Some(existing) if key == "healthcheck" && sub == "test" => *existing = v,
                    Some(existing) => merge_value(existing, v, &sub),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(o)) => {
            for item in o {
                if !b.contains(&item) {
                    b.push(item);
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// A service's volumes merge by target: an override's entry replaces the one for its path.
fn merge_volumes(base: &mut Value, over: Value) {
    let (Value::Sequence(b), Value::Sequence(o)) = (&mut *base, over) else {
        return;
    };
    for item in o {
        let target = volume_target(&item);
        match b
            .iter_mut()
            .find(|e| target.is_some() && volume_target(e) == target)
        {
            Some(existing) => *existing = item,
            None => b.push(item),
        }
    }
}

/// The container path of a service volume in either syntax.
pub fn volume_target(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.len() {
                1 => Some(parts[0].to_string()),
                2 if parts[1].starts_with('/') => Some(parts[1].to_string()),
                2 => Some(parts[0].to_string()),
                _ => Some(parts[1].to_string()),
            }
        }
        Value::Mapping(m) => m.get("target").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// The map form of the keys that merge as maps.
pub fn normalize_service(svc: &mut Value) {
    let Value::Mapping(m) = svc else { return };
    for key in ["environment", "labels"] {
        if let Some(v) = m.get_mut(key) {
            list_to_map(v, '=');
        }
    }
    if let Some(Value::Mapping(b)) = m.get_mut("build") {
        if let Some(v) = b.get_mut("args") {
            list_to_map(v, '=');
        }
    }
    for key in ["networks", "depends_on"] {
        if let Some(Value::Sequence(items)) = m.get(key) {
            let mut map = Mapping::new();
            for item in items {
                map.insert(item.clone(), Value::Null);
            }
            m.insert(Value::from(key), Value::Mapping(map));
        }
    }
    // A list-form depends_on means "started" for each.
    if let Some(Value::Mapping(deps)) = m.get_mut("depends_on") {
        for (_, d) in deps.iter_mut() {
            if d.is_null() {
                let mut c = Mapping::new();
                c.insert("condition".into(), "service_started".into());
                *d = Value::Mapping(c);
            }
        }
    }
}

fn list_to_map(v: &mut Value, sep: char) {
    if let Value::Sequence(items) = v {
        let mut map = Mapping::new();
        for item in items.iter() {
            let s = match item {
                Value::String(s) => s.clone(),
                other => crate::interpolation::key_text(other),
            };
            match s.split_once(sep) {
                Some((k, val)) => map.insert(k.into(), val.into()),
                None => map.insert(s.as_str().into(), Value::Null),
            };
        }
        *v = Value::Mapping(map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn overrides_follow_the_specifications_rules() {
        let mut base = y(r#"
services:
  web:
    image: app:1
    command: ["serve", "--port", "80"]
    environment: ["A=1", "B=2"]
    ports: ["80:80"]
    volumes: ["data:/data", "./conf:/etc/app:ro"]
    healthcheck: {test: ["CMD", "a"], interval: 5s}
  db:
    image: pg
networks:
  front: {}
"#);
        let over = y(r#"
services:
  web:
    image: app:2
    command: ["serve"]
    environment: {B: "3", C: "4"}
    ports: ["80:80", "443:443"]
    volumes: [{type: bind, source: ./other, target: /etc/app}]
    healthcheck: {test: ["CMD", "b"]}
  worker:
    image: w
networks:
  back: {}
"#);
        merge_files(&mut base, over);
        let want = y(r#"
services:
  web:
    image: app:2
    command: ["serve"]
    environment: {A: "1", B: "3", C: "4"}
    ports: ["80:80", "443:443"]
    volumes: ["data:/data", {type: bind, source: ./other, target: /etc/app}]
    healthcheck: {test: ["CMD", "b"], interval: 5s}
  db:
    image: pg
  worker:
    image: w
networks:
  front: {}
  back: {}
"#);
        assert_eq!(base, want);
    }

    #[test]
    fn depends_on_lists_and_maps_merge() {
        let mut base = y("image: a\ndepends_on: [db]\n");
        merge_service(
            &mut base,
            y("depends_on: {cache: {condition: service_healthy}}\n"),
        );
        let want = y("image: a\ndepends_on: {db: {condition: service_started}, cache: {condition: service_healthy}}\n");
        assert_eq!(base, want);
    }

    #[test]
    fn volume_targets_in_both_syntaxes() {
        assert_eq!(volume_target(&y("/anon")).as_deref(), Some("/anon"));
        assert_eq!(volume_target(&y("data:/d")).as_deref(), Some("/d"));
        assert_eq!(volume_target(&y("./c:/d:ro")).as_deref(), Some("/d"));
        assert_eq!(volume_target(&y("{target: /t}")).as_deref(), Some("/t"));
    }
}
