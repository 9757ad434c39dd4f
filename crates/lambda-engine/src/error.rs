//! The engine's errors, by AWS's error types and knowing nothing of HTTP: the model, the
//! function store and Invoke answer them; only the API layer (`api/error.rs`) turns them
//! into AWS error bodies with their status codes.

use lambda_rules::InvalidParameter;

/// AWS's Lambda error types the engine answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    ResourceNotFound,
    ResourceConflict,
    InvalidParameterValue,
    InvalidRequestContent,
    RequestTooLarge,
    /// A CreateFunction or UpdateFunctionCode request over Lambda's limit.
    RequestEntityTooLarge,
    PreconditionFailed,
    TooManyRequests,
    UnknownOperation,
    MissingAuthenticationToken,
    UnrecognizedClient,
    InvalidSignature,
    IncompleteSignature,
    /// Lambda's 502 for a runtime it cannot run: the engine's answer where it cannot
    /// contain user code (the function never starts, so callers do not retry).
    InvalidRuntime,
    /// Invoke with a durable execution name already used with another payload.
    DurableExecutionAlreadyStarted,
    /// A callback answered after it timed out.
    CallbackTimeout,
    /// A durable function's environment acting on an execution it does not run.
    AccessDenied,
    Service,
}

impl ErrorKind {
    /// The type's AWS name, as in `X-Amzn-ErrorType`.
    pub fn aws_type(self) -> &'static str {
        match self {
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::ResourceConflict => "ResourceConflictException",
            Self::InvalidParameterValue => "InvalidParameterValueException",
            Self::InvalidRequestContent => "InvalidRequestContentException",
            Self::RequestTooLarge => "RequestTooLargeException",
            Self::RequestEntityTooLarge => "RequestEntityTooLargeException",
            Self::PreconditionFailed => "PreconditionFailedException",
            Self::TooManyRequests => "TooManyRequestsException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::InvalidRuntime => "InvalidRuntimeException",
            Self::DurableExecutionAlreadyStarted => "DurableExecutionAlreadyStartedException",
            Self::CallbackTimeout => "CallbackTimeoutException",
            Self::AccessDenied => "AccessDeniedException",
            Self::Service => "ServiceException",
        }
    }
}

/// One engine error: its AWS type and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", kind.aws_type())]
pub struct EngineError {
    pub kind: ErrorKind,
    pub message: String,
    /// Seconds the caller should wait before trying again (throttling only).
    pub retry_after: Option<u64>,
}

impl EngineError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceConflict, message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameterValue, message)
    }

    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequestContent, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::RequestTooLarge, message)
    }

    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PreconditionFailed, message)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorKind::TooManyRequests, message)
        }
    }

    pub fn service(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Service, message)
    }
}

impl From<InvalidParameter> for EngineError {
    fn from(invalid: InvalidParameter) -> Self {
        Self::invalid_parameter(invalid.message)
    }
}

/// Result of an engine operation.
pub type EngineResult<T> = Result<T, EngineError>;

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_rules::FunctionRef;

    #[test]
    fn rejects_names_lambda_rejects() {
        for bad in ["", "has space", "a/b", &"x".repeat(65), "fn:bad qualifier"] {
            let err = EngineError::from(FunctionRef::parse(bad).unwrap_err());
            assert_eq!(err.kind.aws_type(), "InvalidParameterValueException", "{bad}");
        }
    }
}
