//! Loading a project as Docker Compose does: find the file (`compose.yaml`, `compose.yml`,
//! `docker-compose.yaml`, `docker-compose.yml`) or take `-f` files, read `.env` or
//! `--env-file`, interpolate, resolve `include` and `extends`, merge the files, check every
//! key against the model, and name the project (`-p`, `COMPOSE_PROJECT_NAME`, `name:`, the
//! directory).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use crate::env_file;
use crate::error::{io, Error, Result};
use crate::interpolation::{interpolate_tree, key_text, Variables};
use crate::merge::{merge_files, merge_service};
use crate::model::{ComposeFile, DependsOn, Service};

/// The files Compose looks for, in its order of preference.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// What the command line says about the project (Compose's global flags).
#[derive(Clone, Debug, Default)]
pub struct ProjectOptions {
    /// `-f`, in order; empty to look for a default file.
    pub files: Vec<PathBuf>,
    pub project_directory: Option<PathBuf>,
    pub project_name: Option<String>,
    /// `--env-file`, in order; empty for the project directory's `.env`.
    pub env_files: Vec<PathBuf>,
    /// `--profile`; `COMPOSE_PROFILES` is added to them.
    pub profiles: Vec<String>,
    /// The process environment (passed in so that tests and servers choose it).
    pub environment: Variables,
    /// Where to look for a default file when no `-f` is given.
    pub working_dir: PathBuf,
}

/// A loaded project: its name, where it lives and the resolved model.
#[derive(Clone, Debug)]
pub struct Project {
    pub name: String,
    pub working_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    pub model: ComposeFile,
    pub variables: Variables,
    pub profiles: Vec<String>,
    /// What Compose would warn about (unset variables, obsolete `version`).
    pub warnings: Vec<String>,
}

impl Project {
    /// Whether a service is enabled by the active profiles (a service without profiles
    /// always is).
    pub fn enabled(&self, service: &Service) -> bool {
        service.profiles.is_empty()
            || service
                .profiles
                .iter()
                .any(|p| p == "*" || self.profiles.iter().any(|a| a == p || a == "*"))
    }

    /// (service, image) of what `compose push` pushes, in dependency order: services that
    /// are built and name their image, as Compose does; of `services` only, if any.
    pub fn images_to_push(&self, services: &[String]) -> Result<Vec<(String, String)>> {
        Ok(self
            .services_in_order(services)?
            .into_iter()
            .filter(|name| services.is_empty() || services.contains(name))
            .filter_map(|name| {
                let svc = &self.model.services[&name];
                svc.build.as_ref()?;
                let image = svc.image.clone()?;
                Some((name, image))
            })
            .collect())
    }

    /// `services` and, transitively, the services that depend on one of them with
    /// `restart: true`: what `compose restart SERVICE` restarts.
    pub fn with_restart_dependents(&self, services: &[String]) -> Vec<String> {
        let mut out: Vec<String> = services.to_vec();
        let mut i = 0;
        while i < out.len() {
            let dep = out[i].clone();
            for (name, svc) in &self.model.services {
                let restarts = svc
                    .depends_on
                    .iter()
                    .flat_map(|d| d.entries())
                    .any(|(d, how)| d == dep && how.restart == Some(true));
                if restarts && !out.contains(name) {
                    out.push(name.clone());
                }
            }
            i += 1;
        }
        out
    }

    /// The services named (all enabled ones if none are), with what they depend on, in
    /// dependency order (dependencies first). A service named explicitly runs whatever its
    /// profiles.
    pub fn services_in_order(&self, named: &[String]) -> Result<Vec<String>> {
        for n in named {
            if !self.model.services.contains_key(n) {
                return Err(Error::NotFound(format!("no such service: {n}")));
            }
        }
        let roots: Vec<String> = if named.is_empty() {
            self.model
                .services
                .iter()
                .filter(|(_, s)| self.enabled(s))
                .map(|(n, _)| n.clone())
                .collect()
        } else {
            named.to_vec()
        };
        let mut order = Vec::new();
        let mut visiting = Vec::new();
        for r in &roots {
            self.visit(r, &mut order, &mut visiting)?;
        }
        Ok(order)
    }

