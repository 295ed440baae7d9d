//! `/volumes/…`: list (filters), create, inspect, remove, prune — the engine's volume
//! operations (berth_runtime::volume_list, volume_remove) with the API's bodies and codes.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::containers::json_body;
use crate::error::ApiError;
use crate::query::{filter_args, flag, Params};
use crate::server::{blocking, status, ApiVersion, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

async fn list(State(e): State<AppState>, Query(q): Query<Params>) -> Result<Json<Value>, ApiError> {
    let args = filter_args(&q)?;
    blocking(move || {
        let vols = e.rt.list_volumes_json(&args)?;
        Ok(Json(json!({"Volumes": vols, "Warnings": null})))
    })
    .await
}

/// The create body as the docker CLI and docker-py send it.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct VolumeCreate {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    cluster_volume_spec: Option<Value>,
}

async fn create(
    State(e): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v: VolumeCreate = json_body(&headers, &body)?;
    if v.cluster_volume_spec.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(ApiError::bad_request(
            "ClusterVolumeSpec: cluster volumes need swarm mode, which berth does not have",
        ));
    }
    let created = blocking(move || {
        Ok(e.rt.create_volume(
            Some(&v.name),
            &v.driver,
            &v.driver_opts.unwrap_or_default(),
            v.labels,
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn inspect(
    State(e): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || match e.rt.volumes()?.inspect(&name)? {
        Some(v) => Ok(Json(v)),
        None => Err(berth_runtime::Error::NoSuchVolume(name).into()),
    })
    .await
}

async fn remove(
    State(e): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let force = flag(&q, "force");
    blocking(move || {
        e.rt.remove_volume(&name, force)?;
        Ok(status(StatusCode::NO_CONTENT))
    })
    .await
}

/// Before API 1.42 a prune took every unused volume; since, only anonymous ones unless
/// the filter `all=true` says otherwise.
async fn prune(
    State(e): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let mut args = filter_args(&q)?;
    if version < ApiVersion((1, 42)) && !args.iter().any(|a| a.starts_with("all=")) {
        args.push("all=true".into());
    }
    blocking(move || {
        let r = e.rt.prune_volumes(&args)?;
        Ok(Json(json!({
            "VolumesDeleted": r.deleted,
            "SpaceReclaimed": r.space_reclaimed,
        })))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_bodies_are_dockers() {
        let v: VolumeCreate = serde_json::from_str(
            r#"{"Driver":"local","DriverOpts":{},"Labels":{"a":"b"},"Name":"data"}"#,
        )
        .unwrap();
        assert_eq!((v.name.as_str(), v.driver.as_str()), ("data", "local"));
        assert!(serde_json::from_str::<VolumeCreate>(r#"{"Name":"x","Size":1}"#).is_err());
    }
}
