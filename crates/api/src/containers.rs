//! `/containers/…`: list, create, inspect, start, stop, restart, kill, wait, logs, pause,
//! unpause, rename, top, remove, prune —
//! (attach and resize in `container_attach`) —
//! each the engine's operation with the API's parameters and status codes.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use berth_runtime::container_list::{Filters, ListOptions};
use berth_runtime::container_logs::{parse_time, LogOptions};
use berth_runtime::container_wait::WaitCondition;
use berth_runtime::record::Status;
use berth_runtime::ContainerCreate;
use serde_json::{json, Value};

use crate::container_attach::{self, content_type, stream_bytes};
use crate::error::ApiError;
use crate::query::{filters, flag, int, Params};
use crate::server::{blocking, status, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/json", get(list))
        .route("/containers/create", post(create))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/logs", get(logs))
        .route("/containers/{id}/attach", post(container_attach::attach))
        .route(
            "/containers/{id}/attach/ws",
            get(crate::container_attach_ws::attach_ws),
        )
        .route("/containers/{id}/resize", post(container_attach::resize))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/update", post(update))
        .route("/containers/{id}/top", get(top))
        .route("/containers/{id}", delete(remove))
        // A link's name has a slash (`rm --link /web/db`).
        .route("/containers/{id}/{alias}", delete(remove_by_link_name))
        .route("/containers/{id}/{alias}/json", get(inspect_by_link_name))
}

async fn list(State(e): State<AppState>, Query(q): Query<Params>) -> Result<Json<Value>, ApiError> {
    let mut f = Filters::default();
    for (k, vs) in filters(&q)? {
        for v in vs {
            f.add(&k, &v);
        }
    }
    let options = ListOptions {
        all: flag(&q, "all"),
        limit: int(&q, "limit")?.filter(|n| *n > 0).map(|n| n as usize),
        filters: f,
    };
    let size = flag(&q, "size");
    blocking(move || {
        let list = e.rt.list_containers(&options)?;
        let link_names = e.rt.link_names();
        Ok(Json(Value::Array(
            list.iter()
                .map(|c| {
                    let links = link_names.get(&c.id).map(Vec::as_slice);
                    let mut s = e.rt.container_summary(c, links.unwrap_or_default());
                    if size {
                        let (rw, root) = e.rt.container_sizes(c);
                        s["SizeRw"] = rw.into();
                        s["SizeRootFs"] = root.into();
                    }
                    s
                })
                .collect(),
        )))
    })
    .await
}

/// moby's `CheckForJSON`: a body must say it is JSON.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !body.is_empty() && !essence.is_empty() && essence != "application/json" {
        return Err(ApiError::bad_request(format!(
            "unsupported Content-Type header ({ct}): must be 'application/json'"
        )));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "invalid JSON: got EOF while reading request body",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

async fn create(
    State(e): State<AppState>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec: ContainerCreate = json_body(&headers, &body)?;
    // A start usually follows (`docker run`): the wait for the kernel's cgroup lock that
    // its first process move needs can begin now and be over by then (see `start`).
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    if let Some(p) = q.get("platform").filter(|p| !p.is_empty()) {
        check_platform(p)?;
    }
    let name = q.get("name").filter(|n| !n.is_empty()).cloned();
    let (rec, warnings) =
        blocking(move || Ok(e.rt.create_with_warnings(name.as_deref(), &spec)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": rec.id, "Warnings": warnings})),
    ))
}

/// berth runs the host's platform only.
fn check_platform(p: &str) -> Result<(), ApiError> {
    let host = berth_image::config::host_architecture();
    let mut parts = p.split('/');
    let (os, arch) = (parts.next().unwrap_or(""), parts.next().unwrap_or(host));
    if os != "linux" || arch != host {
        return Err(ApiError::bad_request(format!(
            "image platform {p} does not match this host (linux/{host}): berth runs the host's platform only"
        )));
    }
    Ok(())
}

async fn inspect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
    Extension(version): Extension<crate::server::ApiVersion>,
) -> Result<Json<Value>, ApiError> {
    let size = flag(&q, "size");
    blocking(move || {
        let c = e.rt.find(&id)?;
        let mut v = e.rt.container_json(&c);
        // Before API 1.45, a user-defined network's aliases also held the short ID.
        if version < crate::server::ApiVersion((1, 45)) {
            let short = c.id[..12].to_string();
            if let Some(nets) = v["NetworkSettings"]["Networks"].as_object_mut() {
                for (name, n) in nets.iter_mut() {
                    if matches!(name.as_str(), "bridge" | "host" | "none") {
                        continue;
                    }
                    let mut aliases: Vec<Value> =
                        n["Aliases"].as_array().cloned().unwrap_or_default();
                    aliases.push(json!(short));
                    n["Aliases"] = json!(aliases);
                }
            }
        }
        if size {
            let (rw, root) = e.rt.container_sizes(&c);
            v["SizeRw"] = rw.into();
            v["SizeRootFs"] = root.into();
        }
        Ok(Json(v))
    })
    .await
}

