//! `GET /events`: the engine's journal as a stream of Docker's JSON events, one a line —
//! the past ones only when `since` or `until` asks for them, then new ones until `until`
//! (or until the client goes away).

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use berth_events::{EventFilters, EventQuery};

use crate::error::ApiError;
use crate::query::{filter_args, Params};
use crate::server::{status, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

/// `since`/`until` as Unix nanoseconds (clients send Unix seconds, with a fraction or not).
fn event_time(q: &Params, key: &str) -> Result<Option<i64>, ApiError> {
    let Some(v) = q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    Ok(Some(berth_runtime::container_logs::parse_time_nanos(
        key, v,
    )?))
}

async fn events(State(e): State<AppState>, Query(q): Query<Params>) -> Result<Response, ApiError> {
    let filters = EventFilters::parse_args(&filter_args(&q)?).map_err(ApiError::bad_request)?;
    let query = EventQuery {
        since: event_time(&q, "since")?,
        until: event_time(&q, "until")?,
        filters,
    };
    let journal = e.rt.journal();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::task::spawn_blocking(move || {
        let mut stream = journal.query(query);
        while let Some(next) = stream.next_or_idle() {
            match next {
                None if tx.is_closed() => return,
                None => {}
                Some(ev) => {
                    let line = format!("{}\n", ev.to_api_json());
                    if tx.blocking_send(Bytes::from(line)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|b| b.map(Ok::<_, Infallible>))
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_unix_seconds() {
        let q: Params = [
            ("since".to_string(), "1700000000.5".to_string()),
            ("until".to_string(), "soon".to_string()),
        ]
        .into();
        assert_eq!(
            event_time(&q, "since").unwrap(),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(
            event_time(&q, "until").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(event_time(&Params::new(), "since").unwrap(), None);
    }
}
