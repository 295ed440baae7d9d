//! The server: one listener per `-H` address, each request first through the guard (no
//! browser origins; on TCP only local `Host` names, against DNS rebinding) and the version
//! prefix (`/v1.50/containers/json` → `/containers/json`, versions outside what berth speaks
//! refused as Docker refuses them), then routed. SIGTERM or SIGINT stops accepting, lets
//! requests in flight end for a moment and returns; containers keep running (their
//! supervisors own them).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

use crate::error::ApiError;
use crate::listen::{stale_socket, Host};
use crate::system::{parse_version, API_VERSION, MIN_API_VERSION};

/// What the handlers work with: the engine's libraries, opened once.
pub(crate) struct Engine {
    pub rt: berth_runtime::Runtime,
    pub store: berth_image::Store,
    /// The berth binary, re-executed as a container's supervisor.
    pub exe: PathBuf,
    /// Clients attached (or waiting to) through the API.
    pub attachments: Arc<crate::container_attach::Attachments>,
}

pub(crate) type AppState = Arc<Engine>;

/// Runs blocking engine work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
}

pub struct ServeOptions {
    /// The berth root (images, containers).
    pub root: PathBuf,
    /// The berth binary, for supervisors.
    pub exe: PathBuf,
    pub hosts: Vec<Host>,
    /// Where to serve the dashboard (`berth serve --dashboard`), if at all.
    pub dashboard: Option<std::net::SocketAddr>,
}

/// What `serve` tells its caller once everything listens.
pub struct Ready<'a> {
    pub hosts: &'a [Host],
    /// The dashboard's address with its token (`http://127.0.0.1:PORT/?token=…`).
    pub dashboard_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {host}: {source}")]
    Listen {
        host: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {0}: another server is listening there")]
    InUse(String),
    #[error("cannot listen on {0}: the path exists and is not a socket")]
    NotSocket(String),
    #[error(transparent)]
    Engine(#[from] berth_runtime::Error),
    #[error(transparent)]
    Store(#[from] berth_image::Error),
    #[error("cannot make the dashboard's token: {0}")]
    Token(std::io::Error),
    #[error("cannot start the server's threads: {0}")]
    Threads(std::io::Error),
}

enum Listener {
    /// The listener, its path and the socket file's (device, inode).
    Unix(tokio::net::UnixListener, PathBuf, (u64, u64)),
    Tcp(tokio::net::TcpListener),
}

/// The (device, inode) of the file at `path`.
fn socket_file(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    Some((m.dev(), m.ino()))
}

fn bind(host: &Host) -> Result<Listener, ServeError> {
    let listen_err = |source| ServeError::Listen {
        host: host.to_string(),
        source,
    };
    match host {
        Host::Unix(path) => {
            if path.exists() || std::fs::symlink_metadata(path).is_ok() {
                if stale_socket(path) {
                    std::fs::remove_file(path).map_err(listen_err)?;
                } else if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(ServeError::InUse(host.to_string()));
                } else {
                    return Err(ServeError::NotSocket(host.to_string()));
                }
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(listen_err)?;
            }
            let l = tokio::net::UnixListener::bind(path).map_err(listen_err)?;
            // As Docker's socket: the owner and its group only.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
                .map_err(listen_err)?;
            let file = socket_file(path).ok_or_else(|| {
                listen_err(std::io::Error::other("the socket file vanished after bind"))
            })?;
            Ok(Listener::Unix(l, path.clone(), file))
        }
        Host::Tcp(addr) => {
            let l = std::net::TcpListener::bind(addr).map_err(listen_err)?;
            l.set_nonblocking(true).map_err(listen_err)?;
            Ok(Listener::Tcp(
                tokio::net::TcpListener::from_std(l).map_err(listen_err)?,
            ))
        }
    }
}

/// Serves the API on every host until SIGTERM or SIGINT. `on_ready` is told the addresses
/// once all of them listen.
pub fn serve(opts: ServeOptions, on_ready: impl FnOnce(Ready)) -> Result<(), ServeError> {
    let mut rt = berth_runtime::Runtime::open(&opts.root)?;
    rt.keep_supervisor_standby(&opts.exe);
    let engine = Arc::new(Engine {
        rt,
        store: berth_image::Store::open(&opts.root)?,
        exe: opts.exe,
        attachments: Arc::default(),
    });
    // The shared parent cgroups stay while the server runs (removed, if empty, on its way out).
    let parent_cgroups = berth_runtime::engine::ParentCgroupsKept::keep();
    let threads = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Threads)?;
    let result = threads.block_on(async move {
        // Bound inside the runtime: tokio's listeners need its reactor.
        let mut listeners = Vec::new();
        for h in &opts.hosts {
            listeners.push(bind(h)?);
        }
        let dashboard = match opts.dashboard {
            Some(addr) => Some(bind_dashboard(addr)?),
            None => None,
        };
        on_ready(Ready {
            hosts: &opts.hosts,
            dashboard_url: dashboard.as_ref().map(|(_, url, _)| url.clone()),
        });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut servers = tokio::task::JoinSet::new();
        if let Some((l, _, token)) = dashboard {
            let mut stop = stop_rx.clone();
            let app = crate::dashboard::service(engine.clone(), token);
            servers.spawn(async move {
                let shutdown = async move {
                    let _ = stop.changed().await;
                };
                let _ = axum::serve(l, app).with_graceful_shutdown(shutdown).await;
            });
        }
        let mut sockets = Vec::new();
        for l in listeners {
            let mut stop = stop_rx.clone();
            let shutdown = async move {
                let _ = stop.changed().await;
            };
            match l {
                Listener::Unix(l, path, file) => {
                    sockets.push((path, file));
                    let app = service(engine.clone(), false);
                    servers.spawn(async move {
                        let _ = axum::serve(l, app).with_graceful_shutdown(shutdown).await;
                    });
                }
                Listener::Tcp(l) => {
                    let app = service(engine.clone(), true);
                    servers.spawn(async move {
                        let _ = axum::serve(l, app).with_graceful_shutdown(shutdown).await;
                    });
                }
            }
        }
        wait_for_stop_signal().await;
        let _ = stop_tx.send(true);
        // Streams that follow (logs -f, events) would hold a graceful shutdown forever.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while servers.join_next().await.is_some() {}
        })
        .await;
        // Only our own file: a server started meanwhile on the same path (it found ours
        // stale once we stopped accepting) keeps its socket.
        for (path, file) in sockets {
            if socket_file(&path) == Some(file) {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    });
    // Blocking work still going (a wait or a follow for a client that left) is not waited for.
    threads.shutdown_timeout(Duration::from_millis(200));
    drop(parent_cgroups);
    result
}

