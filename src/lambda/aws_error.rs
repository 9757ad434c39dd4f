//! An AWS call's failure as one line for a run's log: the service's error code and message
//! (`ResourceConflictException: Function already exist: ...`), or the SDK's description
//! when no service answered. Every client's `SdkError` is the same smithy type.

use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

pub fn one_line<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => match (service.code(), service.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            // A modelled error built without metadata still names itself.
            _ => service.to_string(),
        },
        None => DisplayErrorContext(error).to_string(),
    }
}
