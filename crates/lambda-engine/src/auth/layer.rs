//! The middleware in front of the engine's Lambda and CloudWatch Logs operations: a request
//! passes only signed with the engine's key; otherwise it is answered with AWS's 403 in the
//! error shape of its API.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::canonical::payload_hash;
use super::refusal::Refusal;
use super::verify::claimed;
use crate::Engine;
use crate::error::EngineError;
use crate::logs::api::error::LogsError;

/// Bodies larger than this are hashed off the async workers (a 50 MB zip takes a while).
const HASH_INLINE_BYTES: usize = 1024 * 1024;

/// Why a request did not pass.
enum Unsigned {
    Refused(Refusal),
    /// The body is over the largest request the engine takes.
    TooLarge,
}

/// Lambda's REST API: signatures scoped to `lambda`, errors as `X-Amzn-ErrorType`.
pub async fn lambda_callers(State(engine): State<Engine>, request: Request, next: Next) -> Response {
    match signed(&engine, "lambda", request).await {
        Ok(request) => next.run(request).await,
        Err(Unsigned::Refused(refusal)) => EngineError::from(refusal).into_response(),
        Err(Unsigned::TooLarge) => EngineError::too_large(format!(
            "Request must be smaller than {} bytes for this operation",
            crate::api::MAX_REQUEST_BYTES
        ))
        .into_response(),
    }
}

/// CloudWatch Logs' JSON API at `POST /`: signatures scoped to `logs`, errors as `__type`.
/// A request naming no CloudWatch Logs operation passes on, to be answered that the engine
/// serves no such API (a 404 that tells a client probing for IAM or STS there is none).
pub async fn logs_callers(State(engine): State<Engine>, request: Request, next: Next) -> Response {
    let names_logs = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|target| target.starts_with(crate::logs::api::TARGET_PREFIX));
    if !names_logs {
        return next.run(request).await;
    }
    match signed(&engine, "logs", request).await {
        Ok(request) => next.run(request).await,
        Err(Unsigned::Refused(refusal)) => LogsError::from(refusal).into_response(),
        Err(Unsigned::TooLarge) => LogsError::serialization("The request is too large.").into_response(),
    }
}

/// The request again, with its body read, when it is signed with the engine's key for
/// `service`.
async fn signed(engine: &Engine, service: &str, request: Request) -> Result<Request, Unsigned> {
    let key = engine.key();
    let claim = claimed(request.headers(), key, service, chrono::Utc::now()).map_err(Unsigned::Refused)?;
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, crate::api::MAX_REQUEST_BYTES)
        .await
        .map_err(|_| Unsigned::TooLarge)?;
    let hash = if bytes.len() > HASH_INLINE_BYTES {
        let body = bytes.clone();
        tokio::task::spawn_blocking(move || payload_hash(&body))
            .await
            .expect("hashing a body does not panic")
    } else {
        payload_hash(&bytes)
    };
    claim
        .verify(key, &parts.method, &parts.uri, &parts.headers, &hash)
        .map_err(Unsigned::Refused)?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