/// The dashboard's listener, its URL with a fresh token, and the token.
fn bind_dashboard(
    addr: std::net::SocketAddr,
) -> Result<(tokio::net::TcpListener, String, berth_dashboard::Token), ServeError> {
    let listen_err = |source| ServeError::Listen {
        host: format!("the dashboard's address {addr}"),
        source,
    };
    let l = std::net::TcpListener::bind(addr).map_err(listen_err)?;
    l.set_nonblocking(true).map_err(listen_err)?;
    let bound = l.local_addr().map_err(listen_err)?;
    let token = berth_dashboard::Token::generate().map_err(ServeError::Token)?;
    let url = format!("http://{bound}/?token={}", token.as_str());
    Ok((
        tokio::net::TcpListener::from_std(l).map_err(listen_err)?,
        url,
        token,
    ))
}

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handling there is no way to stop but being killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// The app for one listener: guard and version prefix, then the routes.
pub(crate) type AppService =
    tower::util::BoxCloneSyncService<Request, Response, std::convert::Infallible>;

/// The connection a request came on: a hijacked stream on a unix socket starts once the
/// client has read the response head (container_attach::hijack).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Connection {
    /// The connected socket (for telling when its client has gone: client_departure).
    pub(crate) fd: std::os::fd::RawFd,
    pub(crate) unix: bool,
}

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, tokio::net::UnixListener>,
    > for Connection
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::UnixListener>) -> Self {
        use std::os::fd::AsRawFd;
        Connection {
            fd: s.io().as_raw_fd(),
            unix: true,
        }
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Connection
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        use std::os::fd::AsRawFd;
        Connection {
            fd: s.io().as_raw_fd(),
            unix: false,
        }
    }
}

pub(crate) type MakeService =
    axum::extract::connect_info::IntoMakeServiceWithConnectInfo<AppService, Connection>;

fn service(engine: AppState, tcp: bool) -> MakeService {
    let router = routes().with_state(engine);
    let svc = tower::service_fn(move |req: Request| {
        let router = router.clone();
        async move {
            Ok::<_, std::convert::Infallible>(match admit(req, tcp) {
                Ok(req) => match router.oneshot(req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                },
                Err(e) => e.into_response(),
            })
        }
    });
    axum::ServiceExt::<Request>::into_make_service_with_connect_info::<Connection>(AppService::new(
        svc,
    ))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(crate::system::routes())
        .merge(crate::containers::routes())
        .merge(crate::container_files::routes())
        .merge(crate::container_stats::routes())
        .merge(crate::exec::routes())
        .merge(crate::events::routes())
        .merge(crate::networks::routes())
        .merge(crate::images::routes())
        .merge(crate::build::routes())
        .merge(crate::volumes::routes())
        .merge(crate::compose_projects::routes())
        .merge(crate::registry_auth::routes())
        .merge(crate::swarm::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "page not found") })
}

