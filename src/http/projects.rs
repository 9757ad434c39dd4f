//! Projects: `PUT /v1/projects/{project}` creates one, `GET /v1/projects` lists them,
//! `DELETE /v1/projects/{project}` deletes one with its history.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::error_responses::{
    AuthenticatedErrors, Forbidden, ProjectNotFound, Unauthorized, Unavailable, Unprocessable,
};
use crate::app::AppState;
use crate::domain::access::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::paging::{Listed, Page};
use crate::store::projects;

#[derive(Serialize, ToSchema)]
pub struct Project {
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The projects, on one page.
pub type ProjectPage = Page<Project>;

impl Listed for Project {
    const PAGE: &'static str = "ProjectPage";
}

/// Creates a project (201), or finds it there already (200).
#[utoipa::path(put, path = "/v1/projects/{project}", tag = "projects", operation_id = "put_project",
    params(("project" = String, Path, pattern = "^[a-z0-9][a-z0-9_-]{0,62}$",
        description = "1 to 63 of a-z, 0-9, - and _, starting with a letter or digit")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "created", body = Project, links(
            ("ListRuns" = (operation_id = "list_runs", parameters(("project" = "$response.body#/name")))),
            ("SubmitRun" = (operation_id = "submit_run", parameters(("project" = "$response.body#/name")))))),
        (status = 200, description = "it was there already", body = Project),
        AuthenticatedErrors,
        Forbidden,
        Unprocessable
    ))]
pub async fn put(
    State(app): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    super::auth::require_admin(&caller)?;
    let valid = !project.is_empty()
        && project.len() <= 63
        && project.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && project
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(ApiError::InvalidField {
            field: "project".into(),
            message: "must be 1 to 63 of a-z, 0-9, - and _, starting with a letter or digit".into(),
        });
    }
    let (created_at, created) = projects::create(&app.db, &project).await?;
    let name = project;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Project { name, created_at })))
}

/// The projects the caller may read (all of them for an admin), by name.
#[utoipa::path(get, path = "/v1/projects", tag = "projects", operation_id = "list_projects", security(("bearer" = [])),
    responses(
        (status = 200, description = "the projects", body = ProjectPage),
        Unauthorized,
        Unavailable
    ))]
pub async fn list(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<ProjectPage>> {
    let items = projects::list(&app.db)
        .await?
        .into_iter()
        .filter(|(name, _)| caller.may_read(name))
        .map(|(name, created_at)| Project { name, created_at })
        .collect();
    Ok(Json(Page::whole(items)))
}

/// Deletes a project with its finished runs and their logs, its tokens, settings, saved
/// steps and webhooks (204). Refused (409) while runs of it are queued or running: cancel
/// them or let them finish first. Key storage is shared by path and is left as it is.
#[utoipa::path(delete, path = "/v1/projects/{project}", tag = "projects", operation_id = "delete_project",
    params(("project" = String, Path, description = "The project's name")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "deleted, with everything that belonged to it"),
        AuthenticatedErrors,
        Forbidden,
        ProjectNotFound,
        (status = 409, description = "runs of the project are queued or running", body = crate::error::ErrorBody)
    ))]
pub async fn delete(State(app): State<AppState>, caller: Caller, Path(project): Path<String>) -> ApiResult<StatusCode> {
    super::auth::require_admin(&caller)?;
    match projects::delete(&app.db, &project).await? {
        projects::Deleted::Yes { runs } => {
            tracing::info!(project = %project, runs, "project deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        projects::Deleted::NoSuchProject => Err(ApiError::NotFound(format!("project {project}"))),
        projects::Deleted::RunsInFlight(count) => Err(ApiError::Conflict(format!(
            "project {project} has {count} run(s) queued or running; cancel them or wait for them to finish, then delete it"
        ))),
    }
}
