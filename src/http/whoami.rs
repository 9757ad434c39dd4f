//! Who the caller's token belongs to: what the web console asks to offer only what the
//! token may do.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::access::{Caller, Role};

/// A token's role, and the one project it belongs to (none for the admin token).
#[derive(Serialize, ToSchema)]
pub struct Whoami {
    pub role: Role,
    /// The project a runner or reader token is for; null for the admin token.
    pub project: Option<String>,
}

/// The caller's role and project.
#[utoipa::path(get, path = "/v1/whoami", tag = "tokens", operation_id = "whoami", security(("bearer" = [])),
    responses((status = 200, description = "the token's role and project", body = Whoami), (status = 400, description = "the body is not well-formed JSON, or the URL is not UTF-8 or has a NUL", body = crate::error::ErrorBody), (status = 401, description = "no valid `Authorization: Bearer` token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String))), (status = 503, description = "the database cannot be reached; try again after `Retry-After` seconds", body = crate::error::ErrorBody, headers(("Retry-After" = u32, description = "seconds")))))]
pub async fn whoami(caller: Caller) -> Json<Whoami> {
    Json(match caller {
        Caller::Admin => Whoami {
            role: Role::Admin,
            project: None,
        },
        Caller::Project { project, role } => Whoami {
            role,
            project: Some(project),
        },
    })
}
