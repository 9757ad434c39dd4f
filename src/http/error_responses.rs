//! The error answers many routes share, each written once for the spec. A handler's
//! `responses(...)` names the ones it can give beside its own answers: usually
//! [`AuthenticatedErrors`], then [`Forbidden`] where a role may not do it,
//! [`JsonBodyErrors`] where it reads a JSON body, and the 404 of what it looks up (a 404
//! only one route gives stays written at that route). The bodies are all [`ErrorBody`];
//! `crate::error` decides which status a failure gets.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::RefOr;
use utoipa::openapi::response::Response;

use crate::error::ErrorBody;

/// 400: `edge::refuse_unreadable_urls` and `extract` refuse what they cannot read.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "the body is not well-formed JSON, or the URL is not UTF-8 or has a NUL"
)]
pub struct BadRequest(pub ErrorBody);

/// 401: every route behind a token, from `auth`.
#[derive(IntoResponses)]
#[response(status = 401, description = "no valid `Authorization: Bearer` token", headers(("WWW-Authenticate" = String)))]
pub struct Unauthorized(pub ErrorBody);

/// 403: a route a role may not use.
#[derive(IntoResponses)]
#[response(status = 403, description = "the token's role may not do this")]
pub struct Forbidden(pub ErrorBody);

/// 404 of a run: one that does not exist and another project's look the same.
#[derive(IntoResponses)]
#[response(status = 404, description = "no such run, or not one this token may read")]
pub struct RunNotFound(pub ErrorBody);

/// 404 of a project on an admin route.
#[derive(IntoResponses)]
#[response(status = 404, description = "no such project")]
pub struct ProjectNotFound(pub ErrorBody);

/// 404 of a project a reader may read.
#[derive(IntoResponses)]
#[response(status = 404, description = "no such project, or not one this token may read")]
pub struct ProjectNotReadable(pub ErrorBody);

/// 404 of a project a runner may run steps in.
#[derive(IntoResponses)]
#[response(status = 404, description = "no such project, or not one this token may use")]
pub struct ProjectNotUsable(pub ErrorBody);

/// 404 of a secret in key storage.
#[derive(IntoResponses)]
#[response(status = 404, description = "no secret at this path")]
pub struct KeyNotFound(pub ErrorBody);

/// 413: a body over `DefaultBodyLimit` (a route with a limit of its own says so itself).
#[derive(IntoResponses)]
#[response(status = 413, description = "the body is over the size limit")]
pub struct TooLarge(pub ErrorBody);

/// 415: a JSON body sent as something else.
#[derive(IntoResponses)]
#[response(status = 415, description = "the body is not `application/json`")]
pub struct NotJson(pub ErrorBody);

/// 422: a value that reads but is refused, with `field` naming it.
#[derive(IntoResponses)]
#[response(
    status = 422,
    description = "a field or parameter is not acceptable (`field` names it); nothing was changed"
)]
pub struct Unprocessable(pub ErrorBody);

/// 503: the database is away (`ApiError::Unavailable`).
#[derive(IntoResponses)]
#[response(status = 503, description = "the database cannot be reached; try again after `Retry-After` seconds", headers(("Retry-After" = u32, description = "seconds")))]
pub struct Unavailable(pub ErrorBody);

/// What every route behind a token can answer: 400, 401 and 503.
pub struct AuthenticatedErrors;

impl IntoResponses for AuthenticatedErrors {
    fn responses() -> ByStatus {
        all_of([BadRequest::responses, Unauthorized::responses, Unavailable::responses])
    }
}

/// What a route that reads a JSON body can answer besides: 413, 415 and 422.
pub struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> ByStatus {
        all_of([TooLarge::responses, NotJson::responses, Unprocessable::responses])
    }
}

/// Responses by status, as `IntoResponses` answers them.
type ByStatus = BTreeMap<String, RefOr<Response>>;

/// The responses of several sets. They must not share a status: a later one would hide an
/// earlier one.
fn all_of<const N: usize>(sets: [fn() -> ByStatus; N]) -> ByStatus {
    sets.into_iter().flat_map(|responses| responses()).collect()
}