/// The guard and the version prefix.
pub(crate) fn admit(mut req: Request, tcp: bool) -> Result<Request, ApiError> {
    // A web page can reach a local TCP port (and, by rebinding DNS, with its own host name):
    // Docker's clients never send Origin, browsers always do on cross-site requests. An
    // Origin that is this very server (`http://` + the Host asked for, as WebSocket clients
    // such as docker-py's send it) is not another site; the Host check below keeps a
    // rebound name out.
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let same = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|o| !host.is_empty() && o == host);
        if !same {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "requests from web pages (with an Origin header) are refused",
            ));
        }
    }
    if tcp {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !local_host_name(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("refused: Host {host:?} is not this machine (use localhost or 127.0.0.1)"),
            ));
        }
    }
    let path = req.uri().path();
    // Without a prefix, a request speaks the newest version (as with Docker).
    let mut asked = parse_version(API_VERSION).unwrap_or((1, 24));
    if let Some(rest) = path.strip_prefix("/v") {
        let (version, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if let Some(v) = parse_version(version) {
            check_version(version, v)?;
            asked = v;
            let tail = if tail.is_empty() { "/" } else { tail };
            let pq = match req.uri().query() {
                Some(q) => format!("{tail}?{q}"),
                None => tail.to_string(),
            };
            *req.uri_mut() = pq
                .parse::<Uri>()
                .map_err(|e| ApiError::bad_request(format!("invalid request path: {e}")))?;
        }
    }
    req.extensions_mut().insert(ApiVersion(asked));
    Ok(req)
}

/// The API version a request was made in (its `/vX.Y` prefix), for the few answers that
/// changed between versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ApiVersion(pub (u32, u32));

fn check_version(text: &str, v: (u32, u32)) -> Result<(), ApiError> {
    let min = parse_version(MIN_API_VERSION).unwrap_or((1, 24));
    let max = parse_version(API_VERSION).unwrap_or(min);
    if v < min {
        return Err(ApiError::bad_request(format!(
            "client version {text} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    if v > max {
        return Err(ApiError::bad_request(format!(
            "client version {text} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok(())
}

/// `localhost`, a loopback address, or the docker CLI's placeholder names; with any port.
fn local_host_name(host: &str) -> bool {
    use berth_dashboard::access::{host_name, local_host};
    let name = host_name(host);
    local_host(host)
        || matches!(name, "api.moby.localhost" | "docker")
        || name.ends_with(".localhost")
}

/// An empty 200/204 etc. response.
pub(crate) fn status(code: StatusCode) -> Response {
    Response::builder()
        .status(code)
        .body(Body::empty())
        .unwrap_or_else(|_| code.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn version_prefixes_are_stripped_and_checked() {
        let r = admit(req("/v1.50/containers/json?all=1", &[]), false).unwrap();
        assert_eq!(r.uri().to_string(), "/containers/json?all=1");
        let r = admit(req("/v1.24/_ping", &[]), false).unwrap();
        assert_eq!(r.uri().path(), "/_ping");
        let r = admit(req("/version", &[]), false).unwrap();
        assert_eq!(r.uri().path(), "/version");
        let e = admit(req("/v1.12/info", &[]), false).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("too old"), "{}", e.message);
        let e = admit(req("/v9.0/info", &[]), false).unwrap_err();
        assert!(e.message.contains("too new"), "{}", e.message);
        // Not a version: left as it is (and routed to a 404).
        let r = admit(req("/volumes", &[]), false).unwrap();
        assert_eq!(r.uri().path(), "/volumes");
    }

    #[test]
    fn browsers_and_foreign_host_names_are_refused() {
        let e = admit(req("/_ping", &[("Origin", "http://evil.example")]), false).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        let e = admit(req("/_ping", &[("Host", "evil.example:2375")]), true).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        for ok in [
            "127.0.0.1:2375",
            "localhost",
            "[::1]:80",
            "api.moby.localhost",
        ] {
            assert!(admit(req("/_ping", &[("Host", ok)]), true).is_ok(), "{ok}");
        }
        // On the unix socket the Host header means nothing.
        assert!(admit(req("/_ping", &[("Host", "whatever")]), false).is_ok());
    }
}
