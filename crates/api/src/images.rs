//! `/images/…`: list, inspect, tag and remove. Image names contain slashes
//! (`localhost:5000/team/app:1`), so `/images/{name}/json` is matched by its suffix.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_image::image_list::ImageFilters;
use berth_image::images::RemoveEvent;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::query::{filter_args, flag, Params};
use crate::server::{blocking, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/images/json", get(list)).route(
        "/images/{*name}",
        get(by_name).delete(remove).post(post_by_name),
    )
}

async fn list(State(e): State<AppState>, Query(q): Query<Params>) -> Result<Json<Value>, ApiError> {
    let args = filter_args(&q)?;
    blocking(move || {
        let filters = ImageFilters::parse_args(&e.store, &args)?;
        Ok(Json(Value::Array(e.store.image_summaries(&filters)?)))
    })
    .await
}

/// GET `/images/{name}/json` (the only GET under a name so far).
async fn by_name(
    State(e): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let Some(name) = path.strip_suffix("/json") else {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "page not found",
        ));
    };
    let name = name.to_string();
    blocking(move || {
        let img = e.store.lookup(&name)?;
        Ok(Json(berth_image::inspect::image_inspect(&e.store, &img)).into_response())
    })
    .await
}

/// POST `/images/{name}/tag?repo=R&tag=T`.
async fn post_by_name(
    State(e): State<AppState>,
    Path(path): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let Some(name) = path.strip_suffix("/tag") else {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "page not found",
        ));
    };
    let name = name.to_string();
    let repo = q.get("repo").cloned().unwrap_or_default();
    if repo.is_empty() {
        return Err(ApiError::bad_request("repository name (repo) must be set"));
    }
    let target = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    };
    blocking(move || {
        e.store.tag_image(&name, &target)?;
        Ok(axum::http::StatusCode::CREATED.into_response())
    })
    .await
}

async fn remove(
    State(e): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let force = flag(&q, "force");
    blocking(move || {
        let used = e.rt.images_in_use();
        let in_use = |d: &berth_image::Digest| used.contains(&d.to_string());
        let events = e.store.remove_image(&name, force, &in_use)?;
        Ok(Json(Value::Array(
            events
                .iter()
                .map(|ev| match ev {
                    RemoveEvent::Untagged(t) => json!({"Untagged": t}),
                    RemoveEvent::Deleted(d) => json!({"Deleted": d.to_string()}),
                })
                .collect(),
        )))
    })
    .await
}
