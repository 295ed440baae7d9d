//! The dashboard's listener (`berth serve --dashboard`): every request passes the
//! dashboard's access guard (token cookie, local Host, same Origin: `berth_dashboard::access`),
//! then `/api/…` goes to the very routes the sockets serve (the app is one more API client)
//! and anything else is a file of the embedded web app. Every answer forbids framing and
//! sniffing and carries a content security policy; none carries a CORS header.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use berth_dashboard::{access, assets, Admission, Token};
use tower::ServiceExt;

use crate::error::ApiError;
use crate::server::{admit, routes, AppService, AppState, Connection, MakeService};

/// What the app's page may load and connect to: only this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub(crate) fn service(engine: AppState, token: Token) -> MakeService {
    let router = routes().with_state(engine);
    let token = std::sync::Arc::new(token);
    let svc = tower::service_fn(move |req: Request| {
        let router = router.clone();
        let token = token.clone();
        async move {
            let mut res = match access::admit(&token, req.method(), req.uri(), req.headers()) {
                Admission::Allowed => match api_path(req.uri()) {
                    Some(rest) => match to_api(req, &rest) {
                        Ok(req) => match router.oneshot(req).await {
                            Ok(r) => r,
                            Err(never) => match never {},
                        },
                        Err(e) => e.into_response(),
                    },
                    None => file(&req),
                },
                Admission::SetCookie {
                    location,
                    set_cookie,
                } => Response::builder()
                    .status(StatusCode::SEE_OTHER)
                    .header(header::LOCATION, location)
                    .header(header::SET_COOKIE, set_cookie)
                    .header(header::CACHE_CONTROL, "no-store")
                    .body(Body::empty())
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
                Admission::Refused { status, message } => {
                    if api_path(req.uri()).is_some() {
                        ApiError::new(status, message).into_response()
                    } else {
                        (
                            status,
                            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                            format!("{message}\n"),
                        )
                            .into_response()
                    }
                }
            };
            let h = res.headers_mut();
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            h.insert("x-frame-options", HeaderValue::from_static("DENY"));
            h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            h.insert(
                "content-security-policy",
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            );
            Ok::<_, std::convert::Infallible>(res)
        }
    });
    axum::ServiceExt::<Request>::into_make_service_with_connect_info::<Connection>(AppService::new(
        svc,
    ))
}

/// `/api/containers/json?all=1` → `/containers/json?all=1`; None for the app's own paths.
fn api_path(uri: &Uri) -> Option<String> {
    let rest = uri.path().strip_prefix("/api")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let rest = if rest.is_empty() { "/" } else { rest };
    Some(match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    })
}

fn to_api(mut req: Request, rest: &str) -> Result<Request, ApiError> {
    *req.uri_mut() = rest
        .parse::<Uri>()
        .map_err(|e| ApiError::bad_request(format!("invalid request path: {e}")))?;
    // The Host and Origin were checked by the guard; the API's own checks pass the same.
    admit(req, true)
}

fn file(req: &Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "the dashboard's files are only read\n",
        )
            .into_response();
    }
    match assets::lookup(req.uri().path()) {
        Some(a) => Response::builder()
            .header(header::CONTENT_TYPE, a.content_type)
            .header(
                header::CACHE_CONTROL,
                if a.immutable {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                },
            )
            .body(if req.method() == Method::HEAD {
                Body::empty()
            } else {
                Body::from(a.body)
            })
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        None => (StatusCode::NOT_FOUND, "no such file in the dashboard\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_the_engine_api_under_api() {
        let p = |s: &str| api_path(&s.parse().unwrap());
        assert_eq!(
            p("/api/containers/json?all=1").as_deref(),
            Some("/containers/json?all=1")
        );
        assert_eq!(p("/api/v1.47/_ping").as_deref(), Some("/v1.47/_ping"));
        assert_eq!(p("/api").as_deref(), Some("/"));
        assert_eq!(p("/apiary"), None);
        assert_eq!(p("/images"), None);
    }
}
