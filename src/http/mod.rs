//! The REST API v1: one file per resource; the OpenAPI document comes from these handlers.

pub mod auth;
pub mod console;
pub mod edge;
pub mod error_responses;
pub mod extract;
pub mod health;
pub mod keys;
pub mod logs;
pub mod paging;
pub mod projects;
pub mod replay;
pub mod runs;
pub mod settings;
pub mod spec;
pub mod steps;
pub mod tokens;
pub mod whoami;

use axum::Router;
use axum::routing::{get, post, put};
use utoipa::OpenApi;

use crate::app::AppState;
use replay::OptionalReplayBody;
use spec::{RequestBodies, StepUnion};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lambda-steps",
        description = "Runs AWS Lambda workflow steps: invoke a function, or create one from code, run it and clean it up; every log line kept, polled or streamed over SSE."
    ),
    paths(
        runs::submit, runs::list, runs::get, runs::cancel, replay::replay, replay::diff,
        logs::poll, logs::events,
        projects::put, projects::list, projects::delete,
        keys::put, keys::get, keys::delete, keys::list,
        tokens::create, tokens::revoke, whoami::whoami,
        settings::get, settings::put,
        steps::put, steps::list, steps::run, steps::create_hook, steps::hook,
        health::healthz, health::readyz, health::metrics, health::openapi,
    ),
    components(schemas(
        crate::domain::run::Run, crate::domain::run::RunStatus, crate::domain::run::RunPhase, crate::domain::run::RunResult,
        crate::domain::run::RunError, crate::domain::run::FunctionErrorDetails,
        crate::domain::step::Step, crate::domain::step::InvokeStep, crate::domain::step::CustomCodeStep,
        crate::domain::step::InvocationType,
        crate::domain::replay::RecordedFunction, crate::domain::replay::ReplayRequest,
        crate::domain::replay::ReplayCredentials, crate::domain::replay::ReplayDiff,
        crate::domain::replay::ErrorSummary, crate::domain::replay::JsonChange, crate::domain::replay::PayloadDiff,
        crate::domain::replay::Figures, crate::domain::replay::PrintedPair,
        crate::domain::replay::ComparedStatus, crate::domain::replay::ComparedError,
        crate::store::logs::LogEntry, logs::LogPage, runs::SubmitRun, runs::RunPage,
        projects::Project, projects::ProjectPage,
        crate::store::keys::KeyMetadata, keys::KeyPage,
        tokens::NewToken, tokens::CreatedToken, whoami::Whoami, crate::domain::access::Role,
        crate::aws_settings::Resolved, crate::aws_settings::Source, spec::ProjectSettings, spec::RunEvent,
        steps::SaveStep, steps::SavedStep, steps::SavedStepPage, steps::RunSavedStep, steps::NewWebhook, steps::CreatedWebhook,
        crate::error::ErrorBody, crate::error::ErrorDetails,
    )),
    tags(
        (name = "runs", description = "Submit, read, list and cancel step runs"),
        (name = "logs", description = "A run's log, polled or streamed"),
        (name = "projects", description = "Projects runs belong to"),
        (name = "keys", description = "Key storage: secrets in, metadata out (admin)"),
        (name = "tokens", description = "API tokens (admin)"),
        (name = "settings", description = "Project AWS settings (admin)"),
        (name = "steps", description = "Saved steps and webhooks"),
        (name = "health", description = "Liveness, readiness, metrics and this spec"),
    ),
    modifiers(&BearerAuth, &StepUnion, &RequestBodies, &OptionalReplayBody),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// Declares the `Authorization: Bearer <token>` scheme every protected route uses.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The spec as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    spec::to_json(&ApiDoc::openapi())
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/projects/{project}/runs", post(runs::submit).get(runs::list))
        .route("/v1/runs/{id}", get(runs::get))
        .route("/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/v1/runs/{id}/replay", post(replay::replay))
        .route("/v1/runs/{id}/replay-diff", get(replay::diff))
        .route("/v1/runs/{id}/logs", get(logs::poll))
        .route("/v1/runs/{id}/events", get(logs::events))
        .route("/v1/projects/{project}", put(projects::put).delete(projects::delete))
        .route("/v1/projects", get(projects::list))
        .route("/v1/keys", get(keys::list))
        .route("/v1/keys/{*path}", put(keys::put).get(keys::get).delete(keys::delete))
        .route("/v1/projects/{project}/settings", get(settings::get).put(settings::put))
        .route("/v1/projects/{project}/steps", get(steps::list))
        .route("/v1/projects/{project}/steps/{name}", put(steps::put))
        .route("/v1/projects/{project}/steps/{name}/runs", post(steps::run))
        .route("/v1/projects/{project}/webhooks", post(steps::create_hook))
        .route("/v1/hooks/{id}", post(steps::hook))
        .route("/v1/tokens", post(tokens::create))
        .route("/v1/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi))
        .route("/v1/whoami", get(whoami::whoami))
        .route("/", get(console::page))
        .route("/assets/{version}/{*name}", get(console::asset))
        .fallback(console::fallback)
        .layer(axum::middleware::from_fn(edge::errors_as_json))
        .layer(axum::middleware::from_fn(edge::refuse_unreadable_urls))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(crate::telemetry::spans::http_request::<axum::body::Body>)
                .on_response(crate::telemetry::spans::http_response::<axum::body::Body>),
        )
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(state)
}

/// Parses a run id from the path, as a 404 rather than axum's 400 when it is not one.
pub fn run_id(raw: &str) -> crate::error::ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|_| crate::error::ApiError::NotFound(format!("run {raw}")))
}
