//! What the engine stores about a function, and the JSON shapes AWS answers with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::api::error::{ApiResult, LambdaError};

/// The unpublished, mutable version every function has.
pub const LATEST: &str = "$LATEST";

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
    pub fn resolve(&self, qualifier: Option<&str>) -> ApiResult<(&FunctionVersion, Option<&Alias>)> {
        match qualifier {
            None | Some(LATEST) => Ok((&self.latest, None)),
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => q
                .parse::<u32>()
                .ok()
                .and_then(|n| self.versions.get(&n))
                .map(|v| (v, None))
                .ok_or_else(|| LambdaError::not_found(format!("Function not found: {}:{q}", self.name))),
            Some(alias_name) => {
                let alias = self
                    .aliases
                    .get(alias_name)
                    .ok_or_else(|| LambdaError::not_found(format!("Function not found: {}:{alias_name}", self.name)))?;
                let version = self.resolve_version(&alias.function_version)?;
                Ok((version, Some(alias)))
            }
        }
    }

    /// A version by its number or `$LATEST` (no aliases).
    pub fn resolve_version(&self, version: &str) -> ApiResult<&FunctionVersion> {
        if version == LATEST {
            return Ok(&self.latest);
        }
        version
            .parse::<u32>()
            .ok()
            .and_then(|n| self.versions.get(&n))
            .ok_or_else(|| LambdaError::not_found(format!("Function not found: {}:{version}", self.name)))
    }
}

/// A function reference as the API accepts it in a path: a name, a partial ARN
/// (`123456789012:function:name`) or a full ARN, each with an optional `:qualifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionRef {
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let parts: Vec<&str> = raw.split(':').collect();
        let (name, qualifier) = match parts.as_slice() {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            [_, "function", name] => (*name, None),
            [_, "function", name, q] => (*name, Some(*q)),
            ["arn", _, "lambda", _, _, "function", name] => (*name, None),
            ["arn", _, "lambda", _, _, "function", name, q] => (*name, Some(*q)),
            _ => return Err(invalid_name(raw)),
        };
        validate_name(name)?;
        if let Some(q) = qualifier {
            validate_qualifier(q)?;
        }
        Ok(Self {
            name: name.to_string(),
            qualifier: qualifier.map(str::to_string),
        })
    }
}

fn invalid_name(raw: &str) -> LambdaError {
    LambdaError::invalid_parameter(format!(
        "1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: \
         (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    ))
}

/// Lambda's function name rule: 1 to 64 of letters, digits, `-` and `_`.
pub fn validate_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(invalid_name(name)) }
}

/// Lambda's qualifier rule: `$LATEST`, or 1 to 128 of letters, digits, `-` and `_`.
pub fn validate_qualifier(qualifier: &str) -> ApiResult<()> {
    let ok = qualifier == LATEST
        || (!qualifier.is_empty()
            && qualifier.len() <= 128
            && qualifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(LambdaError::invalid_parameter(format!(
            "1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
        )))
    }
}

/// Keys Lambda reserves for itself in a function's environment.
pub const RESERVED_ENVIRONMENT_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Where the engine claims to be: the region and account its ARNs name.
#[derive(Debug, Clone)]
pub struct Location {
    pub region: String,
    pub account_id: String,
}

impl Location {
    pub fn function_arn(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{}:function:{name}", self.region, self.account_id)
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
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{name}")},
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_partial_and_full_arns_with_qualifiers() {
        let plain = FunctionRef::parse("my-fn").unwrap();
        assert_eq!((plain.name.as_str(), plain.qualifier), ("my-fn", None));
        let qualified = FunctionRef::parse("my-fn:live").unwrap();
        assert_eq!(qualified.qualifier.as_deref(), Some("live"));
        let partial = FunctionRef::parse("123456789012:function:my-fn").unwrap();
        assert_eq!(partial.name, "my-fn");
        let full = FunctionRef::parse("arn:aws:lambda:us-east-1:123456789012:function:my-fn:$LATEST").unwrap();
        assert_eq!(
            (full.name.as_str(), full.qualifier.as_deref()),
            ("my-fn", Some("$LATEST"))
        );
    }

    #[test]
    fn rejects_names_lambda_rejects() {
        for bad in ["", "has space", "a/b", &"x".repeat(65), "fn:bad qualifier"] {
            let err = FunctionRef::parse(bad).unwrap_err();
            assert_eq!(err.kind, "InvalidParameterValueException", "{bad}");
        }
    }
}
