//! Saved steps, listed by name and run by name (optionally with another payload), and the webhooks bound to
//! them: `POST /v1/hooks/{id}` runs the step with the request body as its event, without a
//! token; a hook with a secret needs `X-Lambda-Steps-Timestamp` (unix seconds, within 5
//! minutes) and `X-Lambda-Steps-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error_responses::{
    AuthenticatedErrors, BadRequest, Forbidden, JsonBodyErrors, ProjectNotReadable, ProjectNotUsable, Unavailable,
    Unprocessable,
};
use super::queued::Queued;
use crate::app::AppState;
use crate::domain::access::Caller;
use crate::domain::step::Step;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, OptionalJsonBody};
use crate::http::paging::{Cursor, Listed, Page, PageRequest};
use crate::store::{projects, steps};

const REPLAY_WINDOW_SECONDS: i64 = 300;

/// A saved step's name, as the `saved_steps` CHECK constraint has it.
fn is_step_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveStep {
    #[schema(value_type = Step)]
    pub step: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SavedStep {
    pub project: String,
    pub name: String,
    #[schema(value_type = Step)]
    pub step: serde_json::Value,
}

/// Saves (or replaces) a step definition under a name.
#[utoipa::path(put, path = "/v1/projects/{project}/steps/{name}", tag = "steps", operation_id = "save_step", params(("project" = String, Path, description = "The project's name"), ("name" = String, Path, pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", description = "The saved step's name: 1 to 128 of A-Z, a-z, 0-9, `.`, `_` and `-`, starting with a letter or digit")),
    request_body = SaveStep, security(("bearer" = [])),
    responses(
        (status = 201, description = "saved", body = SavedStep, links(
            ("RunSavedStep" = (operation_id = "run_saved_step", parameters(("project" = "$response.body#/project"), ("name" = "$response.body#/name")))),
            ("CreateWebhook" = (operation_id = "create_webhook", parameters(("project" = "$response.body#/project")),
                request_body = json!({"step": "$response.body#/name"}))))),
        (status = 200, description = "replaced", body = SavedStep),
        AuthenticatedErrors,
        Forbidden,
        ProjectNotUsable,
        JsonBodyErrors
    ))]
pub async fn put(
    State(app): State<AppState>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<SaveStep>,
) -> ApiResult<(StatusCode, Json<SavedStep>)> {
    super::auth::require_run(&caller, &project)?;
    if !is_step_name(&name) {
        return Err(ApiError::InvalidField {
            field: "name".into(),
            message: "must be 1 to 128 of A-Z, a-z, 0-9, '.', '_' and '-'".into(),
        });
    }
    let step = Step::parse(&body.step, app.payload_limits())?;
    let stored = serde_json::to_value(&step).map_err(|e| ApiError::Internal(e.into()))?;
    let created = steps::put(&app.db, &project, &name, &stored)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                ApiError::NotFound(format!("project {project}"))
            }
            other => other.into(),
        })?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(SavedStep {
            project,
            name,
            step: stored,
        }),
    ))
}

/// A page of saved steps.
pub type SavedStepPage = Page<SavedStep>;

impl Listed for SavedStep {
    const PAGE: &'static str = "SavedStepPage";
}

/// Where a page of saved steps, by name, starts: after the step of this name.
pub struct StepCursor(String);

impl Cursor for StepCursor {
    const PATTERN: &'static str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

    fn read(text: &str) -> Option<Self> {
        is_step_name(text).then(|| Self(text.to_string()))
    }

    fn write(&self) -> String {
        self.0.clone()
    }
}

