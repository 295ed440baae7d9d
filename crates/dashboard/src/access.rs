//! Who may use the dashboard. It drives the engine (root on this machine), and any web page
//! the user visits can make the browser send requests to a local port, so every request
//! must show:
//! - a `Host` that names this machine (`localhost`, a loopback address): a page whose own
//!   name was rebound to 127.0.0.1 (DNS rebinding) sends its own name and is refused;
//! - no `Origin` but this very server's, and on anything but GET/HEAD an `Origin` at all:
//!   requests made by other sites (CSRF) are refused, and no CORS header is ever sent;
//! - the token `berth serve` printed in the dashboard's URL: the first visit brings it in
//!   the query and gets it back as an `HttpOnly; SameSite=Strict` cookie (so page scripts
//!   cannot read it and other sites' requests do not carry it), then a redirect drops it
//!   from the address bar.

use std::io::Read;

use http::{header, HeaderMap, Method, StatusCode, Uri};

/// The cookie that carries the token.
pub const COOKIE: &str = "berth_dashboard";

/// A random secret, as 64 hex digits.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// 32 bytes from the kernel's random source.
    pub fn generate() -> std::io::Result<Token> {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compared in constant time, so response times do not tell how much of a guess is right.
    fn matches(&self, given: &str) -> bool {
        given.len() == self.0.len()
            && given
                .bytes()
                .zip(self.0.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// The token came in the URL: answer 303 to `location` (the same path without it) with
    /// this `Set-Cookie`.
    SetCookie {
        location: String,
        set_cookie: String,
    },
    Refused {
        status: StatusCode,
        message: String,
    },
}

fn refused(status: StatusCode, message: impl Into<String>) -> Admission {
    Admission::Refused {
        status,
        message: message.into(),
    }
}

/// The name in a `Host` header, without its port (and an IPv6 address without brackets).
pub fn host_name(host: &str) -> &str {
    match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    }
}

/// Whether a `Host` header (name and optional port) names this machine: `localhost` or a
/// loopback address.
pub fn local_host(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks one request (see the module's doc).
pub fn admit(token: &Token, method: &Method, uri: &Uri, headers: &HeaderMap) -> Admission {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let host = text(header::HOST).unwrap_or("");
    if !local_host(host) {
        return refused(
            StatusCode::FORBIDDEN,
            format!("refused: Host {host:?} is not this machine (open the dashboard at localhost or 127.0.0.1)"),
        );
    }
    match text(header::ORIGIN) {
        Some(origin) if origin.strip_prefix("http://") != Some(host) => {
            return refused(
                StatusCode::FORBIDDEN,
                format!("refused: a request from another site ({origin})"),
            );
        }
        None if method != Method::GET && method != Method::HEAD => {
            return refused(
                StatusCode::FORBIDDEN,
                "refused: a request that changes something must come from the dashboard's page (it has no Origin header)",
            );
        }
        _ => {}
    }
    let in_query = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .map(str::to_string)
    });
    if let Some(given) = in_query {
        if method != Method::GET || !token.matches(&given) {
            return refused(
                StatusCode::UNAUTHORIZED,
                "refused: the token in the URL is not this server's",
            );
        }
        let rest: Vec<&str> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.starts_with("token=") && !pair.is_empty())
            .collect();
        let location = if rest.is_empty() {
            uri.path().to_string()
        } else {
            format!("{}?{}", uri.path(), rest.join("&"))
        };
        return Admission::SetCookie {
            location,
            set_cookie: format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                token.as_str()
            ),
        };
    }
    let cookie_ok = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .any(|given| token.matches(given));
    if cookie_ok {
        Admission::Allowed
    } else {
        refused(
            StatusCode::UNAUTHORIZED,
            "refused: open the dashboard with the URL `berth serve --dashboard` printed (it holds the token)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token("ab".repeat(32))
    }

    fn ask(method: Method, uri: &str, headers: &[(&str, &str)]) -> Admission {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        admit(&token(), &method, &uri.parse().unwrap(), &h)
    }

    fn status(a: Admission) -> StatusCode {
        match a {
            Admission::Refused { status, .. } => status,
            other => panic!("admitted: {other:?}"),
        }
    }

    const HOST: (&str, &str) = ("host", "127.0.0.1:7000");

    #[test]
    fn tokens_are_random_and_long() {
        let (a, b) = (Token::generate().unwrap(), Token::generate().unwrap());
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str()) && !a.matches(b.as_str()) && !a.matches(""));
    }

    #[test]
    fn the_token_in_the_url_becomes_a_strict_http_only_cookie() {
        let good = format!("/?token={}", "ab".repeat(32));
        assert_eq!(
            ask(Method::GET, &good, &[HOST]),
            Admission::SetCookie {
                location: "/".into(),
                set_cookie: format!(
                    "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                    "ab".repeat(32)
                ),
            }
        );
        let with_view = format!("/images?token={}&sort=size", "ab".repeat(32));
        match ask(Method::GET, &with_view, &[HOST]) {
            Admission::SetCookie { location, .. } => assert_eq!(location, "/images?sort=size"),
            other => panic!("{other:?}"),
        }
        let wrong = format!("/?token={}", "cd".repeat(32));
        assert_eq!(
            status(ask(Method::GET, &wrong, &[HOST])),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn every_request_needs_the_cookie() {
        let cookie = format!("theme=dark; {COOKIE}={}", "ab".repeat(32));
        assert_eq!(
            ask(
                Method::GET,
                "/api/images/json",
                &[HOST, ("cookie", &cookie)]
            ),
            Admission::Allowed
        );
        assert_eq!(
            status(ask(Method::GET, "/", &[HOST])),
            StatusCode::UNAUTHORIZED
        );
        let bad = format!("{COOKIE}={}", "ab".repeat(31));
        assert_eq!(
            status(ask(Method::GET, "/", &[HOST, ("cookie", &bad)])),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn foreign_hosts_and_origins_are_refused_even_with_the_cookie() {
        let cookie = format!("{COOKIE}={}", "ab".repeat(32));
        let c = ("cookie", cookie.as_str());
        // DNS rebinding: a page at evil.example:7000 resolved to 127.0.0.1.
        assert_eq!(
            status(ask(Method::GET, "/", &[("host", "evil.example:7000"), c])),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(ask(
                Method::POST,
                "/api/containers/x/stop",
                &[HOST, c, ("origin", "http://evil.example")]
            )),
            StatusCode::FORBIDDEN
        );
        // A change without Origin is not from the dashboard's page.
        assert_eq!(
            status(ask(Method::POST, "/api/containers/x/stop", &[HOST, c])),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ask(
                Method::POST,
                "/api/containers/x/stop",
                &[HOST, c, ("origin", "http://127.0.0.1:7000")]
            ),
            Admission::Allowed
        );
        for ok in ["localhost:1", "[::1]:7000", "127.0.0.2", "LOCALHOST"] {
            assert!(local_host(ok), "{ok}");
        }
        for bad in ["", "localhost.evil.example", "10.0.0.1:7000", "[fe80::1]:1"] {
            assert!(!local_host(bad), "{bad}");
        }
    }
}