async fn start(State(e): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    // The container's first cgroup move waits for the kernel; start that wait now (as the
    // CLI does), so that it overlaps the supervisor's start.
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    blocking(move || {
        let c = e.rt.find(&id)?;
        if c.state.status == Status::Running {
            return Err(ApiError::not_modified());
        }
        // A client attached through the API waits for this start: the supervisor keeps
        // the output for it.
        if e.attachments.waiting(&c.id) {
            e.rt.start_for_attach(&c.id, &e.exe)?;
            e.attachments.started(&c.id);
        } else {
            e.rt.start_detached(&c.id, &e.exe)?;
        }
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

/// `t` (seconds; -1 waits forever, as Docker) for stop and restart.
fn stop_timeout(q: &Params) -> Result<Option<u64>, ApiError> {
    Ok(match int(q, "t")? {
        None => None,
        Some(t) if t < 0 => Some(u64::MAX / 4),
        Some(t) => Some(t as u64),
    })
}

async fn stop(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let t = stop_timeout(&q)?;
    let signal = q.get("signal").filter(|s| !s.is_empty()).cloned();
    blocking(move || {
        let c = e.rt.find(&id)?;
        if c.state.status != Status::Running && c.state.status != Status::Restarting {
            return Err(ApiError::not_modified());
        }
        if let Some(s) = signal {
            e.rt.kill(&c.id, &s)?;
        }
        e.rt.stop(&c.id, t)?;
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

async fn restart(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let t = stop_timeout(&q)?;
    blocking(move || {
        let c = e.rt.find(&id)?;
        e.rt.stop(&c.id, t)?;
        e.rt.start_detached(&c.id, &e.exe)?;
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

async fn kill(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let signal = q.get("signal").filter(|s| !s.is_empty()).cloned();
    blocking(move || {
        match signal {
            Some(s) => e.rt.kill(&id, &s)?,
            // No signal: SIGKILL and the wait for the exit, as dockerd.
            None => e.rt.kill_and_wait(&id)?,
        }
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

/// The answer's headers go out as soon as the wait is registered (the docker CLI starts the
/// container then); the body when the condition is met. A client that leaves ends the wait.
async fn wait(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let condition: WaitCondition = q
        .get("condition")
        .map(String::as_str)
        .unwrap_or("")
        .parse()?;
    let engine = e.clone();
    let waiter = blocking(move || Ok(engine.rt.waiter(&id, condition)?)).await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<i32>();
    tokio::task::spawn_blocking(move || {
        if let Some(code) = waiter.wait(&e.rt, &|| tx.is_closed()) {
            let _ = tx.send(code);
        }
    });
    let body = futures_util::stream::once(async move {
        let v = match rx.await {
            Ok(code) => json!({"StatusCode": code, "Error": null}),
            Err(_) => json!({"StatusCode": -1, "Error": {"Message": "the wait ended early"}}),
        };
        Ok::<_, Infallible>(Bytes::from(format!("{v}\n")))
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR)))
}

/// `since`/`until` as the docker CLI sends them (Unix seconds with nanoseconds); 0 is unset.
fn log_time(q: &Params, key: &str) -> Result<Option<String>, ApiError> {
    match q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s)
            if s.trim_start_matches('0')
                .trim_start_matches('.')
                .trim_start_matches('0')
                .is_empty() =>
        {
            Ok(None)
        }
        Some(s) => Ok(Some(parse_time(key, s)?)),
    }
}

async fn logs(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let (stdout, stderr) = (flag(&q, "stdout"), flag(&q, "stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tail = match q.get("tail").map(String::as_str) {
        None | Some("") | Some("all") => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid value for tail: {n:?}: expected a number or \"all\""
            ))
        })?),
    };
    let options = LogOptions {
        follow: flag(&q, "follow"),
        since: log_time(&q, "since")?,
        until: log_time(&q, "until")?,
        tail,
        stdout,
        stderr,
    };
    let timestamps = flag(&q, "timestamps");
    let engine = e.clone();
    let c = blocking(move || Ok(engine.rt.find(&id)?)).await?;
    let tty = c.config.tty;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    // Whether the logs can be read is the answer's status (the none driver's cannot).
    let (opened_tx, opened) = tokio::sync::oneshot::channel::<Result<(), ApiError>>();
    tokio::task::spawn_blocking(move || {
        let mut entries = match e.rt.logs(&c.id, &options) {
            Ok(entries) => {
                let _ = opened_tx.send(Ok(()));
                entries
            }
            Err(err) => {
                let _ = opened_tx.send(Err(err.into()));
                return;
            }
        };
        while let Some(next) = entries.next_or_idle() {
            let Some(entry) = next else {
                if tx.is_closed() {
                    return;
                }
                continue;
            };
            let text = if timestamps {
                format!("{} {}", entry.time, entry.log)
            } else {
                entry.log
            };
            let kind = if entry.stream == "stderr" { 2 } else { 1 };
            let bytes = stream_bytes(tty, kind, text.as_bytes());
            if tx.blocking_send(Bytes::from(bytes)).is_err() {
                return;
            }
        }
    });
    opened
        .await
        .map_err(|_| ApiError::internal("the log reader stopped"))??;
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|b| b.map(Ok::<_, Infallible>))
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(tty))
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR)))
}

