//! AWS Lambda's own rules, as Lambda enforces them: function names, ARNs and qualifiers,
//! invocation types, reserved environment keys, payload and client-context limits, the
//! runtime identifiers with their languages, and where a function's log goes (its log
//! group's name, the retentions CloudWatch Logs accepts). Pure: no HTTP, no engine, no
//! database; the service's domain and worker and the engine all read Lambda's rules from
//! here, so the two sides cannot drift.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The unpublished, mutable version every function has.
pub const LATEST: &str = "$LATEST";

/// Largest synchronous request payload.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Largest asynchronous (Event) request payload.
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;
/// Largest base64 client context Lambda accepts.
pub const MAX_CLIENT_CONTEXT: usize = 3583;

/// What every function's log group is named after: `/aws/lambda/{function}`.
pub const LOG_GROUP_PREFIX: &str = "/aws/lambda/";

/// The log group a function writes to, on AWS and on the engine alike.
pub fn log_group_name(function: &str) -> String {
    format!("{LOG_GROUP_PREFIX}{function}")
}

/// The values CloudWatch Logs accepts for a log group's retention, in days.
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/// A value Lambda refuses; Lambda answers it as `InvalidParameterValueException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidParameter {
    /// Lambda's own wording, naming the parameter and the constraint it breaks.
    pub message: String,
}

/// A function reference as Lambda accepts it: a name, a partial ARN
/// (`123456789012:function:name`) or a full ARN, each with an optional `:qualifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionRef {
    pub fn parse(raw: &str) -> Result<Self, InvalidParameter> {
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

fn invalid_name(raw: &str) -> InvalidParameter {
    InvalidParameter {
        message: format!(
            "1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: \
             (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        ),
    }
}

/// Lambda's function name rule: 1 to 64 of letters, digits, `-` and `_`.
pub fn validate_name(name: &str) -> Result<(), InvalidParameter> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(invalid_name(name)) }
}

/// Lambda's qualifier rule: `$LATEST`, or 1 to 128 of letters, digits, `-` and `_`.
pub fn validate_qualifier(qualifier: &str) -> Result<(), InvalidParameter> {
    let ok = qualifier == LATEST
        || (!qualifier.is_empty()
            && qualifier.len() <= 128
            && qualifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(InvalidParameter {
            message: format!(
                "1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
            ),
        })
    }
}

/// A function's ARN in a region and account.
pub fn function_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account_id}:function:{name}")
}

/// How Lambda runs the invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum InvocationType {
    /// Synchronous: wait for the function's answer.
    #[default]
    RequestResponse,
    /// Asynchronous: Lambda queues the event and answers 202.
    Event,
    /// Validate parameters and permissions without running.
    DryRun,
}

impl InvocationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestResponse => "RequestResponse",
            Self::Event => "Event",
            Self::DryRun => "DryRun",
        }
    }

    /// The `X-Amz-Invocation-Type` header's value; none means `RequestResponse`.
    pub fn parse(raw: Option<&str>) -> Result<Self, InvalidParameter> {
        match raw {
            None | Some("RequestResponse") => Ok(Self::RequestResponse),
            Some("Event") => Ok(Self::Event),
            Some("DryRun") => Ok(Self::DryRun),
            Some(other) => Err(InvalidParameter {
                message: format!(
                    "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: \
                     Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
                ),
            }),
        }
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

/// Every runtime identifier CreateFunction accepts.
pub const KNOWN_RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// The language family of a runtime identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    Node,
    Ruby,
    /// `provided.*`: the zip's own executable `bootstrap` is the runtime.
    Provided,
}

impl Language {
    pub fn of(runtime: &str) -> Option<Self> {
        if !KNOWN_RUNTIMES.contains(&runtime) {
            return None;
        }
        Some(if runtime.starts_with("python") {
            Self::Python
        } else if runtime.starts_with("nodejs") {
            Self::Node
        } else if runtime.starts_with("ruby") {
            Self::Ruby
        } else {
            Self::Provided
        })
    }
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
    fn maps_runtime_identifiers_to_languages() {
        assert_eq!(Language::of("python3.12"), Some(Language::Python));
        assert_eq!(Language::of("nodejs20.x"), Some(Language::Node));
        assert_eq!(Language::of("ruby3.3"), Some(Language::Ruby));
        assert_eq!(Language::of("provided.al2023"), Some(Language::Provided));
        assert_eq!(Language::of("python2.7"), None);
        assert_eq!(Language::of("java21"), None);
    }
}
