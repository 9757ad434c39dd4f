//! What the engine stores about a function, and the JSON shapes AWS answers with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{EngineError, EngineResult};
use lambda_rules::{LATEST, function_arn};

/// One version of a function: `$LATEST` or a published, immutable number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionVersion {
    pub version: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    pub description: String,
    pub timeout_seconds: u32,
    pub memory_mb: u32,
    pub environment: BTreeMap<String, String>,
    /// Base64 SHA-256 of the zip, as AWS reports it; also names the stored zip.
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: String,
    pub revision_id: String,
    pub architectures: Vec<String>,
    pub ephemeral_storage_mb: u32,
    /// A durable function's `DurableConfig` (absent: an ordinary function).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durable_config: Option<crate::durable::model::DurableConfig>,
}

/// An alias: a name pointing at a published version (or `$LATEST`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    pub function_version: String,
    pub description: String,
    pub revision_id: String,
}

/// Everything stored about one function; persisted as one JSON document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub name: String,
    pub latest: FunctionVersion,
    pub versions: BTreeMap<u32, FunctionVersion>,
    pub aliases: BTreeMap<String, Alias>,
    pub tags: BTreeMap<String, String>,
    pub last_published: u32,
}

impl FunctionRecord {
    /// The version a qualifier names: none or `$LATEST`, a version number, or an alias.
    /// Returns the version and the alias it came through, if any.
    pub fn resolve(&self, qualifier: Option<&str>) -> EngineResult<(&FunctionVersion, Option<&Alias>)> {
        match qualifier {
            None | Some(LATEST) => Ok((&self.latest, None)),
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => q
                .parse::<u32>()
                .ok()
                .and_then(|n| self.versions.get(&n))
                .map(|v| (v, None))
                .ok_or_else(|| EngineError::not_found(format!("Function not found: {}:{q}", self.name))),
            Some(alias_name) => {
                let alias = self
                    .aliases
                    .get(alias_name)
                    .ok_or_else(|| EngineError::not_found(format!("Function not found: {}:{alias_name}", self.name)))?;
                let version = self.resolve_version(&alias.function_version)?;
                Ok((version, Some(alias)))
            }
        }
    }

    /// A version by its number or `$LATEST` (no aliases).
    pub fn resolve_version(&self, version: &str) -> EngineResult<&FunctionVersion> {
        if version == LATEST {
            return Ok(&self.latest);
        }
        version
            .parse::<u32>()
            .ok()
            .and_then(|n| self.versions.get(&n))
            .ok_or_else(|| EngineError::not_found(format!("Function not found: {}:{version}", self.name)))
    }
}

/// Where the engine claims to be: the region and account its ARNs name.
#[derive(Debug, Clone)]
pub struct Location {
    pub region: String,
    pub account_id: String,
}

impl Location {
    pub fn function_arn(&self, name: &str) -> String {
        function_arn(&self.region, &self.account_id, name)
    }

    pub fn qualified_arn(&self, name: &str, qualifier: &str) -> String {
        format!("{}:{qualifier}", self.function_arn(name))
    }

    /// `FunctionConfiguration` as AWS returns it for one version.
    pub fn configuration(&self, name: &str, v: &FunctionVersion) -> serde_json::Value {
        let arn = if v.version == LATEST {
            self.function_arn(name)
        } else {
            self.qualified_arn(name, &v.version)
        };
        let mut config = serde_json::json!({
            "FunctionName": name,
            "FunctionArn": arn,
            "Runtime": v.runtime,
            "Role": v.role,
            "Handler": v.handler,
            "CodeSize": v.code_size,
            "Description": v.description,
            "Timeout": v.timeout_seconds,
            "MemorySize": v.memory_mb,
            "LastModified": v.last_modified,
            "CodeSha256": v.code_sha256,
            "Version": v.version,
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": v.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": v.architectures,
            "EphemeralStorage": {"Size": v.ephemeral_storage_mb},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "RuntimeVersionConfig": {"RuntimeVersionArn": format!("arn:aws:lambda:{}::runtime:lambda-steps-embedded", self.region)},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": lambda_rules::log_group_name(name)},
        });
        if let Some(durable) = &v.durable_config {
            config["DurableConfig"] = serde_json::to_value(durable).unwrap_or_default();
        }
        if !v.environment.is_empty() {
            config["Environment"] = serde_json::json!({"Variables": v.environment});
        }
        config
    }

    pub fn alias(&self, function: &str, alias: &Alias) -> serde_json::Value {
        serde_json::json!({
            "AliasArn": self.qualified_arn(function, &alias.name),
            "Name": alias.name,
            "FunctionVersion": alias.function_version,
            "Description": alias.description,
            "RevisionId": alias.revision_id,
        })
    }
}

/// AWS's timestamp format for `LastModified`: `2024-01-31T12:34:56.789+0000`.
pub fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

pub fn new_revision_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