    fn visit(&self, name: &str, order: &mut Vec<String>, visiting: &mut Vec<String>) -> Result<()> {
        if order.iter().any(|o| o == name) {
            return Ok(());
        }
        if visiting.iter().any(|v| v == name) {
            visiting.push(name.to_string());
            return Err(Error::Invalid(format!(
                "dependency cycle detected: {}",
                visiting.join(" -> ")
            )));
        }
        let svc = self
            .model
            .services
            .get(name)
            .ok_or_else(|| Error::NotFound(format!("no such service: {name}")))?;
        visiting.push(name.to_string());
        for (dep, d) in svc.depends_on.iter().flat_map(|d| d.entries()) {
            if !self.model.services.contains_key(&dep) {
                if d.required {
                    return Err(Error::Invalid(format!(
                        "service {name:?} depends on undefined service {dep:?}: invalid compose project"
                    )));
                }
                continue;
            }
            self.visit(&dep, order, visiting)?;
        }
        visiting.pop();
        order.push(name.to_string());
        Ok(())
    }
}

/// Loads the project the options describe.
pub fn load(o: &ProjectOptions) -> Result<Project> {
    let files = if o.files.is_empty() {
        vec![find_default(&o.working_dir)?]
    } else {
        o.files
            .iter()
            .map(|f| absolute(&o.working_dir, f))
            .collect::<Vec<_>>()
    };
    let working_dir = match &o.project_directory {
        Some(d) => absolute(&o.working_dir, d),
        None => files[0].parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let mut vars = o.environment.clone();
    if o.env_files.is_empty() {
        let dotenv = working_dir.join(".env");
        if dotenv.is_file() {
            env_file::load_into(&dotenv, &mut vars)?;
        }
    } else {
        for f in &o.env_files {
            env_file::load_into(&absolute(&o.working_dir, f), &mut vars)?;
        }
    }
    let mut warnings = Vec::new();
    let mut unset = Vec::new();
    let mut merged = Value::Mapping(Mapping::new());
    for f in &files {
        let v = read_file(f, &working_dir, &vars, &mut unset, &mut Vec::new())?;
        if let Value::Mapping(m) = &v {
            if m.contains_key("version") {
                warnings.push(format!(
                    "{}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
                    f.display()
                ));
            }
        }
        merge_files(&mut merged, v);
    }
    for u in unset {
        warnings.insert(
            0,
            format!("The \"{u}\" variable is not set. Defaulting to a blank string."),
        );
    }
    let mut model: ComposeFile = typed(merged, &files[0], None)?;
    // A link is a dependency too (Compose's rule): the linked service starts first.
    for svc in model.services.values_mut() {
        for l in svc.links.clone().unwrap_or_default() {
            let target = l.split(':').next().unwrap_or(&l).to_string();
            svc.depends_on
                .get_or_insert_with(|| DependsOn::List(Vec::new()))
                .add_started(&target);
        }
    }
    let name = project_name(o, &vars, &model, &working_dir)?;
    let mut profiles = o.profiles.clone();
    if let Some(p) = vars.get("COMPOSE_PROFILES") {
        profiles.extend(p.split(',').filter(|s| !s.is_empty()).map(str::to_string));
    }
    let project = Project {
        name,
        working_dir,
        config_files: files,
        model,
        variables: vars,
        profiles,
        warnings,
    };
    check_references(&project)?;
    Ok(project)
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The default file in `dir` or, as Compose does, in the nearest parent that has one.
fn find_default(dir: &Path) -> Result<PathBuf> {
    let mut d = Some(dir);
    while let Some(here) = d {
        for name in DEFAULT_FILES {
            let p = here.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
        d = here.parent();
    }
    Err(Error::NoConfigFile)
}

/// Compose's project name rules: lowercase letters, digits, `-` and `_`, starting with a
/// letter or digit. A name from a flag or variable must already be one; a directory's name
/// is made into one.
fn project_name(
    o: &ProjectOptions,
    vars: &Variables,
    model: &ComposeFile,
    dir: &Path,
) -> Result<String> {
    let given = o
        .project_name
        .clone()
        .or_else(|| vars.get("COMPOSE_PROJECT_NAME").cloned())
        .filter(|s| !s.is_empty())
        .or_else(|| model.name.clone());
    match given {
        Some(n) => {
            let valid = n
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !valid {
                return Err(Error::Invalid(format!("invalid project name {n:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number")));
            }
            Ok(n)
        }
        None => {
            let base = dir
                .file_name()
                .map(|s| s.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            let n: String = base
                .chars()
                .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
                .collect();
            let n = n.trim_start_matches(['-', '_']).to_string();
            if n.is_empty() {
                return Err(Error::Invalid(format!(
                    "project name must not be empty: {} gives none; use -p or `name:`",
                    dir.display()
                )));
            }
            Ok(n)
        }
    }
}

/// One file, read, interpolated, stripped of `x-` keys, with its `include`s and `extends`
/// resolved and its relative paths made absolute against `base_dir`; checked against the
/// model so that an error names this file.
fn read_file(
    path: &Path,
    base_dir: &Path,
    vars: &Variables,
    unset: &mut Vec<String>,
    chain: &mut Vec<PathBuf>,
) -> Result<Value> {
    if chain.iter().any(|c| c == path) {
        return Err(Error::Invalid(format!(
            "{}: include cycle: {}",
            path.display(),
            chain
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(" -> ")
        )));
    }
    let text = std::fs::read_to_string(path).map_err(io("read", path))?;
    let mut v: Value = serde_yaml_ng::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" line {}:", l.line()))
            .unwrap_or_default();
        Error::Invalid(format!("{}:{at} {e}", path.display()))
    })?;
    if v.is_null() {
        v = Value::Mapping(Mapping::new());
    }
    v.apply_merge()
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    if !v.is_mapping() {
        return Err(Error::Invalid(format!(
            "{}: Top-level object must be a mapping",
            path.display()
        )));
    }
    strip_extensions(&mut v, 0);
    interpolate_tree(&mut v, vars, unset, &mut Vec::new())
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    resolve_paths(&mut v, base_dir);
    // Each file is checked alone first, so that an error names its file and line.
    let _: ComposeFile = typed(v.clone(), path, Some(&text))?;
    resolve_extends(&mut v, path, vars, unset)?;
    chain.push(path.to_path_buf());
    let includes = v.as_mapping_mut().and_then(|m| m.remove("include"));
    if let Some(inc) = includes {
        for (file, dir) in include_entries(&inc, path)? {
            let sub = read_file(&file, &dir, vars, unset, chain)?;
            merge_include(&mut v, sub, &file)?;
        }
    }
    chain.pop();
    Ok(v)
}

