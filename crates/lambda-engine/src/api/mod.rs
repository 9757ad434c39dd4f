//! The Lambda REST API (2015-03-31 paths) the engine serves, as AWS SDKs call it, and the
//! route of its CloudWatch Logs API (`engine::logs::api`) on the same listener; every
//! operation of both answers only callers that sign with the engine's key (`engine::auth`).

mod aliases;
mod durable;
pub mod error;
mod functions;
mod invoke;
mod tags;
mod versions;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use super::{Engine, auth};
use crate::error::{EngineError, ErrorKind};

/// CreateFunction takes a 50 MB zip, base64-encoded in JSON.
pub const MAX_REQUEST_BYTES: usize = 70 * 1024 * 1024;

pub fn router(engine: Engine) -> axum::Router {
    let functions = "/2015-03-31/functions";
    let lambda = axum::Router::new()
        .route(functions, post(functions::create).get(functions::list))
        .route(&format!("{functions}/"), post(functions::create).get(functions::list))
        .route(
            &format!("{functions}/{{name}}"),
            get(functions::get).delete(functions::delete),
        )
        .route(
            &format!("{functions}/{{name}}/configuration"),
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(
            &format!("{functions}/{{name}}/code"),
            axum::routing::put(functions::update_code),
        )
        .route(
            &format!("{functions}/{{name}}/versions"),
            post(versions::publish).get(versions::list),
        )
        .route(
            &format!("{functions}/{{name}}/aliases"),
            post(aliases::create).get(aliases::list),
        )
        .route(
            &format!("{functions}/{{name}}/aliases/{{alias}}"),
            get(aliases::get).put(aliases::update).delete(aliases::delete),
        )
        .route(&format!("{functions}/{{name}}/invocations"), post(invoke::invoke))
        .route("/2025-12-01/functions/{name}/durable-executions", get(durable::list))
        .route("/2025-12-01/durable-executions/{arn}", get(durable::get))
        .route("/2025-12-01/durable-executions/{arn}/history", get(durable::history))
        .route("/2025-12-01/durable-executions/{arn}/stop", post(durable::stop))
        .route(
            "/2025-12-01/durable-execution-callbacks/{id}/succeed",
            post(durable::callback_success),
        )
        .route(
            "/2025-12-01/durable-execution-callbacks/{id}/fail",
            post(durable::callback_failure),
        )
        .route(
            "/2025-12-01/durable-execution-callbacks/{id}/heartbeat",
            post(durable::callback_heartbeat),
        )
        .route(
            "/2017-03-31/tags/{arn}",
            get(tags::list).post(tags::tag).delete(tags::untag),
        )
        .route_layer(from_fn_with_state(engine.clone(), auth::lambda_callers));
    // The CloudWatch Logs API: JSON 1.1, the operation in `X-Amz-Target`.
    let logs = axum::Router::new()
        .route("/", post(super::logs::api::dispatch))
        .route_layer(from_fn_with_state(engine.clone(), auth::logs_callers));
    // What is no operation of either (the fallback) needs no signature: it names nothing.
    lambda
        .merge(logs)
        .fallback(|| async { EngineError::new(ErrorKind::UnknownOperation, "Unknown operation") })
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(engine)
}

/// A JSON request body, refusing a malformed one with AWS's error instead of axum's.
pub struct AwsJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for AwsJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = EngineError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| EngineError::invalid_content(e.body_text()))?;
        let text: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
        serde_json::from_slice(text)
            .map(AwsJson)
            .map_err(|e| EngineError::invalid_content(format!("Could not parse request body into json: {e}")))
    }
}

/// The `Qualifier` query parameter most operations take.
#[derive(Debug, serde::Deserialize)]
pub struct QualifierQuery {
    #[serde(rename = "Qualifier")]
    pub qualifier: Option<String>,
}
