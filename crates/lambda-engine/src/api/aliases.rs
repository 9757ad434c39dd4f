//! CreateAlias, GetAlias, UpdateAlias, DeleteAlias and ListAliases.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AwsJson;
use crate::Engine;
use crate::error::{EngineError, EngineResult};
use crate::model::{self, Alias};
use lambda_rules::FunctionRef;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAlias {
    name: Option<String>,
    function_version: Option<String>,
    description: Option<String>,
}

pub async fn create(
    State(engine): State<Engine>,
    Path(raw): Path<String>,
    AwsJson(body): AwsJson<CreateAlias>,
) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&raw)?;
    let name = body
        .name
        .ok_or_else(|| EngineError::invalid_parameter("Name is required"))?;
    validate_alias_name(&name)?;
    let target = body
        .function_version
        .ok_or_else(|| EngineError::invalid_parameter("FunctionVersion is required"))?;
    let alias = engine.functions.update(&reference.name, None, |record| {
        record.resolve_version(&target)?;
        if record.aliases.contains_key(&name) {
            return Err(EngineError::conflict(format!(
                "Alias already exists: {}",
                engine.location.qualified_arn(&record.name, &name)
            )));
        }
        let alias = Alias {
            name: name.clone(),
            function_version: target.clone(),
            description: body.description.clone().unwrap_or_default(),
            revision_id: model::new_revision_id(),
        };
        record.aliases.insert(name.clone(), alias.clone());
        Ok(alias)
    })?;
    Ok((
        StatusCode::CREATED,
        Json(engine.location.alias(&reference.name, &alias)),
    )
        .into_response())
}

pub async fn get(State(engine): State<Engine>, Path((raw, alias)): Path<(String, String)>) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&raw)?;
    let record = engine.functions.get(&reference.name)?;
    let found = record
        .aliases
        .get(&alias)
        .ok_or_else(|| not_found(&engine, &record.name, &alias))?;
    Ok(Json(engine.location.alias(&record.name, found)).into_response())
}

pub async fn list(State(engine): State<Engine>, Path(raw): Path<String>) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&raw)?;
    let record = engine.functions.get(&reference.name)?;
    let aliases: Vec<_> = record
        .aliases
        .values()
        .map(|a| engine.location.alias(&record.name, a))
        .collect();
    Ok(Json(serde_json::json!({"Aliases": aliases})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAlias {
    function_version: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

pub async fn update(
    State(engine): State<Engine>,
    Path((raw, name)): Path<(String, String)>,
    AwsJson(body): AwsJson<UpdateAlias>,
) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&raw)?;
    let alias = engine.functions.update(&reference.name, None, |record| {
        if let Some(target) = &body.function_version {
            record.resolve_version(target)?;
        }
        let function = record.name.clone();
        let alias = record
            .aliases
            .get_mut(&name)
            .ok_or_else(|| not_found(&engine, &function, &name))?;
        if body.revision_id.as_deref().is_some_and(|r| r != alias.revision_id) {
            return Err(EngineError::precondition_failed(
                "The Revision Id provided does not match the latest Revision Id.",
            ));
        }
        if let Some(target) = body.function_version.clone() {
            alias.function_version = target;
        }
        if let Some(description) = body.description.clone() {
            alias.description = description;
        }
        alias.revision_id = model::new_revision_id();
        Ok(alias.clone())
    })?;
    Ok(Json(engine.location.alias(&reference.name, &alias)).into_response())
}

pub async fn delete(State(engine): State<Engine>, Path((raw, name)): Path<(String, String)>) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&raw)?;
    engine.functions.update(&reference.name, None, |record| {
        record.aliases.remove(&name);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn not_found(engine: &Engine, function: &str, alias: &str) -> EngineError {
    EngineError::not_found(format!(
        "Cannot find alias arn: {}",
        engine.location.qualified_arn(function, alias)
    ))
}

/// Alias names: 1 to 128 of letters, digits, `-` and `_`, not only digits.
fn validate_alias_name(name: &str) -> EngineResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(EngineError::invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        )))
    }
}
