//! `POST /containers/{id}/attach` and `POST /containers/{id}/resize`: a hijacked connection
//! (`Upgrade: tcp`, then bytes both ways) relayed to the container's supervisor, whose attach
//! socket already speaks Docker's 8-byte stream frames (see `berth_runtime::attach`).
//!
//! The docker CLI attaches before it starts a container (`run` without -d, `start -a`). Such
//! an attachment waits; the start it waits for runs the supervisor in the mode that keeps
//! the output until a client connects (`start_for_attach`), so nothing a quick container
//! prints is lost, and its exit code still comes when `--rm` removed it at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use berth_runtime::attach::{
    parse_detach_keys, write_frame, DetachMatcher, DETACH_KEYS, EXIT, RESIZE, STDERR, STDIN,
    STDIN_END, STDOUT,
};
use berth_runtime::container_logs::LogOptions;
use berth_runtime::record::{ContainerRecord, Status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::client_departure::Departure;
use crate::error::ApiError;
use crate::query::{flag, int, Params};
use crate::server::{blocking, status, AppState};

/// The API's attachments by container id: how a start learns that a client waits for it,
/// and how a resize reaches the supervisor connection an attachment holds.
#[derive(Default)]
pub(crate) struct Attachments {
    slots: Mutex<HashMap<String, (Arc<Slot>, usize)>>,
}

struct Slot {
    /// Bumped by each start through the API.
    started: watch::Sender<u64>,
    /// The newest terminal size a client asked for (rows, columns as big-endian u16s).
    size: watch::Sender<Option<[u8; 4]>>,
}

/// One attachment's hold on its container's slot, let go on drop.
pub(crate) struct Joined {
    all: Arc<Attachments>,
    id: String,
    slot: Arc<Slot>,
    started: watch::Receiver<u64>,
}

impl Drop for Joined {
    fn drop(&mut self) {
        if let Ok(mut slots) = self.all.slots.lock() {
            if let Some((_, n)) = slots.get_mut(&self.id) {
                *n -= 1;
                if *n == 0 {
                    slots.remove(&self.id);
                }
            }
        }
    }
}

impl Attachments {
    fn join(self: &Arc<Self>, id: &str) -> Joined {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let entry = slots.entry(id.to_string()).or_insert_with(|| {
            let slot = Slot {
                started: watch::channel(0).0,
                size: watch::channel(None).0,
            };
            (Arc::new(slot), 0)
        });
        entry.1 += 1;
        let slot = entry.0.clone();
        Joined {
            all: self.clone(),
            id: id.to_string(),
            started: slot.started.subscribe(),
            slot,
        }
    }

    fn slot(&self, id: &str) -> Option<Arc<Slot>> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.get(id).map(|(s, _)| s.clone())
    }

    /// Whether an API client is attached to (or waiting for) this container.
    pub(crate) fn waiting(&self, id: &str) -> bool {
        self.slot(id).is_some()
    }

    /// Tells the container's waiting attachments that its supervisor is up.
    pub(crate) fn started(&self, id: &str) {
        if let Some(s) = self.slot(id) {
            s.started.send_modify(|n| *n += 1);
        }
    }

    /// Hands a size to the container's attachments; false when it has none.
    fn resize(&self, id: &str, size: [u8; 4]) -> bool {
        match self.slot(id) {
            Some(s) => {
                s.size.send_replace(Some(size));
                true
            }
            None => false,
        }
    }
}

/// Output as the API sends it: frames without a terminal, the bytes alone with one.
pub(crate) fn stream_bytes(tty: bool, kind: u8, data: &[u8]) -> Vec<u8> {
    if tty {
        return data.to_vec();
    }
    let mut framed = Vec::with_capacity(data.len() + 8);
    let _ = write_frame(&mut framed, kind, data);
    framed
}

pub(crate) fn content_type(tty: bool) -> &'static str {
    if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

pub(crate) struct AttachParams {
    pub(crate) stream: bool,
    logs: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    detach_keys: Vec<u8>,
}

impl AttachParams {
    pub(crate) fn parse(q: &Params) -> Result<AttachParams, ApiError> {
        let detach_keys = match q.get("detachKeys").filter(|k| !k.is_empty()) {
            Some(k) => parse_detach_keys(k).map_err(|e| ApiError::bad_request(e.to_string()))?,
            None => DETACH_KEYS.to_vec(),
        };
        Ok(AttachParams {
            stream: flag(q, "stream"),
            logs: flag(q, "logs"),
            stdin: flag(q, "stdin"),
            stdout: flag(q, "stdout"),
            stderr: flag(q, "stderr"),
            detach_keys,
        })
    }
}

