//! PublishVersion and ListVersionsByFunction: numbered, immutable snapshots of `$LATEST`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AwsJson;
use crate::Engine;
use crate::error::{EngineError, EngineResult};
use crate::model::{self, FunctionRecord, FunctionVersion};
use lambda_rules::FunctionRef;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishVersion {
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

pub async fn publish(
    State(engine): State<Engine>,
    Path(raw): Path<String>,
    AwsJson(body): AwsJson<PublishVersion>,
) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&raw)?;
    let published = engine.functions.update(&reference.name, None, |record| {
        if let Some(sha) = &body.code_sha256
            && sha != &record.latest.code_sha256
        {
            return Err(EngineError::invalid_parameter(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                record.latest.code_sha256
            )));
        }
        if let Some(revision) = &body.revision_id
            && revision != &record.latest.revision_id
        {
            return Err(EngineError::precondition_failed(
                "The Revision Id provided does not match the latest Revision Id.",
            ));
        }
        Ok(publish_next(record, body.description.as_deref().unwrap_or("")))
    })?;
    Ok((
        StatusCode::CREATED,
        Json(engine.location.configuration(&reference.name, &published)),
    )
        .into_response())
}

pub async fn list(State(engine): State<Engine>, Path(raw): Path<String>) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&raw)?;
    let record = engine.functions.get(&reference.name)?;
    let versions: Vec<_> = std::iter::once(&record.latest)
        .chain(record.versions.values())
        .map(|v| engine.location.configuration(&record.name, v))
        .collect();
    Ok(Json(serde_json::json!({"Versions": versions})).into_response())
}

/// Publishes `$LATEST` as the next version, unless the newest version already has the
/// same code and configuration (then AWS returns that one).
pub fn publish_next(record: &mut FunctionRecord, description: &str) -> FunctionVersion {
    if let Some(newest) = record.versions.values().next_back()
        && same_function(newest, &record.latest)
    {
        return newest.clone();
    }
    let published = publish_latest(record, description);
    let number = record.last_published + 1;
    record.versions.insert(number, published.clone());
    record.last_published = number;
    published
}

/// A snapshot of `$LATEST` numbered after the last published version.
fn publish_latest(record: &FunctionRecord, description: &str) -> FunctionVersion {
    FunctionVersion {
        version: (record.last_published + 1).to_string(),
        description: if description.is_empty() {
            record.latest.description.clone()
        } else {
            description.to_string()
        },
        last_modified: model::now_timestamp(),
        revision_id: model::new_revision_id(),
        ..record.latest.clone()
    }
}

fn same_function(a: &FunctionVersion, b: &FunctionVersion) -> bool {
    a.code_sha256 == b.code_sha256
        && a.runtime == b.runtime
        && a.handler == b.handler
        && a.timeout_seconds == b.timeout_seconds
        && a.memory_mb == b.memory_mb
        && a.environment == b.environment
        && a.role == b.role
        && a.durable_config == b.durable_config
}
