//! API tokens (admin only): `admin`, or `runner` / `reader` for one project. A new token is
//! shown once, in the answer that creates it; only its hash is kept.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error_responses::{AuthenticatedErrors, Forbidden, JsonBodyErrors, ProjectNotFound};
use crate::app::AppState;
use crate::domain::access::{Caller, Role, new_token};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::store::{projects, tokens};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// 1 to 200 characters once trimmed of white space.
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000]*[^\\u0000\\t\\n\\u000b\\u000c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub name: String,
    pub role: Role,
    /// Required for `runner` and `reader`; absent for `admin`.
    pub project: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: uuid::Uuid,
    /// The token itself: shown this once.
    pub token: String,
    pub name: String,
    pub role: Role,
    pub project: Option<String>,
}

/// Creates a token; the answer is the only place the token itself is ever shown.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", operation_id = "create_token", request_body = NewToken, security(("bearer" = [])),
    responses(
        (status = 201, description = "created", body = CreatedToken, links(
            ("RevokeToken" = (operation_id = "revoke_token", parameters(("id" = "$response.body#/id")))))),
        AuthenticatedErrors,
        Forbidden,
        ProjectNotFound,
        JsonBodyErrors
    ))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    super::auth::require_admin(&caller)?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::InvalidField {
            field: "name".into(),
            message: "must be 1 to 200 characters".into(),
        });
    }
    match (body.role, &body.project) {
        (Role::Admin, Some(_)) => {
            return Err(ApiError::InvalidField {
                field: "project".into(),
                message: "an admin token is not bound to a project".into(),
            });
        }
        (Role::Runner | Role::Reader, None) => {
            return Err(ApiError::InvalidField {
                field: "project".into(),
                message: "a runner or reader token needs its project".into(),
            });
        }
        (_, Some(project)) if !projects::exists(&app.db, project).await? => {
            return Err(ApiError::NotFound(format!("project {project}")));
        }
        _ => {}
    }
    let token = new_token();
    let id = tokens::create(&app.db, &name, body.role, body.project.as_deref(), &token).await?;
    tracing::info!(token.id = %id, role = body.role.as_str(), project = ?body.project, "token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id,
            token,
            name,
            role: body.role,
            project: body.project,
        }),
    ))
}

/// Revokes a token at once.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", operation_id = "revoke_token", params(("id" = uuid::Uuid, Path, description = "The token's id")), security(("bearer" = [])),
    responses(
        (status = 204, description = "revoked"),
        AuthenticatedErrors,
        Forbidden,
        (status = 404, description = "no such token", body = crate::error::ErrorBody)
    ))]
pub async fn revoke(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    super::auth::require_admin(&caller)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("token {id}")))?;
    if tokens::revoke(&app.db, id).await? {
        tracing::info!(token.id = %id, "token revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("token {id}")))
    }
}
