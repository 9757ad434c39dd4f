//! `Authorization: Bearer <token>` on every route but health, webhooks and the spec: the
//! bootstrap admin token (compared in constant time) or a stored token (looked up by hash).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::domain::access::{Caller, token_hash};
use crate::error::ApiError;
use crate::store::tokens;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        if bool::from(token_hash(token).ct_eq(&app.admin_token_hash)) {
            return Ok(Caller::Admin);
        }
        tokens::caller(&app.db, token).await?.ok_or(ApiError::Unauthorized)
    }
}

/// 404 for a project the caller may not even read (no leak of what exists), 403 for one
/// it may read but not run.
pub fn require_run(caller: &Caller, project: &str) -> Result<(), ApiError> {
    if caller.may_run(project) {
        Ok(())
    } else if caller.may_read(project) {
        Err(ApiError::Forbidden(
            "this token may only read this project's runs".into(),
        ))
    } else {
        Err(ApiError::NotFound(format!("project {project}")))
    }
}

pub fn require_read(caller: &Caller, project: &str) -> Result<(), ApiError> {
    if caller.may_read(project) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("project {project}")))
    }
}

pub fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only an admin token may do this".into()))
    }
}