pub(crate) async fn attach(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let p = AttachParams::parse(&q)?;
    let (c, joined) = join_container(&e, id, p.stream).await?;
    let tty = c.config.tty;
    hijack(&mut req, tty, move |conn, input, departure| async move {
        let mut p = p;
        p.stdin &= input;
        session(e, c, p, joined, conn, false, departure).await;
    })
}

/// The container an attachment (hijacked or WebSocket) is for, and its hold on the
/// container's slot, so that a start after this sees a client waiting. A stream to a
/// paused container is refused, as Docker refuses it.
pub(crate) async fn join_container(
    e: &AppState,
    id: String,
    stream: bool,
) -> Result<(ContainerRecord, Joined), ApiError> {
    let engine = e.clone();
    let c = blocking(move || Ok(engine.rt.find(&id)?)).await?;
    if stream && c.state.paused {
        return Err(ApiError::conflict(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    let joined = e.attachments.join(&c.id);
    Ok((c, joined))
}

/// A client's end of a stream: the hijacked connection, or the response body.
pub(crate) trait Duplex: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Duplex for T {}

/// Answers a request for a stream (attach, exec start). With `Upgrade: tcp`: 101, and
/// `serve` gets the hijacked connection (`true`: it carries the client's input too).
/// Without (curl, a browser): 200, and what `serve` writes is the response body.
pub(crate) fn hijack<F, Fut>(req: &mut Request, tty: bool, serve: F) -> Result<Response, ApiError>
where
    F: FnOnce(Box<dyn Duplex>, bool, Departure) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|u| u.to_str().ok())
        .is_some_and(|u| u.eq_ignore_ascii_case("tcp"));
    if upgrade {
        let pause = before_stream(req.headers());
        let connection = req
            .extensions()
            .get::<axum::extract::ConnectInfo<crate::server::Connection>>()
            .map(|c| c.0);
        let on = hyper::upgrade::on(req);
        tokio::spawn(async move {
            if let Ok(conn) = on.await {
                match connection {
                    Some(c) if c.unix => head_read(c.fd).await,
                    _ => tokio::time::sleep(pause).await,
                }
                // `conn` owns the socket and goes to `serve` with its departure.
                let departure = match connection {
                    Some(c) => Departure::hangup(c.fd),
                    None => Departure::never(),
                };
                serve(
                    Box::new(hyper_util::rt::TokioIo::new(conn)),
                    true,
                    departure,
                )
                .await;
            }
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "tcp")
            .header(header::CONTENT_TYPE, content_type(tty))
            .body(Body::empty())
            .map_err(|e| ApiError::internal(e.to_string()));
    }
    let (ours, theirs) = tokio::io::duplex(64 << 10);
    // hyper drops the body when its client goes away, and with it the guard.
    let (guard, departure) = Departure::guard();
    tokio::spawn(serve(Box::new(ours), false, departure));
    let body = futures_util::stream::unfold((theirs, guard), |(mut r, guard)| async move {
        let mut buf = vec![0u8; 16 << 10];
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, Infallible>(Bytes::from(buf)), (r, guard)))
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(tty))
        .body(Body::from_stream(body))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Waits (at most 5 s) until the client has read all that was sent on the unix socket `fd`:
/// the 101 response head. docker-py (Python's http.client) reads the head through a buffer
/// and then the raw socket, so stream bytes that arrived together with the head are lost.
/// The kernel keeps a unix socket's sent bytes charged to the sender until the peer reads
/// them (SIOCOUTQ), which says exactly when the head is gone. dockerd's streams start only
/// once the process does, a few milliseconds later, which hides this race there.
async fn head_read(fd: std::os::fd::RawFd) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut unread: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int; the caller holds the connection that
        // owns `fd`, so it is the client's socket.
        let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut unread) };
        if r != 0 || unread == 0 || std::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// How long a stream on a TCP connection waits after the 101 response, where the kernel
/// cannot say whether the client read the head: long enough for docker-py (see
/// `head_read`); the docker CLI (Go) keeps its buffer, so it does not wait.
fn before_stream(headers: &axum::http::HeaderMap) -> std::time::Duration {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if agent.starts_with("Docker-Client/") {
        std::time::Duration::ZERO
    } else {
        std::time::Duration::from_millis(50)
    }
}

/// `h` and `w` of a resize.
pub(crate) fn terminal_size(q: &Params) -> Result<(u16, u16), ApiError> {
    let size = |key: &str| -> Result<u16, ApiError> {
        let n = int(q, key)?.unwrap_or(0);
        u16::try_from(n).map_err(|_| {
            ApiError::bad_request(format!("invalid {key} {n}: expected 0 to {}", u16::MAX))
        })
    };
    Ok((size("h")?, size("w")?))
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if len > 1 << 20 {
        return None;
    }
    let mut data = vec![0u8; len];
    r.read_exact(&mut data).await.ok()?;
    Some((head[0], data))
}

