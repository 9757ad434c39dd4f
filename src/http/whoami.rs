//! Who the caller's token belongs to: what the web console asks to offer only what the
//! token may do.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::error_responses::AuthenticatedErrors;
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
    responses(
        (status = 200, description = "the token's role and project", body = Whoami),
        AuthenticatedErrors
    ))]
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
