//! ListTags, TagResource and UntagResource on functions, addressed by ARN.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AwsJson;
use crate::Engine;
use crate::error::EngineResult;
use lambda_rules::FunctionRef;

pub async fn list(State(engine): State<Engine>, Path(arn): Path<String>) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&arn)?;
    let record = engine.functions.get(&reference.name)?;
    Ok(Json(serde_json::json!({"Tags": record.tags})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResource {
    tags: BTreeMap<String, String>,
}

pub async fn tag(
    State(engine): State<Engine>,
    Path(arn): Path<String>,
    AwsJson(body): AwsJson<TagResource>,
) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&arn)?;
    engine.functions.update(&reference.name, None, |record| {
        record.tags.extend(body.tags);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `tagKeys` repeats in the query string, so it is read from the raw pairs.
pub async fn untag(
    State(engine): State<Engine>,
    Path(arn): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&arn)?;
    let keys: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    engine.functions.update(&reference.name, None, |record| {
        record.tags.retain(|k, _| !keys.contains(k));
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
