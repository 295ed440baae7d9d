//! `/_ping`, `/version`, `/info` and `/system/df`: what a client asks first (the docker CLI negotiates its
//! API version from `/_ping`'s `API-Version` header; `Builder-Version: 1` tells it to send
//! builds to the classic `POST /build`).

use axum::extract::State;
use axum::http::header::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use crate::error::ApiError;
use crate::server::{blocking, AppState};

pub use berth_runtime::system_version::{API_VERSION, MIN_API_VERSION};

/// `1.50` → (1, 50); `None` for anything else.
pub(crate) fn parse_version(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/system/df", get(disk_usage))
}

/// Headers every `_ping` answer carries, as Docker's.
fn ping_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    for (k, v) in [
        ("api-version", API_VERSION),
        ("ostype", "linux"),
        ("docker-experimental", "false"),
        ("builder-version", "1"),
        ("cache-control", "no-cache, no-store, must-revalidate"),
        ("pragma", "no-cache"),
    ] {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    r
}

/// GET and HEAD (axum answers HEAD from the GET route without the body).
async fn ping() -> Response {
    ping_headers(([("content-type", "text/plain; charset=utf-8")], "OK").into_response())
}

async fn version() -> Json<berth_runtime::system_version::VersionReport> {
    Json(berth_runtime::system_version::version_report())
}

async fn info(State(e): State<AppState>) -> Result<Json<Value>, ApiError> {
    let info = blocking(move || Ok(e.rt.info()?)).await?;
    serde_json::to_value(info)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `GET /system/df`: every section, whatever `type` asks for (a superset the clients read
/// what they want from).
async fn disk_usage(State(e): State<AppState>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let du = e.rt.disk_usage()?;
        Ok(Json(e.rt.disk_usage_json(&du)?))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(parse_version("1.50"), Some((1, 50)));
        assert!(parse_version("1.9") < parse_version("1.24"));
        assert_eq!(parse_version("x.1"), None);
    }
}