/// `include: [path]` or `include: [{path: [..], project_directory: ..}]`: each file with
/// the directory its relative paths are resolved against.
fn include_entries(inc: &Value, from: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let dir = from.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = Vec::new();
    let items = inc.as_sequence().cloned().unwrap_or_default();
    for item in items {
        match item {
            Value::String(p) => {
                let f = absolute(&dir, Path::new(&p));
                let d = f.parent().map(Path::to_path_buf).unwrap_or_default();
                out.push((f, d));
            }
            Value::Mapping(m) => {
                let paths: Vec<String> = match m.get("path") {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Sequence(l)) => l
                        .iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                    _ => {
                        return Err(Error::Invalid(format!(
                            "{}: include: an entry needs `path`",
                            from.display()
                        )))
                    }
                };
                for p in paths {
                    let f = absolute(&dir, Path::new(&p));
                    let d = match m.get("project_directory").and_then(Value::as_str) {
                        Some(pd) => absolute(&dir, Path::new(pd)),
                        None => f.parent().map(Path::to_path_buf).unwrap_or_default(),
                    };
                    out.push((f, d));
                }
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "{}: include: expected a path or a mapping",
                    from.display()
                )))
            }
        }
    }
    Ok(out)
}

/// An included file's resources join the project's; the same name defined in both is an
/// error, as in Compose.
fn merge_include(into: &mut Value, sub: Value, file: &Path) -> Result<()> {
    let (Value::Mapping(m), Value::Mapping(s)) = (into, sub) else {
        return Ok(());
    };
    for section in ["services", "networks", "volumes", "secrets", "configs"] {
        let Some(Value::Mapping(items)) = s.get(section).cloned() else {
            continue;
        };
        let target = m
            .entry(Value::from(section))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if target.is_null() {
            *target = Value::Mapping(Mapping::new());
        }
        let Some(t) = target.as_mapping_mut() else {
            continue;
        };
        for (k, v) in items {
            if t.contains_key(&k) {
                return Err(Error::Invalid(format!(
                    "{}: {section}.{} conflicts with the including file's definition",
                    file.display(),
                    key_text(&k)
                )));
            }
            t.insert(k, v);
        }
    }
    Ok(())
}

