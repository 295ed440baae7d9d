//! `POST /build` (the classic builder's API, which the docker CLI uses when `/_ping` says
//! `Builder-Version: 1`) and `POST /build/prune`: the body is the context as a tar, the
//! query says the rest; the answer is Docker's JSON stream (`stream` lines, the image ID in
//! `aux`, `error` at the end of a failed build). Berth's own: `contextpath=DIR` builds a
//! directory on this machine in place, and `GET /build/history[/{id}]` reads the build
//! history (`berth_build::build_history`), for the dashboard.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::progress::{progress_response, JsonProgress};
use crate::query::{all_values, flag, int, Params};
use crate::server::{blocking, AppState};
use crate::streaming::BodyReader;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/build", post(build))
        .route("/build/prune", post(prune))
        .route("/build/history", get(history))
        .route("/build/history/{id}", get(history_one))
}

/// The recorded builds, newest first, without their steps' output (`/build/history/{id}`
/// has it).
async fn history(State(e): State<AppState>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let all = berth_build::build_history::list(e.rt.root(), false);
        serde_json::to_value(all)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

async fn history_one(
    State(e): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let b = berth_build::build_history::get(e.rt.root(), &id)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no such build: {id}")))?;
        serde_json::to_value(b)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// A JSON-object query value (`buildargs`, `labels`) as key → value.
fn json_map(q: &Params, key: &str) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    match q.get(key).filter(|v| !v.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(v) => serde_json::from_str(v).map_err(|e| {
            ApiError::bad_request(format!(
                "invalid {key}: expected a JSON object of strings: {e}"
            ))
        }),
    }
}

/// The options a build through the API cannot honour yet, refused by name when set.
const REFUSED: &[&str] = &[
    "remote",
    "cpusetcpus",
    "cpuperiod",
    "cpuquota",
    "cpushares",
    "memory",
    "memswap",
    "squash",
    "outputs",
];

/// Credentials for base images: `X-Registry-Config`, base64url JSON of registry → auth.
fn registry_config(
    headers: &HeaderMap,
) -> Result<BTreeMap<String, berth_registry::auth::Credentials>, ApiError> {
    let v: BTreeMap<String, Value> =
        match crate::progress::json_header(headers, "X-Registry-Config")? {
            None => return Ok(BTreeMap::new()),
            Some(v) => serde_json::from_value(v).map_err(|_| {
                ApiError::bad_request("X-Registry-Config: expected a JSON object of registries")
            })?,
        };
    let mut out = BTreeMap::new();
    for (server, a) in v {
        let field = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (username, password) = (field("username"), field("password"));
        if !username.is_empty() || !password.is_empty() {
            out.insert(
                berth_registry::auth::registry_of(Some(&server)),
                berth_registry::auth::Credentials { username, password },
            );
        }
    }
    Ok(out)
}

/// Pulls the image `name` (`:latest` when it names no tag or digest) with the server's
/// registry configuration and these credentials by registry, for an operation that needs it
/// (a build's base image, a Compose service's image).
pub(crate) fn pull_named(
    store: &berth_image::Store,
    name: &str,
    creds: &BTreeMap<String, berth_registry::auth::Credentials>,
    platform: Option<&str>,
    progress: &dyn berth_registry::Progress,
) -> Result<berth_image::Image, String> {
    let mut reference = berth_image::Reference::parse(name).map_err(|e| e.to_string())?;
    if reference.tag.is_none() && reference.digest.is_none() {
        reference.tag = Some("latest".into());
    }
    let mut cfg = berth_registry::RegistryConfig::load().map_err(|e| e.to_string())?;
    cfg.credentials =
        berth_registry::CredentialSource::Given(creds.get(&reference.domain).cloned());
    berth_registry::pull::pull(
        store,
        &cfg,
        &reference,
        &berth_registry::pull::PullOptions {
            platform: platform.map(str::to_string),
        },
        progress,
    )
    .map_err(|e| e.to_string())
}

/// A build made as part of another operation (a Compose service's image for the dashboard's
/// `up`): recorded in the build history like any other, its output not streamed.
pub(crate) fn build_unstreamed(
    e: &crate::server::Engine,
    opts: &berth_build::BuildOptions,
    context_name: &str,
) -> Result<berth_image::Image, String> {
    let progress = JsonProgress::discarding();
    let host = ApiHost {
        e,
        progress: &progress,
        creds: BTreeMap::new(),
        quiet: true,
        output: Default::default(),
    };
    berth_build::build_history::build_recorded(&e.rt, opts, &host, context_name)
        .map_err(|err| err.to_string())
}

/// What the builder asks of a server: base images (pulled with the request's credentials)
/// and the stream to write to.
struct ApiHost<'a> {
    e: &'a crate::server::Engine,
    progress: &'a JsonProgress,
    creds: BTreeMap<String, berth_registry::auth::Credentials>,
    quiet: bool,
    /// RUN output cut into lines, as the classic builder's stream has it.
    output: std::sync::Mutex<berth_build::LineSplitter>,
}

