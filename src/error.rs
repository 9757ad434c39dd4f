//! The REST API's one error type: one status mapping, one body shape
//! (`{"error": {"code", "message", "field"?}}`), and 5xx bodies that say nothing inside.
//!
//! # Error policy
//!
//! - **Each layer has its own errors**, small `thiserror` enums beside the code that fails
//!   (`store`: `sqlx::Error`; `queue::batch::RunWriteError`; `lambda::create::CreateError`,
//!   `lambda::full_log::FullLogError`, `lambda::directory::DirectoryError`...; the engine's
//!   `StartError`, `CodeError`, `RuntimeUnavailable`; the engine's API its `LambdaError`).
//!   No function returns `Result<_, String>`; a variant carries the values, its `#[error]`
//!   the words.
//! - **What reaches API callers** is only [`ApiError`]: handlers convert lower errors into
//!   it with `?` (`From` impls below) or by choosing a variant. 4xx messages say what to
//!   fix; `Internal` is opaque (`internal error; the service log has the details`), its
//!   cause logged here; a database that is away is `Unavailable` (503 + `Retry-After`).
//!   The embedded engine answers in AWS's error shapes instead (`engine::api::error`).
//! - **What reaches a run** is a [`crate::domain::run::RunError`]: a
//!   [`crate::domain::run::RunErrorCode`] (the closed list the spec shows) and a message
//!   for people, made from the layer's error `Display`; the run's log says the same.
//! - **Boot and the command line** use `anyhow`: the process prints the chain and exits.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::step::InvalidField;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidField { field: String, message: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid `Authorization: Bearer <token>` header is required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A webhook's signature is missing, stale or wrong: says which, without asking for a token.
    #[error("{0}")]
    BadSignature(String),
    /// The router adds the `Allow` header, listing the methods the path takes.
    #[error("{0} is not allowed on this path; the Allow header lists the methods it takes")]
    MethodNotAllowed(String),
    #[error("service unavailable: its database does not answer; try again after Retry-After seconds")]
    Unavailable,
    /// Lambda could not be reached, or answered with a server error: nothing was done, and
    /// the message says what to try again.
    #[error("{0}")]
    BadGateway(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Seconds a client is asked to wait after a 503.
const RETRY_AFTER_SECONDS: &str = "2";

impl From<sqlx::Error> for ApiError {
    /// A database fault that passes (the database restarting, no connection free within
    /// `--db-acquire-timeout-ms`) is a 503 the client can retry; anything else is a bug.
    fn from(e: sqlx::Error) -> Self {
        if crate::store::fault::is_transient(&e) {
            tracing::warn!(error = %e, "the database is unavailable; answering 503");
            Self::Unavailable
        } else {
            Self::Internal(e.into())
        }
    }
}

impl From<InvalidField> for ApiError {
    fn from(e: InvalidField) -> Self {
        Self::InvalidField {
            field: e.field,
            message: e.message,
        }
    }
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetails,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetails {
    /// snake_case: `invalid_field`, `bad_request`, `unauthorized`, `bad_signature`,
    /// `forbidden`, `not_found`, `method_not_allowed`, `conflict`, `too_large`,
    /// `unsupported_media_type`, `unavailable`, `bad_gateway`, `internal`.
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, for `invalid_field`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = match &self {
            Self::InvalidField { field, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", Some(field.clone()))
            }
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", None),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", None),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
            Self::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None),
            Self::BadSignature(_) => (StatusCode::UNAUTHORIZED, "bad_signature", None),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            Self::BadGateway(_) => (StatusCode::BAD_GATEWAY, "bad_gateway", None),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        };
        let message = match &self {
            Self::InvalidField { field, message } => format!("{field} {message}"),
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error; the service log has the details".into()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetails { code, message, field },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(self, Self::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
