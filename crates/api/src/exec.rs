//! `/containers/{id}/exec` and `/exec/{id}/…`: create, start (hijacked, detached, or over a
//! WebSocket: berth's own, for web pages),
//! resize, inspect — the engine's exec sessions, whose supervisor serves the same stream
//! frames as a container's (see `container_attach::relay`).

use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_runtime::attach::{parse_detach_keys, write_frame, DETACH_KEYS, RESIZE};
use berth_runtime::options::ExecOptions;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client_departure::Departure;
use crate::container_attach::{hijack, relay, terminal_size, Streams};
use crate::container_attach_ws::bridge;
use crate::containers::json_body;
use crate::error::ApiError;
use crate::query::Params;
use crate::server::{blocking, status, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/start/ws", get(start_ws))
        .route("/exec/{id}/resize", post(resize))
        .route("/exec/{id}/json", get(inspect))
}

/// The create body, as the docker CLI and docker-py send it.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct ExecConfig {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    /// docker-py spells it `detachKeys` (Go's JSON matches names in any case).
    #[serde(alias = "detachKeys")]
    detach_keys: String,
    tty: bool,
    /// The start request's size is the one used.
    #[serde(rename = "ConsoleSize")]
    _console_size: Option<[u32; 2]>,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    privileged: bool,
    user: String,
    working_dir: String,
    detach: bool,
    /// docker-py repeats the container's id here; the path names it.
    #[serde(rename = "Container")]
    _container: Option<String>,
}