impl berth_build::BuildHost for ApiHost<'_> {
    fn base_image(
        &self,
        name: &str,
        platform: Option<&str>,
        pull: bool,
    ) -> Result<berth_image::Image, String> {
        if !pull {
            if let Ok(img) = self.e.store.lookup(name) {
                return Ok(img);
            }
        }
        let progress: &dyn berth_registry::Progress = if self.quiet {
            &berth_registry::Quiet
        } else {
            self.progress
        };
        pull_named(&self.e.store, name, &self.creds, platform, progress)
            .map_err(|e| format!("failed to resolve source metadata for {name}: {e}"))
    }

    /// As the classic builder: text lines as `{"stream": …}`, the image ID as `aux` before
    /// "Successfully built", a RUN step's output line by line, its stderr in red.
    fn event(&self, e: &berth_build::BuildEvent) {
        use berth_build::{BuildEvent, OutputStream};
        let send_output = |stream: OutputStream, line: &str| {
            let text = match stream {
                OutputStream::Stderr => format!("\x1b[91m{line}\x1b[0m"),
                OutputStream::Stdout => line.to_string(),
            };
            self.progress.line(json!({ "stream": text }));
        };
        match *e {
            BuildEvent::Output { stream, chunk, .. } => {
                let lines = self.output.lock().map(|mut o| o.push(stream, chunk));
                for l in lines.unwrap_or_default() {
                    send_output(stream, &l);
                }
            }
            BuildEvent::RunEnded { .. } => {
                let rest = self.output.lock().map(|mut o| o.finish());
                for (stream, l) in rest.unwrap_or_default() {
                    send_output(stream, &format!("{l}\n"));
                }
            }
            _ => {
                if let BuildEvent::Built { id } = e {
                    self.progress.line(json!({"aux": {"ID": id}}));
                }
                // `q`: the image ID only (the builder still tells the steps, for the
                // build history).
                if self.quiet {
                    return;
                }
                if let Some(line) = e.classic_line() {
                    self.progress.line(json!({ "stream": format!("{line}\n") }));
                }
            }
        }
    }

    fn download(&self, url: &str, dest: &std::path::Path) -> Result<Option<i64>, String> {
        let mut f =
            std::fs::File::create(dest).map_err(|e| format!("create {}: {e}", dest.display()))?;
        let got = berth_registry::download::download(url, &mut f).map_err(|e| e.to_string())?;
        Ok(got.last_modified)
    }
}

