//! `/compose/projects…` (berth's own: Docker's API knows nothing of Compose, whose projects
//! live in the client): the projects that have containers here, from their Compose labels,
//! and up / down / start / stop / restart of one, loaded again from the files its
//! containers name, by the same `berth_compose` operations `berth compose` runs. For the
//! dashboard's Compose view.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_compose::compose_down::DownOptions;
use berth_compose::compose_lifecycle::Verb;
use berth_compose::compose_ls::{list_projects, load_project_of};
use berth_compose::model::Build;
use berth_compose::{Engine, Progress, UpOptions};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::query::{flag, Params};
use crate::server::{blocking, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/compose/projects", get(list))
        .route("/compose/projects/{name}/{verb}", post(act))
}

async fn list(State(e): State<AppState>, Query(q): Query<Params>) -> Result<Json<Value>, ApiError> {
    let all = !q.contains_key("all") || flag(&q, "all");
    blocking(move || {
        let rows = list_projects(&e.rt, all)?;
        serde_json::to_value(rows)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// Images for `up`: those in the store, else built from the service's `build:` (recorded in
/// the build history, where the Builds view shows it) or pulled with the server's registry
/// configuration, as `docker compose up` makes them.
struct ServerImages<'a>(&'a crate::server::Engine);

impl berth_compose::ImageSource for ServerImages<'_> {
    fn ensure_image(
        &self,
        service: &str,
        image: &str,
        build: Option<&Build>,
        force_build: bool,
    ) -> berth_compose::Result<()> {
        if !force_build && self.0.store.lookup(image).is_ok() {
            return Ok(());
        }
        if let Some(b) = build {
            let r = b.request();
            let fail = |e: String| {
                berth_compose::Error::Dependency(format!(
                    "service {service:?}: failed to build {image}: {e}"
                ))
            };
            let context = std::path::PathBuf::from(&r.context);
            let (dockerfile, dockerfile_name) = match &r.dockerfile {
                Some(f) => (std::path::PathBuf::from(f), f.clone()),
                None => (context.join("Dockerfile"), "Dockerfile".to_string()),
            };
            let tag = berth_image::Reference::parse(image).map_err(|e| fail(e.to_string()))?;
            let opts = berth_build::BuildOptions {
                context,
                dockerfile,
                dockerfile_name,
                tags: vec![tag],
                build_args: r.args,
                target: r.target,
                labels: r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                cache_from: r.cache_from,
                quiet: true,
                ..berth_build::BuildOptions::default()
            };
            return crate::build::build_unstreamed(self.0, &opts, &r.context)
                .map(drop)
                .map_err(fail);
        }
        // The pull's progress is not shown: the page follows the engine's events.
        crate::build::pull_named(
            &self.0.store,
            image,
            &Default::default(),
            None,
            &berth_registry::Quiet,
        )
        .map(drop)
        .map_err(|e| {
            berth_compose::Error::Dependency(format!("service {service:?}: pull {image}: {e}"))
        })
    }
}

async fn act(
    State(e): State<AppState>,
    Path((name, verb)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let verb_of = |v: &str| -> Result<Option<Verb>, ApiError> {
        Ok(Some(match v {
            "up" | "down" => return Ok(None),
            "start" => Verb::Start,
            "stop" => Verb::Stop { timeout: None },
            "restart" => Verb::Restart { timeout: None },
            other => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!(
                    "unknown project action {other:?}: expected up, down, start, stop or restart"
                ),
                ))
            }
        }))
    };
    let lifecycle = verb_of(&verb)?;
    blocking(move || {
        let environment: berth_compose::interpolation::Variables = std::env::vars().collect();
        let p = load_project_of(&e.rt, &name, environment)?;
        let engine = Engine {
            rt: &e.rt,
            exe: &e.exe,
        };
        let mut lines = Vec::new();
        let mut report = |p: Progress| lines.push(format!("{} {}  {}", p.kind, p.name, p.status));
        match (verb.as_str(), lifecycle) {
            ("up", _) => {
                engine.up(&p, &UpOptions::default(), &ServerImages(&e), &mut report)?;
            }
            ("down", _) => engine.down(&p, &DownOptions::default(), &mut report)?,
            (_, Some(v)) => engine.apply(&p, &[], &v, &mut report)?,
            _ => {}
        }
        Ok(Json(json!({ "Progress": lines })))
    })
    .await
}
