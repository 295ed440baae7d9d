//! Swarm mode's endpoints (`/swarm`, `/services`, `/nodes`, `/tasks`, `/secrets`,
//! `/configs`): berth is a single engine that is never part of a swarm, so each answers as
//! dockerd does on a node outside one: 503 with dockerd's message. Clients rely on that
//! (docker-py's `leave_swarm(force=True)` treats the 503 as "nothing to leave"), where a
//! 404 would look like a broken server. `swarm init` and `join` say why they cannot work.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::routing::any;
use axum::Router;

use crate::error::ApiError;
use crate::server::AppState;

const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

pub(crate) fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for base in [
        "/swarm",
        "/services",
        "/nodes",
        "/tasks",
        "/secrets",
        "/configs",
    ] {
        r = r
            .route(base, any(not_in_a_swarm))
            .route(&format!("{base}/{{*rest}}"), any(not_in_a_swarm));
    }
    r
}

async fn not_in_a_swarm(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        answer(req.method(), req.uri().path()),
    )
}

fn answer(method: &Method, path: &str) -> &'static str {
    // The path may carry a version prefix; the server strips it before routing, but a
    // suffix match is enough either way.
    if *method == Method::POST && path.ends_with("/swarm/leave") {
        "This node is not part of a swarm"
    } else if *method == Method::POST
        && (path.ends_with("/swarm/init") || path.ends_with("/swarm/join"))
    {
        "berth does not run swarm mode: it is a single engine (use compose for multi-container apps)"
    } else {
        NOT_A_MANAGER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_swarm_request_gets_dockerds_answer_for_a_node_outside_a_swarm() {
        assert_eq!(
            answer(&Method::POST, "/swarm/leave"),
            "This node is not part of a swarm"
        );
        assert!(answer(&Method::POST, "/swarm/init").contains("does not run swarm mode"));
        assert_eq!(answer(&Method::GET, "/services"), NOT_A_MANAGER);
        assert_eq!(answer(&Method::GET, "/swarm"), NOT_A_MANAGER);
    }
}
