//! Errors as the Engine API sends them: a status code chosen by the error's kind and a body
//! `{"message": "…"}` (none for 304, as Docker).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_error_kind::HasKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_modified() -> ApiError {
        ApiError::new(StatusCode::NOT_MODIFIED, "")
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl<E: HasKind + std::fmt::Display> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        let status = StatusCode::from_u16(e.kind().http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::NOT_MODIFIED {
            return self.status.into_response();
        }
        if self.status.is_server_error() {
            // The server's own failures go to its log too, as dockerd's do.
            eprintln!("berth serve: {} {}", self.status.as_u16(), self.message);
        }
        let body = serde_json::json!({ "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_get_dockers_status_codes() {
        let e: ApiError = berth_runtime::Error::NoSuchContainer("web".into()).into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.message, "No such container: web");
        let e: ApiError = berth_runtime::Error::Invalid("bad".into()).into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e: ApiError = berth_image::Error::NoSuchImage("nope:latest".into()).into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.message, "No such image: nope:latest");
    }
}