/// A project's saved steps, by name.
#[utoipa::path(get, path = "/v1/projects/{project}/steps", tag = "steps", operation_id = "list_saved_steps",
    params(("project" = String, Path, description = "The project's name"), PageRequest<StepCursor>),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "a page of saved steps, by name", body = SavedStepPage),
        AuthenticatedErrors,
        ProjectNotReadable,
        Unprocessable
    ))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    page: PageRequest<StepCursor>,
) -> ApiResult<Json<SavedStepPage>> {
    super::auth::require_read(&caller, &project)?;
    if !projects::exists(&app.db, &project).await? {
        return Err(ApiError::NotFound(format!("project {project}")));
    }
    let after = page.cursor().map(|c| c.0.as_str());
    let rows = steps::list(&app.db, &project, after, page.rows()).await?;
    let rows = rows
        .into_iter()
        .map(|(name, step)| SavedStep {
            project: project.clone(),
            name,
            step,
        })
        .collect();
    Ok(Json(page.page(rows, |saved| StepCursor(saved.name.clone()))))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RunSavedStep {
    /// Another event for this run, any JSON (absent or `null`: the saved step's own); the
    /// same refusals as a step's payload.
    #[schema(value_type = Value, required = false)]
    pub payload: Option<serde_json::Value>,
}

/// Runs a saved step, optionally with another payload.
#[utoipa::path(post, path = "/v1/projects/{project}/steps/{name}/runs", tag = "steps", operation_id = "run_saved_step", params(("project" = String, Path, description = "The project's name"), ("name" = String, Path, pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", description = "The saved step's name: 1 to 128 of A-Z, a-z, 0-9, `.`, `_` and `-`, starting with a letter or digit")),
    request_body(content = RunSavedStep, description = "Optional: without a body, the step runs with its own payload"),
    security(("bearer" = [])),
    responses(
        Queued,
        AuthenticatedErrors,
        Forbidden,
        (status = 404, description = "no such project or saved step, or not one this token may use", body = crate::error::ErrorBody),
        JsonBodyErrors
    ))]
pub async fn run(
    State(app): State<AppState>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
    OptionalJsonBody(body): OptionalJsonBody<RunSavedStep>,
) -> ApiResult<Queued> {
    super::auth::require_run(&caller, &project)?;
    let saved = steps::get(&app.db, &project, &name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("step {name}")))?;
    let payload = body.and_then(|b| b.payload);
    submit(&app, &project, saved, payload).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// The name of the saved step the hook runs.
    #[schema(pattern = "^[^\\u0000]*$")]
    pub step: String,
    /// When set, callers must sign their requests with it: at least 16 characters.
    #[schema(min_length = 16, pattern = "^[^\\u0000]*$")]
    pub secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub id: uuid::Uuid,
    /// Path to POST to (relative to the service's address).
    pub url: String,
}

/// Binds a webhook to a saved step (admin only).
#[utoipa::path(post, path = "/v1/projects/{project}/webhooks", tag = "steps", operation_id = "create_webhook", params(("project" = String, Path, description = "The project's name")),
    request_body = NewWebhook, security(("bearer" = [])),
    responses(
        (status = 201, description = "created", body = CreatedWebhook, links(
            ("CallWebhook" = (operation_id = "call_webhook", parameters(("id" = "$response.body#/id")))))),
        AuthenticatedErrors,
        Forbidden,
        (status = 404, description = "no such project or saved step", body = crate::error::ErrorBody),
        JsonBodyErrors
    ))]
pub async fn create_hook(
    State(app): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<NewWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    super::auth::require_admin(&caller)?;
    if steps::get(&app.db, &project, &body.step).await?.is_none() {
        return Err(ApiError::NotFound(format!("step {}", body.step)));
    }
    if body.secret.as_ref().is_some_and(|s| s.chars().count() < 16) {
        return Err(ApiError::InvalidField {
            field: "secret".into(),
            message: "must be at least 16 characters".into(),
        });
    }
    let sealed = body.secret.as_ref().map(|s| app.master_key.seal(s.as_bytes()));
    let id = steps::create_hook(&app.db, &project, &body.step, sealed.as_ref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            id,
            url: format!("/v1/hooks/{id}"),
        }),
    ))
}