async fn send_frame<W: AsyncWrite + Unpin>(w: &mut W, kind: u8, data: &[u8]) -> bool {
    let mut framed = Vec::with_capacity(data.len() + 8);
    let _ = write_frame(&mut framed, kind, data);
    w.write_all(&framed).await.is_ok()
}

/// One attachment: the logs so far (with `logs`), then, with `stream`, the container's
/// output to the client and the client's input and sizes to the container, until the
/// container exits, the client types the detach keys or goes away (`departure`).
/// `raw`: output as the process wrote it even without a terminal (a WebSocket's messages),
/// else framed unless the container has a terminal.
pub(crate) async fn session<IO>(
    e: AppState,
    c: ContainerRecord,
    p: AttachParams,
    joined: Joined,
    io: IO,
    raw: bool,
    departure: Departure,
) where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    tokio::select! {
        _ = attachment(e, c, p, joined, io, raw) => {}
        _ = departure.wait() => {}
    }
}

async fn attachment<IO>(
    e: AppState,
    c: ContainerRecord,
    p: AttachParams,
    mut joined: Joined,
    io: IO,
    raw: bool,
) where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (from_client, mut to_client) = tokio::io::split(io);
    let tty = c.config.tty || raw;
    if p.logs {
        let (engine, id) = (e.clone(), c.id.clone());
        let options = LogOptions {
            follow: false,
            since: None,
            until: None,
            tail: None,
            stdout: p.stdout,
            stderr: p.stderr,
        };
        let past = blocking(move || {
            let mut out = Vec::new();
            for entry in engine.rt.logs(&id, &options)? {
                let kind = if entry.stream == "stderr" {
                    STDERR
                } else {
                    STDOUT
                };
                out.extend(stream_bytes(tty, kind, entry.log.as_bytes()));
            }
            Ok(out)
        })
        .await
        .unwrap_or_default();
        if to_client.write_all(&past).await.is_err() {
            return;
        }
    }
    if !p.stream {
        let _ = to_client.shutdown().await;
        return;
    }
    // A created or stopped container: wait for its start (through the API, or by anyone:
    // then the output before we looked is missed, as with Docker's attach to a running one).
    loop {
        let (engine, id) = (e.clone(), c.id.clone());
        match blocking(move || Ok(engine.rt.find(&id)?)).await {
            Err(_) => return,
            Ok(now) if now.state.status == Status::Running => break,
            Ok(_) => {}
        }
        tokio::select! {
            r = joined.started.changed() => if r.is_ok() { break },
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    // The record says running a moment before the supervisor listens: try for a while.
    let mut tries = 0;
    let supervisor = loop {
        let (engine, c) = (e.clone(), c.clone());
        let conn = blocking(move || {
            let conn = engine.rt.attach_connection(&c)?;
            conn.set_nonblocking(true)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(conn)
        })
        .await;
        match conn {
            Ok(conn) => break conn,
            Err(_) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return,
        }
    };
    let Ok(supervisor) = tokio::net::UnixStream::from_std(supervisor) else {
        return;
    };
    let sizes = joined.slot.size.subscribe();
    relay(
        supervisor,
        from_client,
        to_client,
        tty,
        &p.streams(),
        Some(sizes),
    )
    .await;
}

/// Which streams a client asked for, and its detach keys.
pub(crate) struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub detach_keys: Vec<u8>,
}

impl AttachParams {
    fn streams(&self) -> Streams {
        Streams {
            stdin: self.stdin,
            stdout: self.stdout,
            stderr: self.stderr,
            detach_keys: self.detach_keys.clone(),
        }
    }
}

