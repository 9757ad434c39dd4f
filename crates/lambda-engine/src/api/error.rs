//! Engine errors as AWS sends them, so every SDK raises its typed exception: the
//! `X-Amzn-ErrorType` header names the type, the status is AWS's for that type, and the
//! body carries `{"Type": "User", "Message": ...}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{EngineError, ErrorKind};

/// The HTTP status AWS answers an error type with.
fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::ResourceNotFound | ErrorKind::UnknownOperation => StatusCode::NOT_FOUND,
        ErrorKind::ResourceConflict | ErrorKind::DurableExecutionAlreadyStarted => StatusCode::CONFLICT,
        ErrorKind::CallbackTimeout => StatusCode::BAD_REQUEST,
        ErrorKind::AccessDenied => StatusCode::FORBIDDEN,
        ErrorKind::InvalidParameterValue | ErrorKind::InvalidRequestContent | ErrorKind::IncompleteSignature => {
            StatusCode::BAD_REQUEST
        }
        ErrorKind::MissingAuthenticationToken | ErrorKind::UnrecognizedClient | ErrorKind::InvalidSignature => {
            StatusCode::FORBIDDEN
        }
        ErrorKind::RequestTooLarge | ErrorKind::RequestEntityTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::InvalidRuntime => StatusCode::BAD_GATEWAY,
        ErrorKind::Service => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for EngineError {
    fn into_response(self) -> Response {
        let status = status(self.kind);
        let mut body = serde_json::json!({"Type": "User", "Message": self.message});
        if self.kind == ErrorKind::TooManyRequests {
            body["Reason"] = "ReservedFunctionConcurrentInvocationLimitExceeded".into();
        }
        if status.is_server_error() {
            body["Type"] = "Service".into();
            tracing::error!(error = %self.message, "engine error");
        }
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.kind.aws_type()));
        if let Some(seconds) = self.retry_after {
            headers.insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}
