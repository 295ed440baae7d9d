//! Docker's JSON progress stream (pull, push, load): one JSON object per line —
//! `{"status", "id", "progressDetail", "progress"}`, and `{"error", "errorDetail"}` for a
//! failure once the stream has begun. A failure before the first line is a plain API error
//! with its status code (an unknown image is a 404, as with dockerd).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_registry::{Event, Progress};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::server::status;

enum Message {
    Line(Bytes),
    Failed(ApiError),
}

/// The `Progress` a pull or push reports to; it writes the stream's lines.
pub(crate) struct JsonProgress {
    tx: tokio::sync::mpsc::Sender<Message>,
    /// Each layer's last status: byte counts are "Downloading" or "Pushing" by it.
    verbs: Mutex<HashMap<String, String>>,
}

impl JsonProgress {
    /// A progress whose lines go nowhere (work done as part of another operation).
    pub(crate) fn discarding() -> JsonProgress {
        let (tx, _) = tokio::sync::mpsc::channel(1);
        JsonProgress {
            tx,
            verbs: Mutex::default(),
        }
    }

    pub fn line(&self, v: Value) {
        let mut text = v.to_string().into_bytes();
        text.push(b'\n');
        let _ = self.tx.blocking_send(Message::Line(Bytes::from(text)));
    }

    pub fn status(&self, s: &str) {
        self.line(json!({ "status": s }));
    }
}

impl Progress for JsonProgress {
    fn event(&self, e: Event<'_>) {
        match e {
            Event::Status(s) => self.status(s),
            Event::Layer { id, status } => {
                if let Ok(mut v) = self.verbs.lock() {
                    v.insert(id.to_string(), status.to_string());
                }
                self.line(json!({"status": status, "progressDetail": {}, "id": id}));
            }
            Event::Bytes { id, done, total } => {
                let verb = match self.verbs.lock().ok().and_then(|v| v.get(id).cloned()) {
                    Some(s) if s.starts_with("Push") => "Pushing",
                    _ => "Downloading",
                };
                self.line(json!({
                    "status": verb,
                    "progressDetail": {"current": done, "total": total},
                    "id": id,
                }));
            }
        }
    }
}

/// Runs `work` on a blocking thread and answers with its progress stream.
pub(crate) async fn progress_response(
    work: impl FnOnce(&JsonProgress) -> Result<(), ApiError> + Send + 'static,
) -> Response {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(64);
    tokio::task::spawn_blocking(move || {
        let p = JsonProgress {
            tx: tx.clone(),
            verbs: Mutex::default(),
        };
        if let Err(e) = work(&p) {
            let _ = tx.blocking_send(Message::Failed(e));
        }
    });
    let first = match rx.recv().await {
        None => return status(StatusCode::OK),
        Some(Message::Failed(e)) => return e.into_response(),
        Some(Message::Line(b)) => b,
    };
    let mut pending = Some(first);
    let body = futures_util::stream::poll_fn(move |cx| {
        if let Some(b) = pending.take() {
            return std::task::Poll::Ready(Some(Ok::<_, std::convert::Infallible>(b)));
        }
        rx.poll_recv(cx).map(|m| {
            m.map(|m| match m {
                Message::Line(b) => Ok(b),
                Message::Failed(e) => {
                    let mut text = json!({
                        "errorDetail": {"message": e.message},
                        "error": e.message,
                    })
                    .to_string()
                    .into_bytes();
                    text.push(b'\n');
                    Ok(Bytes::from(text))
                }
            })
        })
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
}

/// A header holding base64(url) JSON, as Docker's clients send credentials; `None` when
/// absent or empty.
pub(crate) fn json_header(
    headers: &axum::http::HeaderMap,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    use base64::Engine as _;
    let Some(raw) = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    let bad = || ApiError::bad_request(format!("{name}: expected base64-encoded JSON"));
    let bytes = engines
        .iter()
        .find_map(|e| e.decode(raw).ok())
        .ok_or_else(bad)?;
    serde_json::from_slice(&bytes).map(Some).map_err(|_| bad())
}

/// The credentials in `X-Registry-Auth` (base64url JSON, as the docker CLI and docker-py
/// send it); none for an absent or empty header.
pub(crate) fn registry_auth(
    headers: &axum::http::HeaderMap,
) -> Result<Option<berth_registry::auth::Credentials>, ApiError> {
    let Some(v) = json_header(headers, "X-Registry-Auth")? else {
        return Ok(None);
    };
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (username, password) = (field("username"), field("password"));
    let token = field("identitytoken");
    if !username.is_empty() || !password.is_empty() {
        Ok(Some(berth_registry::auth::Credentials {
            username,
            password,
        }))
    } else if !token.is_empty() {
        Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "X-Registry-Auth: identity tokens are not supported by berth yet",
        ))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn registry_auth_is_base64url_json() {
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(registry_auth(&h).unwrap(), None);
        let v = r#"{"username":"me","password":"s3cr?t>>","serveraddress":"127.0.0.1:5000"}"#;
        let enc = base64::engine::general_purpose::URL_SAFE.encode(v);
        h.insert("X-Registry-Auth", enc.parse().unwrap());
        let c = registry_auth(&h).unwrap().unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("me", "s3cr?t>>")
        );
        h.insert("X-Registry-Auth", "e30=".parse().unwrap()); // {}
        assert_eq!(registry_auth(&h).unwrap(), None);
        h.insert("X-Registry-Auth", "!!".parse().unwrap());
        assert!(registry_auth(&h).is_err());
    }
}
