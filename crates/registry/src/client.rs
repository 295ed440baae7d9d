//! One registry's HTTP client: scheme choice (HTTPS, or HTTP for loopback/insecure ones after
//! HTTPS failed, as Docker does), extra CA certificates, and authentication on demand: a 401
//! answer's challenge is followed (bearer token for the request's scopes, or basic) and the
//! request sent again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::blocking::{RequestBuilder, Response};
use reqwest::{Method, StatusCode};

use crate::auth::{self, parse_challenge, Challenge, Credentials};
use crate::config::RegistryConfig;
use crate::error::{Error, Result};

pub struct Client {
    http: reqwest::blocking::Client,
    /// `https://host` or `http://host`.
    base: String,
    /// The registry as users name it (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    creds: Option<Credentials>,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, String>>,
}

/// Where a registry's API lives: Docker Hub's is registry-1.docker.io, or for pulls the first
/// configured mirror (as Docker uses mirrors: pulls only).
fn api_host(config: &RegistryConfig, registry: &str, pulling: bool) -> String {
    if registry == "docker.io" {
        if let Some(m) = config.registry_mirrors.first().filter(|_| pulling) {
            return m.trim_end_matches('/').to_string();
        }
        return "registry-1.docker.io".into();
    }
    registry.to_string()
}

/// CA certificates given for this registry in a certs.d directory.
fn registry_cas(config: &RegistryConfig, registry: &str) -> Vec<Vec<u8>> {
    let mut pems = Vec::new();
    for dir in &config.certs_dirs {
        if let Ok(rd) = std::fs::read_dir(dir.join(registry)) {
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "crt") {
                    if let Ok(b) = std::fs::read(e.path()) {
                        pems.push(b);
                    }
                }
            }
        }
    }
    pems
}

/// `insecure`: the registry is one where Docker accepts any certificate (loopback or listed
/// as insecure) and no CA was given for it: HTTPS is still tried first, unverified. With a
/// CA in certs.d the certificate is always verified against it.
pub(crate) fn http_client(
    config: &RegistryConfig,
    registry: &str,
    insecure: bool,
) -> Result<reqwest::blocking::Client> {
    let own = registry_cas(config, registry);
    let mut b = reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(insecure && own.is_empty())
        .connect_timeout(Duration::from_secs(15))
        .timeout(None::<Duration>)
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")));
    // The host's CA bundle (a proxy's or a company's CA is often only there), then the
    // registry's own certificates, as Docker reads them from certs.d/HOST/*.crt.
    let mut pems = Vec::new();
    if let Ok(b) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") {
        pems.push(b);
    }
    pems.extend(own);
    for pem in pems {
        if let Ok(certs) = reqwest::Certificate::from_pem_bundle(&pem) {
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
    }
    b.build().map_err(|e| Error::Http {
        url: registry.to_string(),
        reason: e.to_string(),
    })
}

/// Text of an error for users: the innermost cause, which says what went wrong.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s = inner.to_string();
        src = inner.source();
    }
    s
}

impl Client {
    /// A client for pushes and logins.
    pub fn new(config: &RegistryConfig, registry: &str) -> Result<Client> {
        Self::build(config, registry, false)
    }

    /// A client for pulls: Docker Hub pulls go to the configured mirror, if any.
    pub fn for_pull(config: &RegistryConfig, registry: &str) -> Result<Client> {
        Self::build(config, registry, true)
    }