/// Runs the hook's step with the request body as its event (no token; a signature when the hook has a secret).
#[utoipa::path(post, path = "/v1/hooks/{id}", tag = "steps", operation_id = "call_webhook", params(("id" = uuid::Uuid, Path, description = "The webhook's id"),
        ("X-Lambda-Steps-Timestamp" = Option<String>, Header, description = "Unix seconds, within 5 minutes of now (hooks with a secret)"),
        ("X-Lambda-Steps-Signature" = Option<String>, Header, description = "`sha256=` and the hex HMAC-SHA256 of `{timestamp}.{body}` under the hook's secret (hooks with a secret)")),
    request_body(description = "The event: a JSON body (any JSON value) is the payload as it is; any other body becomes a string payload. Refused (422) as in a step's payload: NUL characters, numbers too large to store and read back exactly, nesting deeper than 64, a payload over the step's size limit",
        content((serde_json::Value = "application/json"), (String = "text/plain"))),
    security(()),
    responses(
        Queued,
        BadRequest,
        (status = 401, description = "the hook has a secret and the signature or timestamp is missing, malformed, stale or wrong", body = crate::error::ErrorBody),
        (status = 404, description = "no such webhook", body = crate::error::ErrorBody),
        (status = 413, description = "the body is over the webhook size limit", body = crate::error::ErrorBody),
        Unprocessable,
        Unavailable
    ))]
pub async fn hook(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Queued> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("hook {id}")))?;
    if body.len() > app.settings.max_webhook_bytes {
        return Err(ApiError::TooLarge(format!(
            "the body is over {} bytes",
            app.settings.max_webhook_bytes
        )));
    }
    let hook = steps::hook(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("hook {id}")))?;
    if let Some(sealed) = &hook.secret {
        let secret = app.master_key.open(sealed).map_err(ApiError::Internal)?;
        verify_signature(&secret, &headers, &body)?;
    }
    let payload = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into()));
    crate::domain::json::check_storable(&payload, "body")?;
    submit(&app, &hook.project, hook.step, Some(payload)).await
}

/// Checks the hook's signature; a failure says what was wrong with it (and asks for no
/// token: a hook is signed, not authorised by a bearer token).
fn verify_signature(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> ApiResult<()> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let refused = |why: &str| ApiError::BadSignature(format!("{why}; this hook needs requests signed with its secret"));
    let timestamp: i64 = match header("x-lambda-steps-timestamp") {
        None => return Err(refused("the X-Lambda-Steps-Timestamp header is missing")),
        Some(t) => t
            .trim()
            .parse()
            .map_err(|_| refused("X-Lambda-Steps-Timestamp is not a unix time in seconds"))?,
    };
    if (chrono::Utc::now().timestamp() - timestamp).abs() > REPLAY_WINDOW_SECONDS {
        return Err(refused(&format!(
            "X-Lambda-Steps-Timestamp is more than {REPLAY_WINDOW_SECONDS} seconds away from the service's clock"
        )));
    }
    let signature = match header("x-lambda-steps-signature") {
        None => return Err(refused("the X-Lambda-Steps-Signature header is missing")),
        Some(s) => s
            .trim()
            .strip_prefix("sha256=")
            .and_then(decode_hex)
            .ok_or_else(|| refused("X-Lambda-Steps-Signature is not sha256=<hex>"))?,
    };
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&signature)
        .map_err(|_| refused("the signature does not match the body and timestamp"))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// Queues a saved step, with its payload replaced when one is given.
async fn submit(
    app: &AppState,
    project: &str,
    saved: serde_json::Value,
    payload: Option<serde_json::Value>,
) -> ApiResult<Queued> {
    let mut step = Step::parse(&saved, app.payload_limits())?;
    if let Some(payload) = payload {
        step = step.with_payload(payload);
        // The payload limits apply to the payload actually sent.
        let sent = serde_json::to_value(&step).map_err(|e| ApiError::Internal(e.into()))?;
        step = Step::parse(&sent, app.payload_limits())?;
    }
    super::queued::queue(app, project, &step).await
}
