//! How requests are read: JSON bodies and query strings, with every rejection in the API's
//! one error shape and in a user's words. axum's own extractors answer plain text and name
//! Rust types ("expected struct RunSavedStep"); these answer 400, 413, 415 or a 422 that
//! names the field, and refuse any value that could not be stored and read back.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::domain::json::{check_storable, deserialize_at, humane};
use crate::error::ApiError;

/// A JSON request body, checked for what can be stored and deserialized into `T`.
pub struct JsonBody<T>(pub T);

/// An optional JSON request body: absent (no bytes) is `None`.
pub struct OptionalJsonBody<T>(pub Option<T>);

/// Query parameters deserialized into `T`; a bad one is a 422 naming it.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match read_json(req, state).await? {
            Some(value) => Ok(Self(value)),
            None => Err(ApiError::BadRequest("the request needs a JSON body".into())),
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Ok(Self(read_json(req, state).await?))
    }
}

async fn read_json<T: DeserializeOwned, S: Send + Sync>(req: Request, state: &S) -> Result<Option<T>, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .map(|mime| mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")));
    let body = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge("the request body is over the service's limit".into())
        } else {
            ApiError::BadRequest(format!("the request body could not be read: {}", rejection.body_text()))
        }
    })?;
    if body.is_empty() && is_json != Some(true) {
        return Ok(None);
    }
    if is_json != Some(true) {
        return Err(ApiError::UnsupportedMediaType(
            "send the body as JSON, with `Content-Type: application/json`".into(),
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    // Every JSON body of this API is an object; serde would also read a struct from an
    // array of its fields in order, which no client means.
    if !value.is_object() {
        return Err(ApiError::InvalidField {
            field: "body".into(),
            message: "must be a JSON object".into(),
        });
    }
    check_storable(&value, "")?;
    Ok(Some(deserialize_at(value, "")?))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if value.contains('\0') || name.contains('\0') {
                return Err(ApiError::InvalidField {
                    field: name.replace('\0', "\u{FFFD}"),
                    message: "contains a NUL character".into(),
                });
            }
        }
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Self)
            .map_err(|e| ApiError::InvalidField {
                field: e.path().to_string(),
                message: humane(&e.into_inner().to_string()),
            })
    }
}