/// `extends: name` or `extends: {service: name, file: other.yaml}`: the service is its base
/// with its own definition merged over it.
fn resolve_extends(
    v: &mut Value,
    path: &Path,
    vars: &Variables,
    unset: &mut Vec<String>,
) -> Result<()> {
    let Some(Value::Mapping(services)) = v.get("services").cloned() else {
        return Ok(());
    };
    let mut resolved = Mapping::new();
    for (name, _) in services.iter() {
        let svc = resolve_service(
            &services,
            &key_text(name),
            path,
            vars,
            unset,
            &mut Vec::new(),
        )?;
        resolved.insert(name.clone(), svc);
    }
    if let Some(m) = v.as_mapping_mut() {
        m.insert("services".into(), Value::Mapping(resolved));
    }
    Ok(())
}

fn resolve_service(
    services: &Mapping,
    name: &str,
    path: &Path,
    vars: &Variables,
    unset: &mut Vec<String>,
    seen: &mut Vec<String>,
) -> Result<Value> {
    let here = format!("{}:{name}", path.display());
    if seen.contains(&here) {
        return Err(Error::Invalid(format!(
            "{}: services.{name}: circular extends: {}",
            path.display(),
            seen.join(" -> ")
        )));
    }
    seen.push(here);
    let mut svc = services.get(name).cloned().ok_or_else(|| {
        Error::Invalid(format!(
            "{}: cannot extend service {name:?}: no such service",
            path.display()
        ))
    })?;
    let ext = svc.as_mapping_mut().and_then(|m| m.remove("extends"));
    let Some(ext) = ext else { return Ok(svc) };
    let (base_name, file) = match &ext {
        Value::String(s) => (s.clone(), None),
        Value::Mapping(m) => (
            m.get("service")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "{}: services.{name}.extends: `service` is required",
                        path.display()
                    ))
                })?,
            m.get("file").and_then(Value::as_str).map(str::to_string),
        ),
        _ => {
            return Err(Error::Invalid(format!(
                "{}: services.{name}.extends: expected a service name or a mapping",
                path.display()
            )))
        }
    };
    let mut base = match file {
        None => resolve_service(services, &base_name, path, vars, unset, seen)?,
        Some(f) => {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let other = absolute(&dir, Path::new(&f));
            let text = std::fs::read_to_string(&other).map_err(io("read", &other))?;
            let mut ov: Value = serde_yaml_ng::from_str(&text)
                .map_err(|e| Error::Invalid(format!("{}: {e}", other.display())))?;
            ov.apply_merge()
                .map_err(|e| Error::Invalid(format!("{}: {e}", other.display())))?;
            strip_extensions(&mut ov, 0);
            interpolate_tree(&mut ov, vars, unset, &mut Vec::new())
                .map_err(|e| Error::Invalid(format!("{}: {e}", other.display())))?;
            resolve_paths(&mut ov, other.parent().unwrap_or(Path::new("/")));
            let Some(Value::Mapping(os)) = ov.get("services").cloned() else {
                return Err(Error::Invalid(format!(
                    "{}: no services to extend",
                    other.display()
                )));
            };
            resolve_service(&os, &base_name, &other, vars, unset, seen)?
        }
    };
    // What a service shares with others is not inherited (the specification's rule).
    if let Some(m) = base.as_mapping_mut() {
        for k in ["depends_on", "links", "volumes_from"] {
            m.remove(k);
        }
    }
    merge_service(&mut base, svc);
    seen.pop();
    Ok(base)
}

/// `x-` keys at the top level and in each service, network, volume, secret and config.
fn strip_extensions(v: &mut Value, depth: usize) {
    let Value::Mapping(m) = v else { return };
    m.retain(|k, _| !k.as_str().is_some_and(|s| s.starts_with("x-")));
    if depth == 0 {
        for section in ["services", "networks", "volumes", "secrets", "configs"] {
            if let Some(Value::Mapping(items)) = m.get_mut(section) {
                for (_, item) in items.iter_mut() {
                    strip_extensions(item, 1);
                }
            }
        }
    }
}