async fn create(
    State(e): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let c: ExecConfig = json_body(&headers, &body)?;
    if !c.detach_keys.is_empty() {
        parse_detach_keys(&c.detach_keys).map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let o = ExecOptions {
        detach_keys: c.detach_keys,
        command: c.cmd.unwrap_or_default(),
        env: c.env.unwrap_or_default(),
        workdir: Some(c.working_dir).filter(|w| !w.is_empty()),
        user: Some(c.user).filter(|u| !u.is_empty()),
        interactive: c.attach_stdin,
        detach: c.detach || !(c.attach_stdin || c.attach_stdout || c.attach_stderr),
        privileged: c.privileged,
        tty: c.tty,
    };
    let exec_id = blocking(move || Ok(e.rt.exec_create(&id, &o)?)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": exec_id }))))
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct ExecStartConfig {
    detach: bool,
    tty: bool,
    console_size: Option<[u32; 2]>,
}

async fn start(
    State(e): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let body = axum::body::to_bytes(std::mem::take(req.body_mut()), 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
    let s: ExecStartConfig = if body.iter().all(u8::is_ascii_whitespace) {
        ExecStartConfig::default()
    } else {
        json_body(req.headers(), &body)?
    };
    // As for a start: the exec's cgroup move waits for the kernel; overlap that wait.
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    let started = start_session(&e, id).await?;
    let session = match started {
        Ok(session) => session,
        Err(message) if !s.detach => {
            let tty = s.tty;
            return hijack(&mut req, tty, move |mut conn, _, _| async move {
                use tokio::io::AsyncWriteExt;
                let text = format!("{message}\r\n");
                let bytes = crate::container_attach::stream_bytes(tty, 1, text.as_bytes());
                let _ = conn.write_all(&bytes).await;
                let _ = conn.shutdown().await;
            });
        }
        Err(message) => return Err(ApiError::bad_request(message)),
    };
    if s.detach {
        return Ok(status(StatusCode::OK));
    }
    // Framed or not as the start asks (dockerd's rule), whatever the exec was created
    // with: docker-py starts a terminal exec with Tty false and reads frames.
    let tty = s.tty;
    let size = s
        .console_size
        .filter(|[h, w]| session.tty && *h > 0 && *w > 0)
        .map(|[h, w]| (h.min(u16::MAX.into()) as u16, w.min(u16::MAX.into()) as u16));
    let supervisor = connect(&session, size).await?;
    let mut streams = streams(&session)?;
    hijack(&mut req, tty, move |conn, input, departure| async move {
        streams.stdin &= input;
        let (from, to) = tokio::io::split(conn);
        // A client that goes away leaves the process running, as with Docker.
        tokio::select! {
            _ = relay(supervisor, from, to, tty, &streams, None) => {}
            _ = departure.wait() => {}
        }
    })
}

/// Starts the exec under its supervisor. A command that cannot run is the stream's to tell
/// (`Ok(Err(message))`: as dockerd, the exec's exit code, 126 or 127, is in its inspect, so
/// that docker-py's exec_run reports the code); any other failure is an API error.
async fn start_session(
    e: &AppState,
    id: String,
) -> Result<Result<berth_runtime::exec_session::ExecSession, String>, ApiError> {
    let engine = e.clone();
    blocking(move || match engine.rt.exec_start(&id, &engine.exe) {
        Ok(session) => Ok(Ok(session)),
        Err(
            e @ (berth_runtime::Error::CommandNotFound(_)
            | berth_runtime::Error::CommandNotExecutable(_)),
        ) => Ok(Err(e.to_string())),
        Err(e) => Err(e.into()),
    })
    .await
}

/// Connects to an exec's supervisor, before any answer: the supervisor keeps the output
/// for its first client, and a resize that comes next must not be that client.
async fn connect(
    session: &berth_runtime::exec_session::ExecSession,
    size: Option<(u16, u16)>,
) -> Result<tokio::net::UnixStream, ApiError> {
    let dir = session.dir.clone();
    let supervisor = blocking(move || {
        let mut conn = berth_runtime::attach::connect(&dir)?;
        if let Some((h, w)) = size {
            let (r, k) = (h.to_be_bytes(), w.to_be_bytes());
            write_frame(&mut conn, RESIZE, &[r[0], r[1], k[0], k[1]])
                .map_err(|e| ApiError::internal(e.to_string()))?;
        }
        conn.set_nonblocking(true)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(conn)
    })
    .await?;
    tokio::net::UnixStream::from_std(supervisor).map_err(|e| ApiError::internal(e.to_string()))
}

fn streams(session: &berth_runtime::exec_session::ExecSession) -> Result<Streams, ApiError> {
    Ok(Streams {
        stdin: session.interactive,
        stdout: true,
        stderr: true,
        detach_keys: match session.detach_keys.as_str() {
            "" => DETACH_KEYS.to_vec(),
            keys => parse_detach_keys(keys).map_err(|e| ApiError::bad_request(e.to_string()))?,
        },
    })
}

/// `GET /exec/{id}/start/ws?h=ROWS&w=COLS` (berth's own; Docker starts an exec only on a
/// hijacked connection, which a web page cannot make): the exec started and relayed over a
/// WebSocket as `/containers/{id}/attach/ws` relays an attachment, for the dashboard's
/// terminal. Output comes as binary messages of raw bytes, or frames for an exec without a
/// terminal.
async fn start_ws(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let size = match terminal_size(&q)? {
        (0, _) | (_, 0) => None,
        size => Some(size),
    };
    berth_runtime::cgroups::CgroupFs::host().warm_attach_lock();
    let exec_id = id.clone();
    let session = match start_session(&e, id).await? {
        Ok(session) => session,
        // As the hijacked start: the stream says why (a page sees no HTTP error behind a
        // WebSocket that failed to open, only that it closed).
        Err(message) => {
            return Ok(ws.on_upgrade(move |mut socket| async move {
                use axum::extract::ws::Message;
                let text = format!("{message}\r\n").into_bytes();
                let _ = socket.send(Message::Binary(text.into())).await;
                let _ = socket.send(Message::Close(None)).await;
            }))
        }
    };
    let size = size.filter(|_| session.tty);
    let supervisor = connect(&session, size).await?;
    let streams = streams(&session)?;
    let tty = session.tty;
    Ok(ws.on_upgrade(move |socket| async move {
        let (ours, theirs) = tokio::io::duplex(64 << 10);
        let (guard, departure) = Departure::guard();
        let (from, to) = tokio::io::split(ours);
        let relayed = async move {
            tokio::select! {
                _ = relay(supervisor, from, to, tty, &streams, None) => {}
                // A page that leaves its terminal hangs it up (unlike `docker exec`, whose
                // process outlives its client): the shell does not stay behind.
                _ = departure.wait() => {
                    let _ = blocking(move || Ok(e.rt.exec_hang_up(&exec_id)?)).await;
                }
            }
        };
        tokio::join!(relayed, bridge(socket, theirs, true, guard));
    }))
}

async fn resize(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let (rows, cols) = terminal_size(&q)?;
    blocking(move || {
        e.rt.exec_resize(&id, rows, cols)?;
        Ok(status(StatusCode::OK))
    })
    .await
}

async fn inspect(
    State(e): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let i = e.rt.exec_inspect(&id)?;
        serde_json::to_value(i)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_bodies_are_dockers() {
        let c: ExecConfig = serde_json::from_str(
            r#"{"User":"","Privileged":false,"Tty":true,"ConsoleSize":[24,80],"AttachStdin":true,
                "AttachStderr":true,"AttachStdout":true,"DetachKeys":"","Env":null,
                "WorkingDir":"","Cmd":["sh"]}"#,
        )
        .unwrap();
        assert!(c.tty && c.attach_stdin);
        assert_eq!(c.cmd.unwrap(), ["sh"]);
        let e = serde_json::from_str::<ExecConfig>(r#"{"Cmd":["sh"],"Bogus":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Bogus"), "{e}");
    }
}