async fn prune(
    State(e): State<AppState>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let args = crate::query::filter_args(&q)?;
    blocking(move || {
        let r = e.rt.prune_containers(&args)?;
        Ok(Json(json!({
            "ContainersDeleted": r.deleted,
            "SpaceReclaimed": r.space_reclaimed,
        })))
    })
    .await
}

async fn pause(State(e): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    blocking(move || {
        e.rt.set_paused(&id, true)?;
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

async fn unpause(State(e): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    blocking(move || {
        e.rt.set_paused(&id, false)?;
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

async fn rename(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let name = q.get("name").cloned().unwrap_or_default();
    blocking(move || {
        e.rt.rename(&id, &name)?;
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

/// `docker update`: Docker's `UpdateConfig` in the body.
async fn update(
    State(e): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let u: berth_runtime::container_update::ContainerUpdate = json_body(&headers, &body)?;
    let report = blocking(move || Ok(e.rt.update(&id, &u)?)).await?;
    Ok(Json(json!({"Warnings": report.warnings})))
}

/// `ps_args` as one string, split on spaces as Docker does.
async fn top(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let args: Vec<String> = q
        .get("ps_args")
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    blocking(move || {
        let t = e.rt.top(&id, &args)?;
        Ok(Json(json!({"Titles": t.titles, "Processes": t.processes})))
    })
    .await
}

async fn remove(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let (force, volumes) = (flag(&q, "force"), flag(&q, "v"));
    if flag(&q, "link") {
        return blocking(move || {
            e.rt.remove_link(&id)?;
            Ok(status(StatusCode::NO_CONTENT))
        })
        .await;
    }
    blocking(move || {
        e.rt.remove(&id, force, volumes)?;
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

/// `DELETE /containers/CONTAINER/ALIAS`: a link's name (the container's name and the
/// alias) stands for the linked container; with `link=1` the link alone goes.
async fn remove_by_link_name(
    e: State<AppState>,
    Path((id, alias)): Path<(String, String)>,
    q: Query<Params>,
) -> Result<Response, ApiError> {
    remove(e, Path(format!("{id}/{alias}")), q).await
}

/// `docker inspect WEB/ALIAS`: a legacy link's name has a slash, which the docker CLI sends
/// as it is (`/containers/WEB/ALIAS/json`).
async fn inspect_by_link_name(
    e: State<AppState>,
    Path((id, alias)): Path<(String, String)>,
    q: Query<Params>,
    version: Extension<crate::server::ApiVersion>,
) -> Result<Json<Value>, ApiError> {
    inspect(e, Path(format!("{id}/{alias}")), q, version).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_be_json() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        let e = json_body::<Value>(&h, &Bytes::from_static(b"{}")).unwrap_err();
        assert_eq!(
            e.message,
            "unsupported Content-Type header (text/plain): must be 'application/json'"
        );
        let h = HeaderMap::new();
        let e = json_body::<Value>(&h, &Bytes::new()).unwrap_err();
        assert!(e.message.contains("EOF"), "{}", e.message);
        let e =
            json_body::<ContainerCreate>(&h, &Bytes::from_static(b"{\"Image\": 5}")).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.starts_with("invalid JSON"), "{}", e.message);
    }

    #[test]
    fn the_hosts_platform_only() {
        assert!(check_platform(&format!(
            "linux/{}",
            berth_image::config::host_architecture()
        ))
        .is_ok());
        let e = check_platform("windows/amd64").unwrap_err();
        assert!(e.message.contains("host's platform"), "{}", e.message);
    }

    #[test]
    fn zero_log_times_are_unset() {
        let q: Params = [
            ("since".to_string(), "0".to_string()),
            ("until".to_string(), "1700000000.5".to_string()),
        ]
        .into();
        assert_eq!(log_time(&q, "since").unwrap(), None);
        assert!(log_time(&q, "until")
            .unwrap()
            .unwrap()
            .starts_with("2023-11-14T22:13:20.5"));
    }
}
