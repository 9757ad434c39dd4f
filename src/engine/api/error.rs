//! Errors of the Lambda REST API, shaped as AWS sends them so every SDK raises its typed
//! exception: the `X-Amzn-ErrorType` header names the type and the body carries
//! `{"Type": "User", "Message": ...}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One Lambda API error: its AWS type name, HTTP status and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct LambdaError {
    pub kind: &'static str,
    pub status: StatusCode,
    pub message: String,
    /// Seconds for a `Retry-After` header (throttling only).
    pub retry_after: Option<u64>,
}

impl LambdaError {
    fn new(kind: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            kind,
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new("ResourceConflictException", StatusCode::CONFLICT, message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValueException", StatusCode::BAD_REQUEST, message)
    }

    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::new("InvalidRequestContentException", StatusCode::BAD_REQUEST, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new("RequestTooLargeException", StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::new("PreconditionFailedException", StatusCode::PRECONDITION_FAILED, message)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new("TooManyRequestsException", StatusCode::TOO_MANY_REQUESTS, message)
        }
    }

    pub fn service(message: impl Into<String>) -> Self {
        Self::new("ServiceException", StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"Type": "User", "Message": self.message});
        if self.kind == "TooManyRequestsException" {
            body["Reason"] = "ReservedFunctionConcurrentInvocationLimitExceeded".into();
        }
        if self.status.is_server_error() {
            body["Type"] = "Service".into();
            tracing::error!(error = %self.message, "engine error");
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        if let Some(seconds) = self.retry_after {
            headers.insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}

/// Result of an engine API operation.
pub type ApiResult<T> = Result<T, LambdaError>;
