//! `/networks/…`: list (filters), inspect, create, remove, connect, disconnect, prune — the
//! engine's network operations with the API's bodies and status codes.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::containers::json_body;
use crate::error::ApiError;
use crate::query::{filter_args, Params};
use crate::server::{blocking, status, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

async fn list(State(e): State<AppState>, Query(q): Query<Params>) -> Result<Json<Value>, ApiError> {
    let args = filter_args(&q)?;
    blocking(move || Ok(Json(Value::Array(e.rt.list_networks(&args)?)))).await
}

fn no_such_network(key: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("network {key} not found"))
}

async fn inspect(
    State(e): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || match e.rt.network_inspect(&id)? {
        Some(v) => Ok(Json(v)),
        None => Err(no_such_network(&id)),
    })
    .await
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct IpamConfig {
    subnet: Option<String>,
    gateway: Option<String>,
    #[serde(rename = "IPRange")]
    ip_range: Option<String>,
    #[serde(rename = "AuxiliaryAddresses")]
    aux_address: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct Ipam {
    driver: String,
    options: Option<BTreeMap<String, String>>,
    config: Option<Vec<IpamConfig>>,
}

/// The create body as the docker CLI 28 and docker-py send it; what berth cannot do is
/// refused by name when set.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct NetworkCreate {
    name: String,
    driver: String,
    scope: String,
    #[serde(rename = "EnableIPv4")]
    enable_ipv4: Option<bool>,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    internal: bool,
    attachable: bool,
    ingress: bool,
    config_only: bool,
    config_from: Option<Value>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    check_duplicate: Option<bool>,
}

async fn create(
    State(e): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let n: NetworkCreate = json_body(&headers, &body)?;
    let refuse = |field: &str| {
        Err(ApiError::bad_request(format!(
            "{field} is not supported by berth yet"
        )))
    };
    if n.name.is_empty() {
        return Err(ApiError::bad_request("network name (Name) must be set"));
    }
    if n.enable_ipv4 == Some(false) {
        return refuse("EnableIPv4=false");
    }
    if n.ingress || n.config_only || n.config_from.as_ref().is_some_and(|c| !c.is_null()) {
        return refuse("Ingress/ConfigOnly/ConfigFrom");
    }
    if n.options.as_ref().is_some_and(|o| !o.is_empty()) {
        return refuse("Options");
    }
    if !n.scope.is_empty() && n.scope != "local" {
        return refuse("Scope other than local");
    }
    let _ = (n.attachable, n.check_duplicate);
    let ipam = n.ipam.unwrap_or_default();
    if !ipam.driver.is_empty() && ipam.driver != "default" {
        return refuse("IPAM.Driver");
    }
    if ipam.options.as_ref().is_some_and(|o| !o.is_empty()) {
        return refuse("IPAM.Options");
    }
    let ipam_options_given = ipam.options.is_some();
    // One IPv4 and one IPv6 pool at most, told apart by their subnet.
    let (v6, v4): (Vec<_>, Vec<_>) = ipam
        .config
        .unwrap_or_default()
        .into_iter()
        .partition(|c| c.subnet.as_deref().is_some_and(|s| s.contains(':')));
    if v4.len() > 1 || v6.len() > 1 {
        return refuse("more than one IPAM.Config of an address family");
    }
    let first = v4.into_iter().next().unwrap_or_default();
    let six = v6.into_iter().next().unwrap_or_default();
    if six.aux_address.as_ref().is_some_and(|a| !a.is_empty()) {
        return refuse("AuxiliaryAddresses of an IPv6 pool");
    }
    let o = berth_network::CreateOptions {
        enable_ipv6: n.enable_ipv6 == Some(true),
        ipv6_subnet: six.subnet.filter(|s| !s.is_empty()),
        ipv6_gateway: six.gateway.filter(|g| !g.is_empty()),
        ipv6_ip_range: six.ip_range.filter(|r| !r.is_empty()),
        name: n.name,
        driver: Some(n.driver).filter(|d| !d.is_empty()),
        subnet: first.subnet.filter(|s| !s.is_empty()),
        gateway: first.gateway.filter(|g| !g.is_empty()),
        ip_range: first.ip_range.filter(|r| !r.is_empty()),
        aux_addresses: first.aux_address.unwrap_or_default().into_iter().collect(),
        internal: n.internal,
        ipam_options_given,
        labels: n
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    };
    let net = blocking(move || Ok(e.rt.create_network(&o)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": net.id, "Warning": ""})),
    ))
}

async fn remove(State(e): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    blocking(move || {
        e.rt.remove_network(&id)?;
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct Connect {
    container: String,
    endpoint_config: Option<berth_runtime::container_config::EndpointSettings>,
    force: bool,
}

async fn connect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c: Connect = json_body(&headers, &body)?;
    let ep = c.endpoint_config.unwrap_or_default();
    blocking(move || {
        e.rt.connect(&c.container, &id, &ep)?;
        Ok(status(StatusCode::OK))
    })
    .await
}

async fn disconnect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c: Connect = json_body(&headers, &body)?;
    let _ = c.force;
    blocking(move || {
        e.rt.disconnect(&c.container, &id)?;
        Ok(status(StatusCode::OK))
    })
    .await
}

async fn prune(
    State(e): State<AppState>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let args = filter_args(&q)?;
    blocking(move || {
        let removed = e.rt.prune_networks(&args)?;
        Ok(Json(json!({ "NetworksDeleted": removed })))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_bodies_are_dockers() {
        let n: NetworkCreate = serde_json::from_str(
            r#"{"Name":"app","Driver":"bridge","Scope":"","EnableIPv4":true,"EnableIPv6":false,
                "IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.9.0.0/24"}]},
                "Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,
                "ConfigFrom":null,"Options":{},"Labels":{"team":"kiwi"}}"#,
        )
        .unwrap();
        assert_eq!(n.name, "app");
        assert_eq!(
            n.ipam.unwrap().config.unwrap()[0].subnet.as_deref(),
            Some("10.9.0.0/24")
        );
        assert!(serde_json::from_str::<NetworkCreate>(r#"{"Name":"x","Bogus":1}"#).is_err());
    }
}
