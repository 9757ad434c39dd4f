//! What every request passes on its way in and out: a URL that cannot name anything (not
//! UTF-8 once decoded, or holding a NUL) is refused before any handler or query sees it,
//! and every error answer leaves in the API's one JSON shape, including the router's own
//! 404 and 405 and any rejection a framework extractor answers in plain text.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Refuses a URL whose path or query does not decode to text a name could hold.
pub async fn refuse_unreadable_urls(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8();
    let refused = match path {
        Err(_) => Some("the URL's path is not UTF-8 once percent-decoded"),
        Ok(path) if path.contains('\0') => {
            Some("the URL's path holds a NUL character (%00), which no name here may hold")
        }
        Ok(_) => None,
    };
    match refused {
        Some(why) => ApiError::BadRequest(why.into()).into_response(),
        None => next.run(request).await,
    }
}

/// Puts error answers that are not yet JSON (the router's 404 and 405, a framework
/// rejection) into the API's error shape, keeping their status and headers.
pub async fn errors_as_json(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound(format!("{method} {path}: no such route")),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(method),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge("the request body is over the service's limit".into()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
        status if status.is_server_error() => ApiError::Internal(anyhow::anyhow!("{status}: {text}")),
        _ => ApiError::BadRequest(if text.is_empty() { status.to_string() } else { text }),
    };
    let mut answer = error.into_response();
    *answer.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// The answer for a path no route matches.
pub async fn no_route(request: Request) -> ApiError {
    ApiError::NotFound(format!("{} {}: no such route", request.method(), request.uri().path()))
}
