//! A container's files: `GET /containers/{id}/changes`, `GET …/export` (the whole filesystem
//! as a tar) and `HEAD|GET|PUT …/archive` (what `docker cp` uses: a path's stat in the
//! `X-Docker-Container-Path-Stat` header, a tar of it, a tar extracted into a directory), and
//! berth's own `…/files` (a directory's entries, for the dashboard).

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::query::{flag, Params};
use crate::server::{blocking, status, AppState};
use crate::streaming::{body_from_writer, BodyReader};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/changes", get(changes))
        .route("/containers/{id}/export", get(export))
        .route("/containers/{id}/files", get(list_files))
        .route(
            "/containers/{id}/archive",
            get(archive_get).head(archive_head).put(archive_put),
        )
}

/// Docker's change kinds: 0 modified, 1 added, 2 deleted.
fn change_kind(k: char) -> u8 {
    match k {
        'A' => 1,
        'D' => 2,
        _ => 0,
    }
}

async fn changes(
    State(e): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let list: Vec<Value> =
            e.rt.diff(&id)?
                .into_iter()
                .map(|(k, p)| json!({"Path": p, "Kind": change_kind(k)}))
                .collect();
        // Docker answers null, not [], for a container without changes.
        Ok(Json(if list.is_empty() {
            Value::Null
        } else {
            Value::Array(list)
        }))
    })
    .await
}

fn tar_response(body: Body, stat: Option<HeaderValue>) -> Response {
    let mut r = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-tar");
    if let Some(s) = stat {
        r = r.header("X-Docker-Container-Path-Stat", s);
    }
    r.body(body)
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
}

async fn export(State(e): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let engine = e.clone();
    let c = blocking(move || Ok(engine.rt.find(&id)?)).await?;
    let body = body_from_writer(move |w| e.rt.export(&c.id, w));
    Ok(tar_response(body, None))
}

fn archive_path(q: &Params) -> Result<String, ApiError> {
    match q.get("path").filter(|p| !p.is_empty()) {
        Some(p) => Ok(p.clone()),
        None => Err(ApiError::bad_request("path parameter is required")),
    }
}

/// The stat header: base64 of the stat's JSON, as moby encodes it.
async fn path_stat(e: &AppState, id: &str, path: &str) -> Result<HeaderValue, ApiError> {
    let (e, id, path) = (e.clone(), id.to_string(), path.to_string());
    let stat = blocking(move || Ok(e.rt.stat_path(&id, &path)?)).await?;
    let text = serde_json::to_vec(&stat).map_err(|e| ApiError::internal(e.to_string()))?;
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(text))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `GET /containers/{id}/files?path=DIR` (berth's own, for the dashboard's files view: the
/// archive endpoints give one path's stat or a whole tree): a directory's entries as
/// `[{name, size, mode, mtime, linkTarget}]`, with `X-Berth-Truncated: true` past the limit.
async fn list_files(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let path = archive_path(&q)?;
    let (entries, more) = blocking(move || Ok(e.rt.list_dir(&id, &path)?)).await?;
    let body = serde_json::to_vec(&entries).map_err(|e| ApiError::internal(e.to_string()))?;
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-Berth-Truncated", if more { "true" } else { "false" })
        .body(Body::from(body))
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn archive_head(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let path = archive_path(&q)?;
    let stat = path_stat(&e, &id, &path).await?;
    let mut r = status(StatusCode::OK);
    r.headers_mut().insert("X-Docker-Container-Path-Stat", stat);
    Ok(r)
}

async fn archive_get(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let path = archive_path(&q)?;
    let stat = path_stat(&e, &id, &path).await?;
    let body = body_from_writer(move |w| e.rt.copy_from_as_tar(&id, &path, false, w).map(|_| ()));
    Ok(tar_response(body, Some(stat)))
}

async fn archive_put(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
    req: Request,
) -> Result<Response, ApiError> {
    let path = archive_path(&q)?;
    let copy_owner = flag(&q, "copyUIDGID");
    let body = BodyReader::new(req.into_body());
    blocking(move || {
        let c = e.rt.find(&id)?;
        if copy_owner && !c.config.user.is_empty() {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "copyUIDGID for a container with a user (docker cp -a) is not supported by berth yet",
            ));
        }
        e.rt.copy_to_from_tar(&c.id, body, &path)?;
        Ok(status(StatusCode::OK))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_kinds_are_dockers() {
        assert_eq!(['C', 'A', 'D'].map(change_kind), [0, 1, 2]);
    }
}