    fn build(config: &RegistryConfig, registry: &str, pulling: bool) -> Result<Client> {
        let host = api_host(config, registry, pulling);
        let http = http_client(config, registry, config.is_insecure(registry))?;
        let (host, explicit_scheme) = match host.split_once("://") {
            Some((scheme, h)) => (h.to_string(), Some(scheme.to_string())),
            None => (host, None),
        };
        let base = match explicit_scheme {
            Some(s) => format!("{s}://{host}"),
            None if config.is_insecure(registry) => {
                // HTTPS first; plain HTTP only if the registry does not speak TLS.
                let https = format!("https://{host}");
                match http
                    .get(format!("{https}/v2/"))
                    .timeout(Duration::from_secs(5))
                    .send()
                {
                    Ok(_) => https,
                    Err(_) => format!("http://{host}"),
                }
            }
            None => format!("https://{host}"),
        };
        Ok(Client {
            http,
            base,
            registry: registry.to_string(),
            creds: match &config.credentials {
                crate::config::CredentialSource::Saved => auth::lookup(registry)?,
                crate::config::CredentialSource::Given(c) => c.clone(),
            },
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Uses these credentials instead of the saved ones (`login`).
    pub fn with_credentials(mut self, c: Option<Credentials>) -> Client {
        self.creds = c;
        self
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    fn authorize(&self, rb: RequestBuilder, scopes: &[String]) -> RequestBuilder {
        let challenge = self.challenge.lock().ok().and_then(|c| c.clone());
        match challenge {
            Some(c) if c.scheme == "bearer" => {
                let key = scopes.join(" ");
                match self.tokens.lock().ok().and_then(|t| t.get(&key).cloned()) {
                    Some(t) => rb.bearer_auth(t),
                    None => rb,
                }
            }
            Some(c) if c.scheme == "basic" => match &self.creds {
                Some(cr) => rb.basic_auth(&cr.username, Some(&cr.password)),
                None => rb,
            },
            _ => rb,
        }
    }

    /// Gets a bearer token for `scopes` from the challenge's realm.
    fn fetch_token(&self, c: &Challenge, scopes: &[String]) -> Result<()> {
        let realm = c.params.get("realm").cloned().unwrap_or_default();
        let mut q: Vec<(String, String)> = Vec::new();
        if let Some(s) = c.params.get("service") {
            q.push(("service".into(), s.clone()));
        }
        for s in scopes {
            q.push(("scope".into(), s.clone()));
        }
        let mut rb = self.http.get(&realm).query(&q);
        if let Some(cr) = &self.creds {
            rb = rb.basic_auth(&cr.username, Some(&cr.password));
        }
        let resp = rb.send().map_err(|e| Error::Http {
            url: realm.clone(),
            reason: describe(&e),
        })?;
        if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
            return Err(Error::Unauthorized {
                what: format!("token for {}", scopes.join(" ")),
            });
        }
        if !resp.status().is_success() {
            return Err(Error::Status {
                registry: self.registry.clone(),
                what: format!("token from {realm}"),
                status: resp.status().as_u16(),
                body: resp.text().unwrap_or_default(),
            });
        }
        let v: serde_json::Value = resp.json().map_err(|e| Error::BadJson {
            what: format!("token from {realm}"),
            reason: e.to_string(),
        })?;
        let token = v["token"]
            .as_str()
            .or_else(|| v["access_token"].as_str())
            .ok_or_else(|| Error::BadJson {
                what: format!("token from {realm}"),
                reason: "no token in the answer".into(),
            })?;
        if let Ok(mut t) = self.tokens.lock() {
            t.insert(scopes.join(" "), token.to_string());
        }
        Ok(())
    }

    /// Sends a request (built by `build`, which may be called twice: once more after an
    /// authentication challenge) with the credentials the registry asks for.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        scopes: &[String],
        build: &dyn Fn(RequestBuilder) -> Result<RequestBuilder>,
    ) -> Result<Response> {
        let url = self.url(path);
        let attempt = |_: ()| -> Result<Response> {
            let rb = self.authorize(self.http.request(method.clone(), &url), scopes);
            build(rb)?.send().map_err(|e| Error::Http {
                url: url.clone(),
                reason: describe(&e),
            })
        };
        let resp = attempt(())?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let header = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .and_then(parse_challenge);
        let Some(c) = header else {
            return Err(Error::Unauthorized { what: url });
        };
        if c.scheme == "bearer" {
            self.fetch_token(&c, scopes)?;
        } else if self.creds.is_none() {
            return Err(Error::Unauthorized { what: url });
        }
        if let Ok(mut g) = self.challenge.lock() {
            *g = Some(c.clone());
        }
        let resp = attempt(())?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized { what: url });
        }
        Ok(resp)
    }

    /// Checks that the credentials work (`login`): `GET /v2/` with them.
    pub fn check_login(&self) -> Result<()> {
        let resp = self.send(Method::GET, "/v2/", &[], &|rb| Ok(rb))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Error::Status {
                registry: self.registry.clone(),
                what: "/v2/".into(),
                status: resp.status().as_u16(),
                body: resp.text().unwrap_or_default(),
            })
        }
    }

    /// A failed response as an error naming what was asked for.
    pub(crate) fn status_error(&self, what: &str, resp: Response) -> Error {
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Error::NotFound(what.to_string());
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Error::Unauthorized {
                what: what.to_string(),
            };
        }
        let body: String = resp.text().unwrap_or_default().chars().take(300).collect();
        Error::Status {
            registry: self.registry.clone(),
            what: what.to_string(),
            status: status.as_u16(),
            body: body.trim().to_string(),
        }
    }
}
