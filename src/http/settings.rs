//! Project settings (admin only): `project.aws.*`, shown with the level each value came
//! from. A secret key is set as a key storage path, never as a value.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};

use super::error_responses::{AuthenticatedErrors, Forbidden, JsonBodyErrors, ProjectNotFound};
use crate::app::AppState;
use crate::aws_settings::{Resolved, resolve, validate};
use crate::domain::access::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::store::{projects, settings};

/// A project's settings, resolved: project over framework over default.
#[utoipa::path(get, path = "/v1/projects/{project}/settings", tag = "settings", operation_id = "get_settings", params(("project" = String, Path, description = "The project's name")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "every setting, with where its value came from", body = BTreeMap<String, Resolved>),
        AuthenticatedErrors,
        Forbidden,
        ProjectNotFound
    ))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<BTreeMap<String, Resolved>>> {
    super::auth::require_admin(&caller)?;
    if !projects::exists(&app.db, &project).await? {
        return Err(ApiError::NotFound(format!("project {project}")));
    }
    let stored = settings::of_project(&app.db, &project).await?;
    Ok(Json(resolve(app.lambdas.framework(), &stored)))
}

/// Replaces a project's settings with the flat object given (`null` or absent: not set).
#[utoipa::path(put, path = "/v1/projects/{project}/settings", tag = "settings", operation_id = "put_settings", params(("project" = String, Path, description = "The project's name")),
    request_body = super::spec::ProjectSettings, security(("bearer" = [])),
    responses(
        (status = 200, description = "the settings now in force", body = BTreeMap<String, Resolved>),
        AuthenticatedErrors,
        Forbidden,
        ProjectNotFound,
        JsonBodyErrors
    ))]
pub async fn put(
    State(app): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<BTreeMap<String, Option<String>>>,
) -> ApiResult<Json<BTreeMap<String, Resolved>>> {
    super::auth::require_admin(&caller)?;
    if !projects::exists(&app.db, &project).await? {
        return Err(ApiError::NotFound(format!("project {project}")));
    }
    let mut values = BTreeMap::new();
    for (key, value) in body {
        let refused = |refused: crate::aws_settings::SettingRefused| ApiError::InvalidField {
            field: key.clone(),
            message: refused.to_string(),
        };
        // A null unsets a setting, but only one that exists.
        let Some(value) = value else {
            crate::aws_settings::setting_name(&key).map_err(refused)?;
            continue;
        };
        validate(&key, &value).map_err(refused)?;
        values.insert(key, value);
    }
    let mut tx = app.db.begin().await?;
    settings::replace(&mut tx, &project, &values).await?;
    tx.commit().await?;
    app.lambdas.forget();
    tracing::info!(project = %project, keys = ?values.keys().collect::<Vec<_>>(), "project settings replaced");
    Ok(Json(resolve(app.lambdas.framework(), &values)))
}
