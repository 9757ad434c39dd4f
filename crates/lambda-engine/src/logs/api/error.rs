//! Errors of the CloudWatch Logs API in the AWS JSON 1.1 shape SDKs parse:
//! `{"__type": "ResourceNotFoundException", "message": ...}`, status 400 for the caller's
//! errors, 500 for the engine's own.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::super::store::LogsFailure;

/// One CloudWatch Logs error.
#[derive(Debug)]
pub struct LogsError {
    pub kind: &'static str,
    pub status: StatusCode,
    pub message: String,
}

impl LogsError {
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self {
            kind: "InvalidParameterException",
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn unknown_operation(target: &str) -> Self {
        Self {
            kind: "UnknownOperationException",
            status: StatusCode::BAD_REQUEST,
            message: format!("Operation {target} is not supported by the embedded engine."),
        }
    }

    /// A request that names no CloudWatch Logs operation: the engine serves no such API.
    pub fn not_served(target: &str) -> Self {
        Self {
            kind: "UnknownOperationException",
            status: StatusCode::NOT_FOUND,
            message: format!("Operation {target} is not served by the embedded engine."),
        }
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self {
            kind: "SerializationException",
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<crate::auth::Refusal> for LogsError {
    fn from(refusal: crate::auth::Refusal) -> Self {
        use crate::auth::Refusal;
        let status = match refusal {
            Refusal::Incomplete(_) => StatusCode::BAD_REQUEST,
            Refusal::MissingToken | Refusal::UnknownKey | Refusal::InvalidSignature(_) => StatusCode::FORBIDDEN,
        };
        Self {
            kind: refusal.aws_type(),
            status,
            message: refusal.message(),
        }
    }
}

impl From<LogsFailure> for LogsError {
    fn from(failure: LogsFailure) -> Self {
        let (kind, status) = match failure {
            LogsFailure::GroupNotFound | LogsFailure::StreamNotFound => {
                ("ResourceNotFoundException", StatusCode::BAD_REQUEST)
            }
            LogsFailure::GroupExists => ("ResourceAlreadyExistsException", StatusCode::BAD_REQUEST),
            LogsFailure::Io(ref e) => {
                tracing::error!(error = %e, "engine log storage failed");
                ("ServiceUnavailableException", StatusCode::INTERNAL_SERVER_ERROR)
            }
        };
        Self {
            kind,
            status,
            message: failure.to_string(),
        }
    }
}

impl IntoResponse for LogsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"__type": self.kind, "message": self.message});
        let mut response = (self.status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
        response
    }
}

/// Result of a CloudWatch Logs operation: its JSON answer.
pub type LogsResult = Result<serde_json::Value, LogsError>;
