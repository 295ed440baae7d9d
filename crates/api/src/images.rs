//! `/images/…`: list, inspect, history, tag, remove, prune, pull (`create`), push, save
//! (`get`), load, and `/commit`. Image names contain slashes (`localhost:5000/team/app:1`),
//! so `/images/{name}/json` and the like are matched by their suffix.

use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_image::image_list::ImageFilters;
use berth_image::images::RemoveEvent;
use berth_image::Reference;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::progress::{progress_response, registry_auth};
use crate::query::{all_values, filter_args, filters, flag, Params};
use crate::server::{blocking, AppState};
use crate::streaming::{body_from_writer, BodyReader};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/create", post(create))
        .route("/images/get", get(save_many))
        .route("/images/load", post(load))
        .route("/images/prune", post(prune))
        .route("/images/search", get(search))
        .route("/commit", post(commit))
        .route(
            "/images/{*name}",
            get(by_name).delete(remove).post(post_by_name),
        )
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "page not found")
}

async fn list(State(e): State<AppState>, Query(q): Query<Params>) -> Result<Json<Value>, ApiError> {
    let args = filter_args(&q)?;
    blocking(move || {
        let filters = ImageFilters::parse_args(&e.store, &args)?;
        Ok(Json(Value::Array(e.store.image_summaries(&filters)?)))
    })
    .await
}

/// GET `/images/{name}/json`, `…/history`, `…/get`.
async fn by_name(
    State(e): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(name) = path.strip_suffix("/json") {
        let name = name.to_string();
        return blocking(move || {
            let img = e.store.lookup(&name)?;
            Ok(Json(berth_image::inspect::image_inspect(&e.store, &img)).into_response())
        })
        .await;
    }
    if let Some(name) = path.strip_suffix("/history") {
        let name = name.to_string();
        return blocking(move || {
            let img = e.store.lookup(&name)?;
            Ok(Json(e.store.history(&img)).into_response())
        })
        .await;
    }
    if let Some(name) = path.strip_suffix("/get") {
        return save(e, vec![name.to_string()]).await;
    }
    Err(not_found())
}

/// `docker save`: the images as one tar stream (`docker load`'s and `podman load`'s format).
async fn save(e: AppState, names: Vec<String>) -> Result<Response, ApiError> {
    let engine = e.clone();
    let chosen = blocking(move || Ok(berth_image::archive::select(&engine.store, &names)?)).await?;
    let body =
        body_from_writer(move |w| berth_image::archive::save(&e.store, &chosen, w).map(|_| ()));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(body)
        .unwrap_or_else(|_| crate::server::status(StatusCode::INTERNAL_SERVER_ERROR)))
}

/// GET `/images/get?names=a&names=b`.
async fn save_many(
    State(e): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let names = all_values(raw.as_deref(), "names")?;
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "names: at least one image must be named",
        ));
    }
    save(e, names).await
}

/// POST `/images/load`: a `docker save` tar in the body; what was loaded, as Docker's stream.
async fn load(State(e): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let body = BodyReader::new(req.into_body());
    let lines = blocking(move || {
        // A bad archive is told in the stream, as dockerd does (docker-py raises its
        // ImageLoadError from there; the docker CLI prints it either way).
        let loaded = match berth_image::archive::load(&e.store, body, "the request body") {
            Ok(loaded) => loaded,
            Err(err) => {
                let message = err.to_string();
                return Ok(
                    json!({"errorDetail": {"message": message}, "error": message}).to_string()
                        + "\n",
                );
            }
        };
        let mut out = String::new();
        for l in loaded {
            let mut shown: Vec<String> = l
                .tags
                .iter()
                .map(|t| format!("Loaded image: {t}\n"))
                .collect();
            if shown.is_empty() {
                shown.push(format!("Loaded image ID: {}\n", l.id));
            }
            for s in shown {
                out.push_str(&json!({ "stream": s }).to_string());
                out.push('\n');
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(lines))
        .unwrap_or_else(|_| crate::server::status(StatusCode::INTERNAL_SERVER_ERROR)))
}

/// POST `/images/prune`: dangling images, or (`dangling=false`) every image no container
/// uses, that pass the `until` and `label` filters.
async fn prune(
    State(e): State<AppState>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let list: Vec<String> = filters(&q)?
        .into_iter()
        .flat_map(|(k, vs)| vs.into_iter().map(move |v| format!("{k}={v}")))
        .collect();
    blocking(move || {
        let (events, reclaimed) = e.rt.prune_images(false, &list)?;
        Ok(Json(json!({
            "ImagesDeleted": events.iter().map(remove_event_json).collect::<Vec<_>>(),
            "SpaceReclaimed": reclaimed,
        })))
    })
    .await
}

async fn search() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "search is not supported by berth: it has no registry index to ask",
    )
}

