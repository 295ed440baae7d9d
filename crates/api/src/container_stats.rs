//! `GET /containers/{id}/stats`: one sample (`stream=false`; with `one-shot`, without waiting
//! for the second sample that fills `precpu_stats`) or a sample a second, as Docker streams
//! them, until the client leaves or the container is gone.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::query::{flag, Params};
use crate::server::{blocking, status, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/containers/{id}/stats", get(stats))
}

/// Docker's collection interval.
const INTERVAL: Duration = Duration::from_secs(1);

fn json_line(s: &berth_runtime::container_stats::ContainerStats) -> Result<Bytes, ApiError> {
    let mut v = serde_json::to_vec(s).map_err(|e| ApiError::internal(e.to_string()))?;
    v.push(b'\n');
    Ok(Bytes::from(v))
}

async fn stats(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    // `stream` defaults to true: only an explicit false turns it off.
    let stream = !q.contains_key("stream") || flag(&q, "stream");
    let one_shot = flag(&q, "one-shot");
    let engine = e.clone();
    let c = blocking(move || Ok(engine.rt.find(&id)?)).await?;
    let respond = |body: Body| {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
    };
    if !stream {
        let first = blocking(move || {
            let first = e.rt.stats(&c, None)?;
            if one_shot || !c.state.running() {
                return Ok(first);
            }
            std::thread::sleep(INTERVAL);
            Ok(e.rt.stats(&c, Some(&first))?)
        })
        .await?;
        return Ok(respond(Body::from(json_line(&first)?)));
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, ApiError>>(2);
    tokio::task::spawn_blocking(move || {
        let mut previous = None;
        loop {
            // A container removed meanwhile ends the stream.
            let Ok(now) = e.rt.find(&c.id) else { return };
            let sample = match e.rt.stats(&now, previous.as_ref()) {
                Ok(s) => s,
                Err(_) => return,
            };
            if tx.blocking_send(json_line(&sample)).is_err() {
                return;
            }
            previous = Some(sample);
            std::thread::sleep(INTERVAL);
            if tx.is_closed() {
                return;
            }
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|b| b.map(|r| r.map_err(|e| std::io::Error::other(e.message))))
    });
    Ok(respond(Body::from_stream(body)))
}
