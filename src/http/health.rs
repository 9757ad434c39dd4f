//! Liveness, readiness (the database answers) and the spec.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::error_responses::{Forbidden, Unauthorized, Unavailable};
use crate::app::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "healthz", security(()),
    responses((status = 200, description = "alive: `{\"status\": \"ok\"}`", body = Object)))]
pub async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// How long readiness waits for the database: an orchestrator's probe (often with a
/// one-second timeout of its own) gets an answer, not a hang, while the database is away.
const READY_WITHIN: Duration = Duration::from_millis(900);

/// The database answers: this replica can take work. Answers within a second, 503 with
/// a reason when the database does not.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "readyz", security(()),
    responses((status = 200, description = "ready: `{\"status\": \"ready\"}`", body = Object),
        (status = 503, description = "not ready: `{\"status\": \"unavailable\", \"reason\": ...}` when the database does not answer within a second", body = Object)))]
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let checked = tokio::time::timeout(READY_WITHIN, crate::store::ping(&app.db)).await;
    let reason = match checked {
        Ok(Ok(_)) => return (StatusCode::OK, axum::Json(serde_json::json!({"status": "ready"}))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the database refused the readiness check");
            "the database does not answer (see the service log)"
        }
        Err(_) => "no answer from the database within a second (it is away, or every connection is busy)",
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({"status": "unavailable", "reason": reason})),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health", operation_id = "openapi", security(()),
    responses((status = 200, description = "the OpenAPI document of this API", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        super::openapi_json(),
    )
}

/// Prometheus metrics of this replica, and the queue's depth (admin token).
#[utoipa::path(get, path = "/metrics", tag = "health", operation_id = "metrics", security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        Unauthorized,
        Forbidden,
        Unavailable
    ))]
pub async fn metrics(
    State(app): State<AppState>,
    caller: crate::domain::access::Caller,
) -> crate::error::ApiResult<impl IntoResponse> {
    super::auth::require_admin(&caller)?;
    let depth = crate::store::runs::queued_count(&app.db).await?;
    crate::metrics::queue_depth(depth);
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    ))
}
