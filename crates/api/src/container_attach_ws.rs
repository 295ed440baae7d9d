//! `GET /containers/{id}/attach/ws`: an attachment over a WebSocket (for web pages and
//! docker-py's `attach_socket(ws=True)`). The client's messages are the container's input;
//! the output comes as messages of raw bytes (never framed), binary from API 1.42 on, text
//! before, as dockerd sends them.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::client_departure::{Departure, DepartureGuard};
use crate::container_attach::{join_container, session, AttachParams};
use crate::error::ApiError;
use crate::query::Params;
use crate::server::{ApiVersion, AppState};

pub(crate) async fn attach_ws(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
    Extension(version): Extension<ApiVersion>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let p = AttachParams::parse(&q)?;
    let (c, joined) = join_container(&e, id, p.stream).await?;
    let binary = version >= ApiVersion((1, 42));
    Ok(ws.on_upgrade(move |socket| async move {
        let (ours, theirs) = tokio::io::duplex(64 << 10);
        let (guard, departure) = Departure::guard();
        tokio::join!(
            session(e, c, p, joined, ours, true, departure),
            bridge(socket, theirs, binary, guard)
        );
    }))
}

/// Carries the WebSocket's messages into `io` and what comes out of `io` back as messages,
/// until the attachment's output ends or the client goes away: its close message or the end
/// of its connection drops `gone`, which ends the attachment. (A WebSocket has no
/// half-close, so the end of the messages is the client's departure.)
pub(crate) async fn bridge(
    socket: WebSocket,
    io: DuplexStream,
    binary: bool,
    gone: DepartureGuard,
) {
    let (mut sink, mut messages) = socket.split();
    let (mut from_session, mut to_session) = tokio::io::split(io);
    let inbound = async move {
        while let Some(Ok(m)) = messages.next().await {
            let written = match m {
                Message::Binary(b) => to_session.write_all(&b).await,
                Message::Text(t) => to_session.write_all(t.as_bytes()).await,
                Message::Close(_) => break,
                _ => Ok(()),
            };
            if written.is_err() {
                break;
            }
        }
        drop(gone);
        let _ = to_session.shutdown().await;
        std::future::pending::<()>().await
    };
    let outbound = async move {
        let mut buf = vec![0u8; 16 << 10];
        loop {
            let n = match from_session.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let m = if binary {
                Message::Binary(buf[..n].to_vec().into())
            } else {
                Message::Text(String::from_utf8_lossy(&buf[..n]).into_owned().into())
            };
            if sink.send(m).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    };
    tokio::select! {
        _ = inbound => {}
        _ = outbound => {}
    }
}
