//! CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions, DeleteFunction,
//! UpdateFunctionCode and UpdateFunctionConfiguration.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;

use super::{AwsJson, QualifierQuery};
use crate::Engine;
use crate::archive;
use crate::durable::model::DurableConfig;
use crate::error::{EngineError, EngineResult, ErrorKind};
use crate::function_files::CodeZip;
use crate::model::{self, FunctionRecord, FunctionVersion};
use lambda_rules::{self, FunctionRef, KNOWN_RUNTIMES, LATEST, Language, RESERVED_ENVIRONMENT_KEYS};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunction {
    function_name: Option<String>,
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    code: Option<Code>,
    description: Option<String>,
    timeout: Option<u32>,
    memory_size: Option<u32>,
    publish: Option<bool>,
    environment: Option<Environment>,
    tags: Option<BTreeMap<String, String>>,
    architectures: Option<Vec<String>>,
    package_type: Option<String>,
    ephemeral_storage: Option<EphemeralStorage>,
    durable_config: Option<DurableConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Code {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    image_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Environment {
    variables: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EphemeralStorage {
    size: u32,
}

pub async fn create(State(engine): State<Engine>, AwsJson(body): AwsJson<CreateFunction>) -> EngineResult<Response> {
    let name = body.function_name.ok_or_else(|| missing("FunctionName"))?;
    lambda_rules::validate_name(&name)?;
    if body.package_type.as_deref().is_some_and(|p| p != "Zip") {
        return Err(EngineError::invalid_parameter(
            "The embedded Lambda engine runs Zip packages only; container images need AWS.",
        ));
    }
    let runtime = body.runtime.ok_or_else(|| missing("Runtime"))?;
    let durable_config = durable_config(body.durable_config)?;
    durable_runtime(&runtime, durable_config.as_ref())?;
    let language = validate_runtime(&engine, &runtime)?;
    let handler = match (body.handler, language) {
        (Some(handler), _) => handler,
        (None, Language::Provided) => "bootstrap".into(),
        (None, _) => return Err(missing("Handler")),
    };
    let code = code_zip(body.code, "CreateFunction").await?;
    let environment = environment(body.environment)?;
    let now = model::now_timestamp();
    let latest = FunctionVersion {
        version: LATEST.into(),
        runtime,
        handler,
        role: body
            .role
            .unwrap_or_else(|| format!("arn:aws:iam::{}:role/lambda-steps-embedded", engine.location.account_id)),
        description: body.description.unwrap_or_default(),
        timeout_seconds: timeout(body.timeout)?,
        memory_mb: memory(body.memory_size)?,
        environment,
        code_sha256: code.sha256_base64.clone(),
        code_size: code.bytes.len() as u64,
        last_modified: now,
        revision_id: model::new_revision_id(),
        architectures: body.architectures.unwrap_or_else(|| vec!["x86_64".into()]),
        ephemeral_storage_mb: ephemeral_storage(body.ephemeral_storage)?,
        durable_config,
    };
    let mut record = FunctionRecord {
        name: name.clone(),
        latest,
        versions: BTreeMap::new(),
        aliases: BTreeMap::new(),
        tags: body.tags.unwrap_or_default(),
        last_published: 0,
    };
    let shown = if body.publish.unwrap_or(false) {
        super::versions::publish_next(&mut record, "")
    } else {
        record.latest.clone()
    };
    engine.functions.create(record, &code)?;
    tracing::info!(function = %name, "function created");
    Ok((StatusCode::CREATED, Json(engine.location.configuration(&name, &shown))).into_response())
}

pub async fn get(
    State(engine): State<Engine>,
    Path(raw): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> EngineResult<Response> {
    let (record, qualifier) = lookup(&engine, &raw, q.qualifier)?;
    let (version, _) = record.resolve(qualifier.as_deref())?;
    let location = engine.functions.code_path(version);
    Ok(Json(serde_json::json!({
        "Configuration": engine.location.configuration(&record.name, version),
        "Code": {"RepositoryType": "S3", "Location": format!("file://{}", location.display())},
        "Tags": record.tags,
    }))
    .into_response())
}

pub async fn get_configuration(
    State(engine): State<Engine>,
    Path(raw): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> EngineResult<Response> {
    let (record, qualifier) = lookup(&engine, &raw, q.qualifier)?;
    let (version, _) = record.resolve(qualifier.as_deref())?;
    Ok(Json(engine.location.configuration(&record.name, version)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<usize>,
}

/// ListFunctions: `$LATEST` of every function, by name, paged by a name marker.
pub async fn list(State(engine): State<Engine>, Query(q): Query<ListQuery>) -> EngineResult<Response> {
    let limit = q.max_items.unwrap_or(50).clamp(1, 10_000);
    let all = engine.functions.list();
    let start = q
        .marker
        .as_deref()
        .map_or(0, |m| all.iter().position(|f| f.name.as_str() > m).unwrap_or(all.len()));
    let page: Vec<_> = all[start..].iter().take(limit).collect();
    let next = (start + page.len() < all.len())
        .then(|| page.last().map(|f| f.name.clone()))
        .flatten();
    let functions: Vec<_> = page
        .iter()
        .map(|f| engine.location.configuration(&f.name, &f.latest))
        .collect();
    let mut body = serde_json::json!({"Functions": functions});
    if let Some(next) = next {
        body["NextMarker"] = next.into();
    }
    Ok(Json(body).into_response())
}

/// DeleteFunction: the whole function, or one published version with `Qualifier`.
pub async fn delete(
    State(engine): State<Engine>,
    Path(raw): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> EngineResult<Response> {
    let (record, qualifier) = lookup(&engine, &raw, q.qualifier)?;
    match qualifier.as_deref() {
        None => {
            engine.functions.delete(&record.name)?;
            engine.pools.retire(&record.name, None);
            tracing::info!(function = %record.name, "function deleted");
        }
        Some(LATEST) => {
            return Err(EngineError::invalid_parameter(
                "$LATEST version cannot be deleted without deleting the function.",
            ));
        }
        Some(version) => {
            let number: u32 = version.parse().map_err(|_| {
                EngineError::invalid_parameter(
                    "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias",
                )
            })?;
            engine.functions.update(&record.name, None, |r| {
                if let Some(alias) = r.aliases.values().find(|a| a.function_version == version) {
                    return Err(EngineError::conflict(format!(
                        "Unable to delete version because the following aliases reference it: [{}]",
                        alias.name
                    )));
                }
                r.versions
                    .remove(&number)
                    .map(|_| ())
                    .ok_or_else(|| EngineError::not_found(format!("Function not found: {}:{version}", r.name)))
            })?;
            engine.pools.retire(&record.name, Some(version));
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCode {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    image_uri: Option<String>,
    publish: Option<bool>,
    revision_id: Option<String>,
}

pub async fn update_code(
    State(engine): State<Engine>,
    Path(raw): Path<String>,
    AwsJson(body): AwsJson<UpdateCode>,
) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&raw)?;
    let code = code_zip(
        Some(Code {
            zip_file: body.zip_file,
            s3_bucket: body.s3_bucket,
            image_uri: body.image_uri,
        }),
        "UpdateFunctionCode",
    )
    .await?;
    let shown = engine.functions.update(&reference.name, Some(&code), |record| {
        check_revision(&record.latest, body.revision_id.as_deref())?;
        record.latest.code_sha256 = code.sha256_base64.clone();
        record.latest.code_size = code.bytes.len() as u64;
        touch(&mut record.latest);
        Ok(if body.publish.unwrap_or(false) {
            super::versions::publish_next(record, "")
        } else {
            record.latest.clone()
        })
    })?;
    engine.pools.retire(&reference.name, Some(LATEST));
    Ok(Json(engine.location.configuration(&reference.name, &shown)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConfiguration {
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<u32>,
    memory_size: Option<u32>,
    environment: Option<Environment>,
    ephemeral_storage: Option<EphemeralStorage>,
    durable_config: Option<DurableConfig>,
    revision_id: Option<String>,
}

pub async fn update_configuration(
    State(engine): State<Engine>,
    Path(raw): Path<String>,
    AwsJson(body): AwsJson<UpdateConfiguration>,
) -> EngineResult<Response> {
    let reference = FunctionRef::parse(&raw)?;
    if let Some(runtime) = &body.runtime {
        validate_runtime(&engine, runtime)?;
    }
    let timeout_seconds = body.timeout.map(|t| timeout(Some(t))).transpose()?;
    let memory_mb = body.memory_size.map(|m| memory(Some(m))).transpose()?;
    let durable = durable_config(body.durable_config)?;
    let variables = body.environment.map(|e| environment(Some(e))).transpose()?;
    let tmp_mb = body.ephemeral_storage.map(|e| ephemeral_storage(Some(e))).transpose()?;
    let shown = engine.functions.update(&reference.name, None, |record| {
        let latest = &mut record.latest;
        check_revision(latest, body.revision_id.as_deref())?;
        if let Some(runtime) = body.runtime {
            latest.runtime = runtime;
        }
        if let Some(role) = body.role {
            latest.role = role;
        }
        if let Some(handler) = body.handler {
            latest.handler = handler;
        }
        if let Some(description) = body.description {
            latest.description = description;
        }
        if let Some(t) = timeout_seconds {
            latest.timeout_seconds = t;
        }
        if let Some(m) = memory_mb {
            latest.memory_mb = m;
        }
        if let Some(variables) = variables {
            latest.environment = variables;
        }
        if let Some(tmp_mb) = tmp_mb {
            latest.ephemeral_storage_mb = tmp_mb;
        }
        if durable.is_some() {
            latest.durable_config = durable;
        }
        durable_runtime(&latest.runtime, latest.durable_config.as_ref())?;
        touch(latest);
        Ok(latest.clone())
    })?;
    engine.pools.retire(&reference.name, Some(LATEST));
    Ok(Json(engine.location.configuration(&reference.name, &shown)).into_response())
}

/// The function a path names, and the qualifier from the path or the query (which must agree).
pub fn lookup(engine: &Engine, raw: &str, query: Option<String>) -> EngineResult<(FunctionRecord, Option<String>)> {
    let reference = FunctionRef::parse(raw)?;
    let qualifier = match (reference.qualifier, query.filter(|q| !q.is_empty())) {
        (Some(a), Some(b)) if a != b => {
            return Err(EngineError::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            ));
        }
        (a, b) => a.or(b),
    };
    if let Some(q) = &qualifier {
        lambda_rules::validate_qualifier(q)?;
    }
    Ok((engine.functions.get(&reference.name)?, qualifier))
}

/// A `DurableConfig` within Lambda's bounds, its defaults filled.
fn durable_config(config: Option<DurableConfig>) -> EngineResult<Option<DurableConfig>> {
    config
        .map(|c| c.validated().map_err(EngineError::invalid_parameter))
        .transpose()
}

/// The engine's runtimes carry AWS's durable execution SDK for Python only (the Node.js
/// one needs Node 22, and Ruby has none): a durable function in another language would
/// fail at its first import, so it is refused when it is made.
fn durable_runtime(runtime: &str, durable: Option<&DurableConfig>) -> EngineResult<()> {
    // An unknown runtime is refused as such elsewhere.
    if durable.is_none() || matches!(Language::of(runtime), Some(Language::Python) | None) {
        return Ok(());
    }
    Err(EngineError::invalid_parameter(format!(
        "The embedded Lambda engine runs durable functions on Python runtimes only (its runtimes carry AWS's durable execution SDK for Python); a {runtime} durable function needs AWS."
    )))
}

fn touch(version: &mut FunctionVersion) {
    version.last_modified = model::now_timestamp();
    version.revision_id = model::new_revision_id();
}

fn check_revision(version: &FunctionVersion, expected: Option<&str>) -> EngineResult<()> {
    match expected {
        Some(id) if id != version.revision_id => Err(EngineError::precondition_failed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

fn validate_runtime(engine: &Engine, runtime: &str) -> EngineResult<Language> {
    if Language::of(runtime).is_none() {
        return Err(EngineError::invalid_parameter(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            KNOWN_RUNTIMES.join(", ")
        )));
    }
    engine
        .check_runtime(runtime)
        .map_err(|e| EngineError::invalid_parameter(e.to_string()))
}

/// The uploaded zip, checked against Lambda's limits (see `engine::archive`) before it is
/// stored: the request's size, then every entry, decompressed and counted.
async fn code_zip(code: Option<Code>, operation: &str) -> EngineResult<CodeZip> {
    let code = code.ok_or_else(|| missing("Code"))?;
    if code.s3_bucket.is_some() || code.image_uri.is_some() {
        return Err(EngineError::invalid_parameter(
            "The embedded Lambda engine takes code as ZipFile only (no S3 or container images).",
        ));
    }
    let encoded = code.zip_file.ok_or_else(|| missing("Code.ZipFile"))?;
    if encoded.len() > archive::MAX_REQUEST_BYTES {
        return Err(EngineError::new(
            ErrorKind::RequestEntityTooLarge,
            format!(
                "Request must be smaller than {} bytes for the {operation} operation",
                archive::MAX_REQUEST_BYTES
            ),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| EngineError::invalid_parameter("Code.ZipFile is not valid base64"))?;
    tokio::task::spawn_blocking(move || {
        archive::inspect(&bytes).map_err(|refused| EngineError::invalid_parameter(refused.to_string()))?;
        CodeZip::parse(bytes)
    })
    .await
    .map_err(|e| EngineError::service(format!("checking the code: {e}")))?
}

fn timeout(value: Option<u32>) -> EngineResult<u32> {
    match value.unwrap_or(3) {
        t @ 1..=900 => Ok(t),
        t => Err(EngineError::invalid_parameter(format!(
            "1 validation error detected: Value '{t}' at 'timeout' failed to satisfy constraint: Member must have value between 1 and 900"
        ))),
    }
}

fn memory(value: Option<u32>) -> EngineResult<u32> {
    match value.unwrap_or(128) {
        m @ 128..=10240 => Ok(m),
        m => Err(EngineError::invalid_parameter(format!(
            "1 validation error detected: Value '{m}' at 'memorySize' failed to satisfy constraint: Member must have value between 128 and 10240"
        ))),
    }
}

/// The size of /tmp in MB: 512 (the default) to 10,240, as Lambda takes it.
fn ephemeral_storage(value: Option<EphemeralStorage>) -> EngineResult<u32> {
    match value.map_or(512, |e| e.size) {
        m @ 512..=10240 => Ok(m),
        m => Err(EngineError::invalid_parameter(format!(
            "1 validation error detected: Value '{m}' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value between 512 and 10240"
        ))),
    }
}

fn environment(environment: Option<Environment>) -> EngineResult<BTreeMap<String, String>> {
    let variables = environment.and_then(|e| e.variables).unwrap_or_default();
    let reserved: Vec<&str> = variables
        .keys()
        .filter(|k| RESERVED_ENVIRONMENT_KEYS.contains(&k.as_str()))
        .map(String::as_str)
        .collect();
    if !reserved.is_empty() {
        return Err(EngineError::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    Ok(variables)
}

fn missing(field: &str) -> EngineError {
    EngineError::invalid_parameter(format!("{field} is required"))
}
