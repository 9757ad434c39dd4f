//! Liveness, readiness (the database answers) and the spec.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::app::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "healthz", security(()),
    responses((status = 200, description = "alive: `{\"status\": \"ok\"}`", body = Object)))]
pub async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// The database answers: this replica can take work.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "readyz", security(()),
    responses((status = 200, description = "ready: `{\"status\": \"ready\"}`", body = Object),
        (status = 503, description = "the database does not answer", body = Object)))]
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    match sqlx::query("SELECT 1").execute(&app.db).await {
        Ok(_) => (StatusCode::OK, axum::Json(serde_json::json!({"status": "ready"}))),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "database unreachable"})),
        ),
    }
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
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = 401, description = "no valid `Authorization: Bearer` token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String))), (status = 403, description = "the token's role may not do this", body = crate::error::ErrorBody), (status = 503, description = "the database cannot be reached; try again after `Retry-After` seconds", body = crate::error::ErrorBody, headers(("Retry-After" = u32, description = "seconds")))))]
pub async fn metrics(
    State(app): State<AppState>,
    caller: crate::domain::access::Caller,
) -> crate::error::ApiResult<impl IntoResponse> {
    super::auth::require_admin(&caller)?;
    let depth: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = 'queued'")
        .fetch_one(&app.db)
        .await?;
    crate::metrics::queue_depth(depth);
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    ))
}