async fn build(
    State(e): State<AppState>,
    Query(q): Query<Params>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    for k in REFUSED {
        let set = q
            .get(*k)
            .is_some_and(|v| !matches!(v.as_str(), "" | "0" | "false" | "{}" | "[]" | "null"));
        if set {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                format!("build option {k:?} is not supported by berth yet"),
            ));
        }
    }
    let mut tags = Vec::new();
    for t in all_values(raw.as_deref(), "t")? {
        tags.push(
            berth_image::Reference::parse_tagged_default(&t)
                .map_err(|err| ApiError::bad_request(format!("invalid tag {t:?}: {err}")))?,
        );
    }
    let build_args: Vec<String> = json_map(&q, "buildargs")?
        .into_iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k,
        })
        .collect();
    let labels: Vec<String> = json_map(&q, "labels")?
        .into_iter()
        .map(|(k, v)| format!("{k}={}", v.unwrap_or_default()))
        .collect();
    let dockerfile_name = q
        .get("dockerfile")
        .cloned()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "Dockerfile".into());
    if dockerfile_name.starts_with('/') || dockerfile_name.split('/').any(|c| c == "..") {
        return Err(ApiError::bad_request(format!(
            "dockerfile {dockerfile_name:?}: must be a path inside the context"
        )));
    }
    if !matches!(
        q.get("isolation").map(String::as_str),
        None | Some("" | "default")
    ) {
        return Err(ApiError::bad_request(
            "isolation: only default is supported on linux",
        ));
    }
    // `NAME:IP`, comma-separated (docker-py) or repeated (the docker CLI).
    let extra_hosts: Vec<String> = all_values(raw.as_deref(), "extrahosts")?
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect();
    let quiet = flag(&q, "q");
    let creds = registry_config(&headers)?;
    let network = q
        .get("networkmode")
        .cloned()
        .filter(|n| !n.is_empty() && n != "default");
    let text = |k: &str| q.get(k).cloned().filter(|v| !v.is_empty());
    let (target, platform) = (text("target"), text("platform"));
    let (no_cache, pull) = (flag(&q, "nocache"), flag(&q, "pull"));
    let shm_size = match int(&q, "shmsize")? {
        None | Some(0) => None,
        Some(n) if n < 0 => {
            return Err(ApiError::bad_request(
                "shmsize: SHM size can not be less than 0",
            ))
        }
        Some(n) => Some(n as u64),
    };
    // A JSON list of image names.
    let cache_from: Vec<String> = match text("cachefrom") {
        None => Vec::new(),
        Some(v) => serde_json::from_str(&v).map_err(|e| {
            ApiError::bad_request(format!(
                "invalid cachefrom: expected a JSON list of image names: {e}"
            ))
        })?,
    };
    // `contextpath` (berth's own, for the dashboard): a directory on this machine is the
    // context, read in place as `berth build DIR` reads it; the body is not read.
    let local = match text("contextpath") {
        Some(path) => {
            let dir = std::path::PathBuf::from(&path);
            if !dir.is_absolute() || !dir.is_dir() {
                return Err(ApiError::bad_request(format!(
                    "contextpath {path:?}: expected the absolute path of a directory on the server's machine"
                )));
            }
            Some(dir)
        }
        None => None,
    };
    // The context is received completely before the build (and its stream) begins.
    let context = match &local {
        Some(_) => None,
        None => {
            let body = BodyReader::new(req.into_body());
            let engine = e.clone();
            Some(
                blocking(move || {
                    Ok(berth_build::streamed_context::StreamedContext::receive(
                        &engine.store,
                        body,
                        "the request body",
                    )?)
                })
                .await?,
            )
        }
    };
    Ok(progress_response(move |p| {
        let (dir, dockerfile, context_name) = match (&local, &context) {
            (Some(dir), _) => (
                dir.clone(),
                dir.join(&dockerfile_name),
                dir.display().to_string(),
            ),
            (None, Some(c)) => (
                c.dir.clone(),
                c.dockerfile
                    .clone()
                    .unwrap_or_else(|| c.dir.join(&dockerfile_name)),
                "(sent by the client)".to_string(),
            ),
            (None, None) => return Err(ApiError::internal("no build context")),
        };
        let opts = berth_build::BuildOptions {
            context: dir,
            dockerfile,
            dockerfile_name,
            tags,
            build_args,
            target,
            no_cache,
            pull,
            platform,
            network,
            extra_hosts,
            labels,
            quiet,
            secrets: Vec::new(),
            ssh: Vec::new(),
            shm_size,
            cache_from,
            // The classic builder's API has no cache export.
            cache_to: Vec::new(),
            keep_storage: None,
        };
        let host = ApiHost {
            e: &e,
            progress: p,
            creds,
            quiet,
            output: Default::default(),
        };
        let img =
            match berth_build::build_history::build_recorded(&e.rt, &opts, &host, &context_name) {
                Ok(img) => img,
                // The classic builder's words and code for a failed RUN (clients match them).
                Err(berth_build::Error::RunFailed { command, code, .. }) => {
                    let message =
                        format!("The command '{command}' returned a non-zero code: {code}");
                    p.line(
                    json!({"errorDetail": {"code": code, "message": message}, "error": message}),
                );
                    return Ok(());
                }
                Err(err) => return Err(err.into()),
            };
        let id = img.id().to_string();
        if quiet {
            p.line(json!({ "stream": format!("{id}\n") }));
        }
        drop(context);
        Ok(())
    })
    .await)
}

/// POST `/build/prune`: the build cache, all of it, or what `filters` (`until`) and
/// `keep-storage` leave.
async fn prune(
    State(e): State<AppState>,
    Query(q): Query<crate::query::Params>,
) -> Result<Json<Value>, ApiError> {
    let filters = crate::query::filter_args(&q)?;
    let keep = match q.get("keep-storage") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("invalid keep-storage {v:?}: expected a number of bytes"),
            )
        })?),
    };
    let o = berth_build::prune::PruneOptions::from_filters(&filters, keep)
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    blocking(move || {
        let freed = berth_build::prune::prune_build_cache_with(e.rt.root(), &o)?;
        Ok(Json(
            json!({"CachesDeleted": null, "SpaceReclaimed": freed}),
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_may_be_null() {
        let q: Params = [("buildargs".to_string(), r#"{"A":"1","B":null}"#.to_string())].into();
        let m = json_map(&q, "buildargs").unwrap();
        assert_eq!(m["A"].as_deref(), Some("1"));
        assert_eq!(m["B"], None);
        let q: Params = [("labels".to_string(), "[1]".to_string())].into();
        assert!(json_map(&q, "labels").is_err());
    }
}
