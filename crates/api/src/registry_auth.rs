//! `POST /auth`: checks a login with the registry (the docker CLI then keeps the credentials
//! itself and sends them with each pull and push, in `X-Registry-Auth`). berth serve stores
//! nothing.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::containers::json_body;
use crate::error::ApiError;
use crate::server::{blocking, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/auth", post(login))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuthConfig {
    username: String,
    password: String,
    serveraddress: String,
    // Sent by some clients; not used for a check.
    #[allow(dead_code)]
    email: String,
    identitytoken: String,
    #[allow(dead_code)]
    auth: String,
    #[allow(dead_code)]
    registrytoken: String,
}

async fn login(headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let a: AuthConfig = json_body(&headers, &body)?;
    if !a.identitytoken.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "identity tokens are not supported by berth yet",
        ));
    }
    if a.username.is_empty() || a.password.is_empty() {
        return Err(ApiError::bad_request("username and password are required"));
    }
    let registry = berth_registry::auth::registry_of(
        Some(&a.serveraddress)
            .filter(|s| !s.is_empty())
            .map(String::as_str),
    );
    let creds = berth_registry::auth::Credentials {
        username: a.username,
        password: a.password,
    };
    blocking(move || {
        let mut cfg = berth_registry::RegistryConfig::load()?;
        cfg.credentials = berth_registry::CredentialSource::Given(None);
        let client = berth_registry::Client::new(&cfg, &registry)?.with_credentials(Some(creds));
        client.check_login().map_err(|e| match e {
            berth_registry::Error::Unauthorized { .. } => ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!("login to {registry} failed: unauthorized: incorrect username or password"),
            ),
            e => e.into(),
        })?;
        Ok(Json(
            json!({"Status": "Login Succeeded", "IdentityToken": ""}),
        ))
    })
    .await
}
