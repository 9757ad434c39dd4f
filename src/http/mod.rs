//! The REST API v1: one file per resource; the OpenAPI document comes from these handlers.

pub mod auth;
pub mod callbacks;
pub mod console;
pub mod edge;
pub mod error_responses;
pub mod extract;
pub mod health;
pub mod keys;
pub mod logs;
pub mod paging;
pub mod projects;
pub mod queued;
pub mod replay;
pub mod runs;
pub mod settings;
pub mod spec;
pub mod steps;
pub mod tokens;
pub mod whoami;

use std::sync::LazyLock;

use axum::Router;
use axum::routing::get;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::app::AppState;
use replay::OptionalReplayBody;
use spec::{RequestBodies, StepUnion};

/// What the spec says beside its operations: its title, the schemas it names, its tags and
/// the token every operation needs unless it says otherwise. The operations come from
/// [`api`], the one route list.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "lambda-steps",
        description = "Runs AWS Lambda workflow steps: invoke a function, or create one from code, run it and clean it up; every log line kept, polled or streamed over SSE."
    ),
    components(schemas(
        crate::domain::run::Run, crate::domain::run::RunStatus, crate::domain::run::RunPhase, crate::domain::run::RunResult,
        crate::domain::run::RunError, crate::domain::run::FunctionErrorDetails,
        crate::domain::step::Step, crate::domain::step::InvokeStep, crate::domain::step::CustomCodeStep,
        crate::domain::durable::DurableConfig,
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
        callbacks::CompleteCallback, callbacks::Approval, callbacks::Rejection, callbacks::CallbackError, callbacks::CompletedCallback,
        callbacks::RunCallbacks, crate::domain::callback::RunCallback, crate::domain::callback::CallbackState,
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
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// The API's route list. A route joins it only through `routes!`, which serves each
/// handler at the path and method its `#[utoipa::path]` documents: no route is served
/// without being in the spec, and none is in the spec without being served. The handlers
/// of one `routes!` share one path.
struct Api(OpenApiRouter<AppState>);

impl Api {
    fn serve(self, routes: UtoipaMethodRouter<AppState>) -> Self {
        Self(self.0.routes(routes))
    }
}

fn api() -> Api {
    Api(OpenApiRouter::with_openapi(ApiDoc::openapi()))
        .serve(routes!(runs::submit, runs::list))
        .serve(routes!(runs::get))
        .serve(routes!(runs::cancel))
        .serve(routes!(replay::replay))
        .serve(routes!(replay::diff))
        .serve(routes!(callbacks::list))
        .serve(routes!(callbacks::complete))
        .serve(routes!(logs::poll))
        .serve(routes!(logs::events))
        .serve(routes!(projects::put, projects::delete))
        .serve(routes!(projects::list))
        .serve(routes!(keys::list))
        .serve(routes!(keys::put, keys::get, keys::delete))
        .serve(routes!(settings::get, settings::put))
        .serve(routes!(steps::list))
        .serve(routes!(steps::put))
        .serve(routes!(steps::run))
        .serve(routes!(steps::create_hook))
        .serve(routes!(steps::hook))
        .serve(routes!(tokens::create))
        .serve(routes!(tokens::revoke))
        .serve(routes!(whoami::whoami))
        .serve(routes!(health::healthz))
        .serve(routes!(health::readyz))
        .serve(routes!(health::metrics))
        .serve(routes!(health::openapi))
}

/// The API's routes, and the spec of exactly those.
fn api_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = api().0.split_for_parts();
    // axum spells a parameter that takes the rest of the path `{*path}`; OpenAPI `{path}`.
    doc.paths.paths = std::mem::take(&mut doc.paths.paths)
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    let modifiers: [&dyn Modify; 4] = [&BearerAuth, &StepUnion, &RequestBodies, &OptionalReplayBody];
    for modifier in modifiers {
        modifier.modify(&mut doc);
    }
    (routes, doc)
}

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
    static SPEC: LazyLock<String> = LazyLock::new(|| spec::to_json(&api_parts().1));
    SPEC.clone()
}

pub fn router(state: AppState) -> Router {
    let (api, _) = api_parts();
    api.merge(console())
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

/// The web console: a page and its assets for browsers, beside the API and outside its spec.
fn console() -> Router<AppState> {
    Router::new()
        .route("/", get(console::page))
        .route("/assets/{version}/{*name}", get(console::asset))
}

/// Parses a run id from the path, as a 404 rather than axum's 400 when it is not one.
pub fn run_id(raw: &str) -> crate::error::ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|_| crate::error::ApiError::NotFound(format!("run {raw}")))
}