/// Relays a supervisor's connection and a client's: output to the client (framed without a
/// terminal), the client's input and terminal sizes to the supervisor; until the process
/// exits, the detach keys are typed or either side goes away.
pub(crate) async fn relay<R, W>(
    supervisor: tokio::net::UnixStream,
    mut from_client: R,
    mut to_client: W,
    tty: bool,
    p: &Streams,
    mut sizes: Option<watch::Receiver<Option<[u8; 4]>>>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mut sup_r, mut sup_w) = supervisor.into_split();
    let first_size = sizes.as_mut().and_then(|s| *s.borrow_and_update());
    if let Some(size) = first_size {
        let _ = send_frame(&mut sup_w, RESIZE, &size).await;
    }
    let output = async {
        while let Some((kind, data)) = read_frame(&mut sup_r).await {
            let wanted = match kind {
                STDOUT => p.stdout,
                STDERR => p.stderr,
                EXIT => break,
                _ => false,
            };
            if wanted {
                let bytes = stream_bytes(tty, kind, &data);
                if to_client.write_all(&bytes).await.is_err() || to_client.flush().await.is_err() {
                    return;
                }
            }
        }
        let _ = to_client.shutdown().await;
    };
    // The input side ends the relay only on the detach keys. A supervisor that no longer
    // takes input has exited or is about to: what it sent before must still reach the
    // client, so the output side decides when the relay is over.
    let input = async {
        let mut keys = DetachMatcher::new(p.detach_keys.clone());
        let mut buf = vec![0u8; 8192];
        let mut reading = true;
        let gone = || std::future::pending::<()>();
        loop {
            let size_change = async {
                match sizes.as_mut() {
                    Some(s) => s.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = from_client.read(&mut buf), if reading => match r {
                    Ok(0) | Err(_) => {
                        // The client's end of input (the docker CLI half-closes without
                        // -i at once): not a departure; the output goes on.
                        reading = false;
                        if p.stdin && !send_frame(&mut sup_w, STDIN_END, &[]).await {
                            return gone().await;
                        }
                    }
                    Ok(n) if p.stdin => {
                        let (data, detach) = keys.feed(&buf[..n]);
                        if !data.is_empty() && !send_frame(&mut sup_w, STDIN, &data).await {
                            return gone().await;
                        }
                        if detach {
                            return;
                        }
                    }
                    Ok(_) => {}
                },
                alive = size_change => {
                    if !alive {
                        sizes = None;
                        continue;
                    }
                    let size = sizes.as_mut().and_then(|s| *s.borrow_and_update());
                    if let Some(size) = size {
                        if !send_frame(&mut sup_w, RESIZE, &size).await {
                            return gone().await;
                        }
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = output => {}
        _ = input => {}
    }
}

pub(crate) async fn resize(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let (rows, cols) = terminal_size(&q)?;
    blocking(move || {
        let c = e.rt.find(&id)?;
        if c.state.status != Status::Running {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let (r, k) = (rows.to_be_bytes(), cols.to_be_bytes());
        if !e.attachments.resize(&c.id, [r[0], r[1], k[0], k[1]]) {
            e.rt.resize(&c, rows, cols)?;
        }
        Ok(status(StatusCode::OK))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_lives_while_someone_is_attached() {
        let all = Arc::new(Attachments::default());
        assert!(!all.waiting("c1"));
        let a = all.join("c1");
        let b = all.join("c1");
        assert!(all.waiting("c1"));
        all.started("c1");
        assert!(a.started.has_changed().unwrap());
        assert!(all.resize("c1", [0, 24, 0, 80]));
        assert_eq!(*b.slot.size.borrow(), Some([0, 24, 0, 80]));
        drop(a);
        assert!(all.waiting("c1"));
        drop(b);
        assert!(!all.waiting("c1"));
        assert!(!all.resize("c1", [0, 1, 0, 1]));
    }

    #[test]
    fn output_is_framed_without_a_terminal() {
        assert_eq!(stream_bytes(true, STDERR, b"x"), b"x");
        assert_eq!(
            stream_bytes(false, STDERR, b"x"),
            [2, 0, 0, 0, 0, 0, 0, 1, b'x']
        );
    }

    /// An exec that printed, exited and closed its socket before the client's end of input
    /// reached the server (`docker exec -i … < /dev/null` on a busy machine): the input
    /// side cannot tell the supervisor, but the client still gets all the output.
    #[tokio::test]
    async fn output_reaches_the_client_after_the_supervisor_has_gone() {
        let (server_end, supervisor_end) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut frames = Vec::new();
        write_frame(&mut frames, STDOUT, b"hi\n").unwrap();
        write_frame(&mut frames, EXIT, &3i32.to_be_bytes()).unwrap();
        std::io::Write::write_all(&mut &supervisor_end, &frames).unwrap();
        drop(supervisor_end);
        server_end.set_nonblocking(true).unwrap();
        let supervisor = tokio::net::UnixStream::from_std(server_end).unwrap();
        // A client whose input has ended and that reads slowly: the output cannot be
        // written out before the input side finds the supervisor gone.
        let (to_client, mut client) = tokio::io::duplex(1);
        let reader = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut got = Vec::new();
            let _ = client.read_to_end(&mut got).await;
            got
        });
        let streams = Streams {
            stdin: true,
            stdout: true,
            stderr: true,
            detach_keys: DETACH_KEYS.to_vec(),
        };
        relay(
            supervisor,
            tokio::io::empty(),
            to_client,
            false,
            &streams,
            None,
        )
        .await;
        assert_eq!(reader.await.unwrap(), stream_bytes(false, STDOUT, b"hi\n"));
    }
}