/// Relative paths (build contexts, bind sources, env files, secret and config files) made
/// absolute against the directory they are relative to.
fn resolve_paths(v: &mut Value, base: &Path) {
    let abs = |s: &str| -> String {
        if s.starts_with('/') || s.contains("://") {
            s.to_string()
        } else if let Some(rest) = s.strip_prefix("~/") {
            let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
            format!("{home}/{rest}")
        } else {
            let joined = base.join(s);
            normalize(&joined).to_string_lossy().into_owned()
        }
    };
    let Value::Mapping(m) = v else { return };
    if let Some(Value::Mapping(services)) = m.get_mut("services") {
        for (_, svc) in services.iter_mut() {
            let Value::Mapping(s) = svc else { continue };
            match s.get_mut("build") {
                Some(Value::String(c)) => *c = abs(c),
                Some(Value::Mapping(b)) => match b.get_mut("context") {
                    Some(Value::String(c)) => *c = abs(c),
                    None => {
                        b.insert("context".into(), abs(".").into());
                    }
                    _ => {}
                },
                _ => {}
            }
            match s.get_mut("env_file") {
                Some(Value::String(f)) => *f = abs(f),
                Some(Value::Sequence(l)) => {
                    for f in l.iter_mut() {
                        if let Value::String(x) = f {
                            *x = abs(x);
                        }
                    }
                }
                _ => {}
            }
            if let Some(Value::Sequence(vols)) = s.get_mut("volumes") {
                for vol in vols.iter_mut() {
                    match vol {
                        Value::String(spec) => {
                            if let Some((src, rest)) = spec.split_once(':') {
                                if src.starts_with('.') || src.starts_with('~') {
                                    *spec = format!("{}:{rest}", abs(src));
                                }
                            }
                        }
                        Value::Mapping(l) => {
                            let bind = l.get("type").and_then(Value::as_str) == Some("bind");
                            if let (true, Some(Value::String(src))) = (bind, l.get_mut("source")) {
                                *src = abs(src);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(Value::Mapping(items)) = m.get_mut(section) {
            for (_, item) in items.iter_mut() {
                if let Some(Value::String(f)) = item.get_mut("file") {
                    *f = abs(f);
                }
            }
        }
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The tree as the typed model; an error names the file, the line where it can be found,
/// and the key (`services.web.ports[0]`).
fn typed(v: Value, file: &Path, text: Option<&str>) -> Result<ComposeFile> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let line = text
            .and_then(|t| locate(t, &path))
            .map(|l| format!(" line {l}:"))
            .unwrap_or_default();
        let inner = e.into_inner().to_string();
        let what = match inner.strip_prefix("unknown field ") {
            Some(rest) => {
                let field = rest.split(',').next().unwrap_or(rest).trim_matches('`');
                format!("additional property {field:?} is not allowed")
            }
            None => inner,
        };
        Error::Invalid(format!("{}:{line} {path}: {what}", file.display()))
    })
}

/// The line (1-based) where a key path like `services.web.ports[0]` is written, found by
/// following the keys down the file's indentation.
fn locate(text: &str, path: &str) -> Option<usize> {
    let keys: Vec<&str> = path
        .split('.')
        .map(|k| k.split('[').next().unwrap_or(k))
        .filter(|k| !k.is_empty() && *k != "?")
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut indent: Option<usize> = None;
    let mut found = None;
    for key in keys {
        let mut hit = None;
        for (i, l) in lines.iter().enumerate().skip(from) {
            let t = l.trim_start();
            let ind = l.len() - t.len();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if let Some(parent) = indent {
                if ind <= parent && i > from {
                    break;
                }
            }
            let t = t.trim_start_matches("- ");
            let name = t.split(':').next().unwrap_or("").trim_matches(['"', '\'']);
            if name == key && t.contains(':') {
                hit = Some((i, ind));
                break;
            }
        }
        let (i, ind) = hit?;
        found = Some(i + 1);
        from = i + 1;
        indent = Some(ind);
    }
    found
}

/// Names that services use but the project does not define.
fn check_references(p: &Project) -> Result<()> {
    let networks: BTreeSet<&String> = p.model.networks.keys().collect();
    let volumes: BTreeSet<&String> = p.model.volumes.keys().collect();
    for (name, svc) in &p.model.services {
        if svc.image.is_none() && svc.build.is_none() {
            return Err(Error::Invalid(format!(
                "service {name:?} has neither an image nor a build context specified: invalid compose project"
            )));
        }
        for (dep, d) in svc.depends_on.iter().flat_map(|d| d.entries()) {
            if d.required && !p.model.services.contains_key(&dep) {
                return Err(Error::Invalid(format!(
                    "service {name:?} depends on undefined service {dep:?}: invalid compose project"
                )));
            }
        }
        for (n, _) in svc.networks.iter().flat_map(|n| n.entries()) {
            if n != "default" && !networks.contains(&n) {
                return Err(Error::Invalid(format!(
                    "service {name:?} refers to undefined network {n}: invalid compose project"
                )));
            }
        }
        for v in &svc.volumes {
            if let crate::service_container::VolumeSource::Named(vol) =
                crate::service_container::volume_source(v)
            {
                if !volumes.contains(&vol) {
                    return Err(Error::Invalid(format!(
                        "service {name:?} refers to undefined volume {vol}: invalid compose project"
                    )));
                }
            }
        }
        for s in &svc.secrets {
            let src = file_reference_source(s);
            if !p.model.secrets.contains_key(src) {
                return Err(Error::Invalid(format!(
                    "service {name:?} refers to undefined secret {src}: invalid compose project"
                )));
            }
        }
        for s in &svc.configs {
            let src = file_reference_source(s);
            if !p.model.configs.contains_key(src) {
                return Err(Error::Invalid(format!(
                    "service {name:?} refers to undefined config {src}: invalid compose project"
                )));
            }
        }
    }
    Ok(())
}

pub(crate) fn file_reference_source(r: &crate::model::FileReference) -> &str {
    match r {
        crate::model::FileReference::Name(n) => n,
        crate::model::FileReference::Long { source, .. } => source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn options(dir: &Path) -> ProjectOptions {
        ProjectOptions {
            working_dir: dir.to_path_buf(),
            environment: [("HOME".to_string(), "/home/u".to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_file_the_env_file_and_the_directory_name() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("My_App.1");
        write(&dir, ".env", "TAG=1.36\nPORT=8080\n");
        write(&dir, "docker-compose.yml", "services:\n  web:\n    image: busybox:${TAG}\n    ports: [\"${PORT}:80\"]\n    volumes: [./conf:/etc/conf:ro]\n");
        let mut o = options(&dir.join("sub"));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        o.environment.insert("PORT".into(), "9090".into());
        let p = load(&o).unwrap();
        assert_eq!(p.name, "my_app1");
        let web = &p.model.services["web"];
        assert_eq!(web.image.as_deref(), Some("busybox:1.36"));
        assert_eq!(web.ports, vec![crate::model::Port::Short("9090:80".into())]);
        assert_eq!(
            web.volumes,
            vec![crate::model::ServiceVolume::Short(format!(
                "{}/conf:/etc/conf:ro",
                dir.display()
            ))]
        );
    }

    #[test]
    fn override_files_merge_and_name_wins_in_order() {
        let t = tempfile::tempdir().unwrap();
        let a = write(
            t.path(),
            "a.yaml",
            "name: fromfile\nservices:\n  web:\n    image: a\n    environment: [X=1]\n",
        );
        let b = write(t.path(), "b.yaml", "services:\n  web:\n    environment: {Y: 2}\n  db:\n    image: pg\n    profiles: [debug]\n");
        let mut o = options(t.path());
        o.files = vec![a, b];
        let p = load(&o).unwrap();
        assert_eq!(p.name, "fromfile");
        assert_eq!(p.services_in_order(&[]).unwrap(), vec!["web".to_string()]);
        let env = p.model.services["web"]
            .environment
            .as_ref()
            .unwrap()
            .pairs(&['=']);
        assert_eq!(
            env,
            vec![
                ("X".into(), Some("1".into())),
                ("Y".into(), Some("2".into()))
            ]
        );
        o.profiles = vec!["debug".into()];
        o.project_name = Some("Bad Name".into());
        let e = load(&o).unwrap_err().to_string();
        assert!(e.starts_with("invalid project name \"Bad Name\""), "{e}");
        o.project_name = None;
        o.environment
            .insert("COMPOSE_PROJECT_NAME".into(), "env-name".into());
        let p = load(&o).unwrap();
        assert_eq!(p.name, "env-name");
        assert_eq!(p.services_in_order(&[]).unwrap().len(), 2);
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_file_line_and_key() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            "compose.yaml",
            "services:\n  web:\n    image: a\n    x-note: fine\n    restrt: always\n",
        );
        let e = load(&options(t.path())).unwrap_err().to_string();
        let f = t.path().join("compose.yaml");
        assert_eq!(
            e,
            format!(
                "{}: line 5: services.web.restrt: additional property \"restrt\" is not allowed",
                f.display()
            )
        );
        write(
            t.path(),
            "compose.yaml",
            "services:\n  web:\n    image: a\n    cap_add: NET_ADMIN\n",
        );
        let e = load(&options(t.path())).unwrap_err().to_string();
        assert!(
            e.contains("line 4: services.web.cap_add: invalid type"),
            "{e}"
        );
        write(
            t.path(),
            "compose.yaml",
            "services:\n  web:\n    image: a\n    depends_on: [db]\n",
        );
        let e = load(&options(t.path())).unwrap_err().to_string();
        assert!(e.contains("depends on undefined service \"db\""), "{e}");
        write(
            t.path(),
            "compose.yaml",
            "services:\n  web:\n    image: \"${NEED:?set it}\"\n",
        );
        let e = load(&options(t.path())).unwrap_err().to_string();
        assert!(
            e.ends_with("services.web.image: required variable NEED is missing a value: set it"),
            "{e}"
        );
    }

    #[test]
    fn extends_include_anchors_and_cycles() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "common/base.yaml", "services:\n  base:\n    image: busybox\n    environment: {A: base}\n    volumes: [./data:/data]\n");
        write(
            t.path(),
            "lib/db.yaml",
            "services:\n  db:\n    image: pg\n    env_file: db.env\n",
        );
        write(
            t.path(),
            "compose.yaml",
            "include: [lib/db.yaml]\nx-env: &env {B: anchored}\nservices:\n  web:\n    extends: {file: common/base.yaml, service: base}\n    environment:\n      <<: *env\n      A: web\n  worker:\n    extends: web\n    command: work\n",
        );
        let p = load(&options(t.path())).unwrap();
        let web = &p.model.services["web"];
        let env = web.environment.as_ref().unwrap().pairs(&['=']);
        assert!(env.contains(&("A".into(), Some("web".into()))), "{env:?}");
        assert!(
            env.contains(&("B".into(), Some("anchored".into()))),
            "{env:?}"
        );
        // Paths of an extended file are relative to that file.
        assert_eq!(
            web.volumes,
            vec![crate::model::ServiceVolume::Short(format!(
                "{}/common/data:/data",
                t.path().display()
            ))]
        );
        assert_eq!(p.model.services["worker"].image.as_deref(), Some("busybox"));
        let db = &p.model.services["db"];
        assert_eq!(
            db.env_file.as_ref().unwrap().items(),
            vec![format!("{}/lib/db.env", t.path().display())]
        );
        write(t.path(), "compose.yaml", "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n");
        let p = load(&options(t.path())).unwrap();
        let e = p.services_in_order(&[]).unwrap_err().to_string();
        assert_eq!(e, "dependency cycle detected: a -> b -> a");
    }

    #[test]
    fn restart_takes_the_dependents_that_ask_for_it() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            "compose.yaml",
            "services:\n  db: {image: x}\n  api:\n    image: x\n    depends_on: {db: {condition: service_started, restart: true}}\n  ui:\n    image: x\n    depends_on: {api: {condition: service_started, restart: true}}\n  cron:\n    image: x\n    depends_on: [db]\n",
        );
        let p = load(&options(t.path())).unwrap();
        assert_eq!(
            p.with_restart_dependents(&["db".into()]),
            ["db", "api", "ui"]
        );
        assert_eq!(p.with_restart_dependents(&["cron".into()]), ["cron"]);
    }

    #[test]
    fn push_takes_built_services_that_name_their_image() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            "compose.yaml",
            "services:\n  app: {image: reg/app:1, build: .}\n  local: {build: .}\n  db: {image: postgres}\n",
        );
        let p = load(&options(t.path())).unwrap();
        let pushed = p.images_to_push(&[]).unwrap();
        assert_eq!(pushed, [("app".to_string(), "reg/app:1".to_string())]);
        assert!(p.images_to_push(&["db".into()]).unwrap().is_empty());
    }
}
