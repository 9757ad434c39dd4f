//! Key storage over the API (admin only): PUT stores a secret's raw bytes, encrypted at
//! rest; GET, list and DELETE deal in metadata. No route ever returns a secret's value.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error_responses::{AuthenticatedErrors, Forbidden, KeyNotFound, TooLarge, Unprocessable};
use crate::app::AppState;
use crate::domain::access::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::QueryParams;
use crate::http::paging::{Listed, Page};
use crate::store::keys::{self, KeyMetadata};

pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// The secrets under a prefix, on one page.
pub type KeyPage = Page<KeyMetadata>;

impl Listed for KeyMetadata {
    const PAGE: &'static str = "KeyPage";
}

fn valid_path(path: &str) -> ApiResult<()> {
    let ok = !path.is_empty()
        && path.len() <= 512
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidField {
            field: "path".into(),
            message: "must be segments of A-Z, a-z, 0-9, '.', '_' and '-' joined by '/', at most 512 characters".into(),
        })
    }
}

/// Stores a secret (its raw bytes as the body); answers its metadata only.
#[utoipa::path(put, path = "/v1/keys/{*path}", tag = "keys", operation_id = "put_key", params(("path" = String, Path, min_length = 1, max_length = 512, pattern = "^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.\\.[A-Za-z0-9._-]+)(?:/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.\\.[A-Za-z0-9._-]+))*$", description = "Segments of A-Z, a-z, 0-9, `.`, `_` and `-` (not `.` or `..`) joined by `/`, e.g. aws/prod/secret_key")),
    request_body(description = "The secret's raw bytes: 1 to 65536 of them", content(
        (Vec<u8> = "application/octet-stream"), (String = "text/plain"))),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "stored", body = KeyMetadata, links(
            ("GetKey" = (operation_id = "get_key", parameters(("path" = "$response.body#/path")))),
            ("DeleteKey" = (operation_id = "delete_key", parameters(("path" = "$response.body#/path")))))),
        (status = 200, description = "replaced", body = KeyMetadata),
        AuthenticatedErrors,
        Forbidden,
        TooLarge,
        Unprocessable
    ))]
pub async fn put(
    State(app): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<KeyMetadata>)> {
    super::auth::require_admin(&caller)?;
    valid_path(&path)?;
    if body.is_empty() || body.len() > MAX_SECRET_BYTES {
        return Err(ApiError::InvalidField {
            field: "body".into(),
            message: format!("a secret is 1 to {MAX_SECRET_BYTES} bytes"),
        });
    }
    let sealed = app.master_key.seal(&body);
    let (metadata, created) = keys::put(&app.db, &path, &sealed, body.len()).await?;
    app.lambdas.forget();
    tracing::info!(path = %path, size = body.len(), "secret stored");
    Ok((
        if created { StatusCode::CREATED } else { StatusCode::OK },
        Json(metadata),
    ))
}

/// A secret's metadata (never its value).
#[utoipa::path(get, path = "/v1/keys/{*path}", tag = "keys", operation_id = "get_key", params(("path" = String, Path, min_length = 1, max_length = 512, pattern = "^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.\\.[A-Za-z0-9._-]+)(?:/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.\\.[A-Za-z0-9._-]+))*$", description = "Segments of A-Z, a-z, 0-9, `.`, `_` and `-` (not `.` or `..`) joined by `/`, e.g. aws/prod/secret_key")), security(("bearer" = [])),
    responses(
        (status = 200, description = "the secret's metadata", body = KeyMetadata),
        AuthenticatedErrors,
        Forbidden,
        KeyNotFound
    ))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
) -> ApiResult<Json<KeyMetadata>> {
    super::auth::require_admin(&caller)?;
    keys::metadata(&app.db, &path)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("key {path}")))
}

/// Deletes a secret.
#[utoipa::path(delete, path = "/v1/keys/{*path}", tag = "keys", operation_id = "delete_key", params(("path" = String, Path, min_length = 1, max_length = 512, pattern = "^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.\\.[A-Za-z0-9._-]+)(?:/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\\.\\.[A-Za-z0-9._-]+))*$", description = "Segments of A-Z, a-z, 0-9, `.`, `_` and `-` (not `.` or `..`) joined by `/`, e.g. aws/prod/secret_key")), security(("bearer" = [])),
    responses(
        (status = 204, description = "deleted"),
        AuthenticatedErrors,
        Forbidden,
        KeyNotFound
    ))]
pub async fn delete(State(app): State<AppState>, caller: Caller, Path(path): Path<String>) -> ApiResult<StatusCode> {
    super::auth::require_admin(&caller)?;
    if keys::delete(&app.db, &path).await? {
        app.lambdas.forget();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("key {path}")))
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only paths starting with this.
    #[param(pattern = "^[^\\u0000]*$")]
    prefix: Option<String>,
}

/// Metadata of the secrets under a prefix.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", operation_id = "list_keys", params(ListQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "metadata of the secrets under the prefix, by path", body = KeyPage),
        AuthenticatedErrors,
        Forbidden,
        Unprocessable
    ))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<KeyPage>> {
    super::auth::require_admin(&caller)?;
    let items = keys::list(&app.db, query.prefix.as_deref().unwrap_or("")).await?;
    Ok(Json(Page::whole(items)))
}