/// POST `/images/create`: `fromImage` pulls (progress streamed), `fromSrc=-` imports the
/// body as a one-layer image.
async fn create(
    State(e): State<AppState>,
    Query(q): Query<Params>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let tag = q.get("tag").cloned().unwrap_or_default();
    if let Some(src) = q.get("fromSrc").filter(|s| !s.is_empty()) {
        if src != "-" {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                format!("fromSrc {src:?}: importing from a URL is not supported by berth yet"),
            ));
        }
        let repo = q.get("repo").cloned().unwrap_or_default();
        let reference = match (repo.is_empty(), tag.is_empty()) {
            (true, _) => None,
            (false, true) => Some(Reference::parse_tagged_default(&repo)?),
            (false, false) => Some(Reference::parse_tagged_default(&format!("{repo}:{tag}"))?),
        };
        let opts = berth_image::import::ImportOptions {
            changes: all_values(raw.as_deref(), "changes")?,
            message: q.get("message").cloned().filter(|m| !m.is_empty()),
            source: "-".into(),
            tag: reference,
        };
        let body = BodyReader::new(req.into_body());
        let img = blocking(move || Ok(berth_image::import::import(&e.store, body, &opts)?)).await?;
        let line = json!({ "status": img.id().to_string() }).to_string() + "\n";
        return Ok(line.into_response());
    }
    let Some(from) = q.get("fromImage").filter(|s| !s.is_empty()).cloned() else {
        return Err(ApiError::bad_request("fromImage or fromSrc must be set"));
    };
    let name = match tag.as_str() {
        "" => from,
        t if t.contains(':') => format!("{from}@{t}"),
        t => format!("{from}:{t}"),
    };
    let mut reference = Reference::parse(&name)?;
    let platform = q.get("platform").cloned().filter(|p| !p.is_empty());
    let creds = registry_auth(&headers)?;
    Ok(progress_response(move |p| {
        let mut cfg = berth_registry::RegistryConfig::load()?;
        cfg.credentials = berth_registry::CredentialSource::Given(creds);
        if reference.tag.is_none() && reference.digest.is_none() {
            reference.tag = Some("latest".into());
        }
        let pulled = berth_registry::pull::pull_reporting(
            &e.store,
            &cfg,
            &reference,
            &berth_registry::pull::PullOptions { platform },
            p,
        )
        .map_err(|err| pull_error(err, &reference))?;
        p.status(&pulled.status_line(&reference));
        Ok(())
    })
    .await)
}

/// A registry's refusal is dockerd's 404 "pull access denied" (a 401 would make the docker
/// CLI ask for a login on the terminal).
fn pull_error(err: berth_registry::Error, reference: &Reference) -> ApiError {
    use berth_error_kind::{ErrorKind, HasKind};
    match err.kind() {
        ErrorKind::Unauthorized | ErrorKind::Forbidden => ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "pull access denied for {}, repository does not exist or may require 'docker login': {err}",
                reference.familiar_name()
            ),
        ),
        _ => err.into(),
    }
}

/// POST `/commit?container=…&repo=…&tag=…&comment=…&author=…&pause=…&changes=…`.
async fn commit(
    State(e): State<AppState>,
    Query(q): Query<Params>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let config: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    if config
        .as_object()
        .is_some_and(|o| o.values().any(|v| !v.is_null()))
    {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "a commit's config body is not supported by berth yet: use changes (docker commit --change)",
        ));
    }
    let container = q.get("container").cloned().unwrap_or_default();
    let repo = q.get("repo").cloned().unwrap_or_default();
    let reference = match (repo.as_str(), q.get("tag").map(String::as_str)) {
        ("", _) => None,
        (r, None | Some("")) => Some(r.to_string()),
        (r, Some(t)) => Some(format!("{r}:{t}")),
    };
    let changes = all_values(raw.as_deref(), "changes")?;
    let comment = q.get("comment").cloned().filter(|c| !c.is_empty());
    let author = q.get("author").cloned().filter(|a| !a.is_empty());
    // Docker pauses by default.
    let pause = !q.contains_key("pause") || flag(&q, "pause");
    let img = blocking(move || {
        Ok(e.rt.commit(
            &container,
            &changes,
            comment,
            author,
            reference.as_deref(),
            pause,
        )?)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "Id": img.id().to_string() })),
    ))
}

/// POST `/images/{name}/tag?repo=R&tag=T` and `/images/{name}/push?tag=T`.
async fn post_by_name(
    State(e): State<AppState>,
    Path(path): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(name) = path.strip_suffix("/push") {
        return push(e, name, &q, &headers).await;
    }
    let Some(name) = path.strip_suffix("/tag") else {
        return Err(not_found());
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

fn remove_event_json(ev: &RemoveEvent) -> Value {
    match ev {
        RemoveEvent::Untagged(t) => json!({"Untagged": t}),
        RemoveEvent::Deleted(d) => json!({"Deleted": d.to_string()}),
    }
}

async fn remove(
    State(e): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let force = flag(&q, "force");
    blocking(move || {
        let events = e.rt.remove_image(&name, force)?;
        Ok(Json(Value::Array(
            events.iter().map(remove_event_json).collect(),
        )))
    })
    .await
}

/// Pushes `name` (with `tag`, or every tag of the repository without one — as Docker since
/// API 1.x when no tag is given), streaming progress; each push ends with Docker's digest
/// line and its `aux` object.
async fn push(
    e: AppState,
    name: &str,
    q: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let creds = registry_auth(headers)?;
    let tag = q.get("tag").cloned().filter(|t| !t.is_empty());
    let base = Reference::parse(name)?;
    let name = name.to_string();
    Ok(progress_response(move |p| {
        let mut cfg = berth_registry::RegistryConfig::load()?;
        cfg.credentials = berth_registry::CredentialSource::Given(creds);
        let refs: Vec<Reference> = match (&tag, &base.tag) {
            (Some(t), _) => vec![Reference::parse(&format!("{}:{t}", base.name()))?],
            (None, Some(_)) => vec![base.clone()],
            (None, None) => berth_registry::push::local_tags(&e.store, &base)?,
        };
        if refs.is_empty() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("An image does not exist locally with the tag: {name}"),
            ));
        }
        for r in refs {
            let pushed = berth_registry::push::push(&e.store, &cfg, &r, p)?;
            p.status(&format!(
                "{}: digest: {} size: {}",
                pushed.tag, pushed.digest, pushed.size
            ));
            p.line(json!({
                "progressDetail": {},
                "aux": {"Tag": pushed.tag, "Digest": pushed.digest.to_string(), "Size": pushed.size},
            }));
        }
        Ok(())
    })
    .await)
}
