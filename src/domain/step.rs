//! Steps: what a run does. Parsed from the request body once, with Lambda's own limits,
//! so a bad request gets a 4xx naming the field and no run is created.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::deserialize_at;
pub use lambda_rules::InvocationType;
use lambda_rules::{FunctionRef, Language, MAX_CLIENT_CONTEXT, RESERVED_ENVIRONMENT_KEYS, validate_qualifier};

/// A step: invoke an existing function, or create one from code, run it and clean it up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    LambdaInvoke(InvokeStep),
    LambdaCustomCode(CustomCodeStep),
}

/// `lambda_invoke`: invoke an existing function.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvokeStep {
    /// Name, partial ARN or ARN, optionally with `:qualifier`: Lambda's own pattern, at most
    /// 170 characters.
    #[schema(
        max_length = 170,
        pattern = "^(?:arn:[^:\\u0000]*:lambda:[^:\\u0000]*:[^:\\u0000]*:function:|[^:\\u0000]*:function:)?[A-Za-z0-9_-]{1,64}(?::(?:\\$LATEST|[A-Za-z0-9_-]{1,128}))?$"
    )]
    pub function_name: String,
    /// The event: any JSON (default `{}`). At most 6 MB as JSON text for `RequestResponse`
    /// and 1 MB for `Event` (the service's limits can be set lower or higher). Refused (422):
    /// NUL characters, numbers too large to store and read back, nesting deeper than 64.
    #[serde(default = "empty_object")]
    #[schema(value_type = Value)]
    pub payload: serde_json::Value,
    #[serde(default)]
    pub invocation_type: InvocationType,
    /// `$LATEST`, a version number or an alias name; when `function_name` has a qualifier
    /// too, the two must be the same.
    #[schema(pattern = "^(?:\\$LATEST|[A-Za-z0-9_-]{1,128})$")]
    pub qualifier: Option<String>,
    /// Client context (`{"custom": {...}, "env": {...}, "client": {...}}`): only with
    /// `invocation_type` `RequestResponse` (the default), at most 3,583 bytes once
    /// base64-encoded; the same refusals as `payload`.
    #[schema(value_type = Option<Object>)]
    pub client_context: Option<serde_json::Value>,
}

/// `lambda_custom_code`: create a function from source, invoke it, delete it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomCodeStep {
    /// A Python, Node.js or Ruby runtime.
    pub runtime: String,
    /// The handler's source code: not blank, at most 10 MiB.
    #[schema(
        max_length = 10485760,
        pattern = "^[^\\u0000]*[^\\u0000\\t\\n\\u000b\\u000c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub code: String,
    /// `file.function`, at most 128 characters. Default: `lambda_function.lambda_handler`
    /// (Python, Ruby) or `index.handler` (Node.js).
    #[schema(max_length = 128, pattern = "^[^\\u0000]*\\.[^\\u0000]*$")]
    pub handler: Option<String>,
    /// The event: any JSON (default `{}`), at most 6 MB as JSON text; the same refusals as
    /// `lambda_invoke`'s payload.
    #[serde(default = "empty_object")]
    #[schema(value_type = Value)]
    pub payload: serde_json::Value,
    /// 1 to 900 (default 30).
    #[serde(default = "default_timeout", deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 900)]
    pub timeout_seconds: u32,
    /// 128 to 10240 (default 128).
    #[serde(default = "default_memory", deserialize_with = "whole_number")]
    #[schema(minimum = 128, maximum = 10240)]
    pub memory_mb: u32,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Execution role; default: the project's or framework's `lambda_role_arn`.
    #[schema(pattern = "^[^\\u0000]*$")]
    pub role_arn: Option<String>,
    /// Keep the function after the run instead of deleting it.
    #[serde(default)]
    pub keep_function: bool,
    /// Packages installed with the code, in the runtime's own form: pip requirement lines
    /// for Python (`requests==2.32.3`; wheels only), npm `name@version` for Node.js (install
    /// scripts off), gem `name` or `name:version` for Ruby (no native extensions). No
    /// installer options, paths or URLs; at most 50, each at most 200 characters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 50)]
    pub packages: Vec<String>,
    /// The created function's description, at most 256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    pub description: Option<String>,
    /// The created function's tags: at most 48 (Lambda's 50 less the service's own two),
    /// keys of 1 to 128 and values of at most 256 letters, numbers, spaces and
    /// `_ . : / = + - @`; keys under `aws:` and `lambda-steps:` are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Create the function as a durable function and run it as a durable execution (named
    /// by the run's id) that the run follows, each operation a line of its log. Python
    /// (python3.11 and later) and Node.js (nodejs22.x and later) runtimes; refused for Ruby,
    /// which durable functions do not support. The embedded engine runs Python ones only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub durable: bool,
    /// The durable function's `DurableConfig`, only with `durable: true`; default: an
    /// execution timeout of one day and a retention of one day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durable_config: Option<super::durable::DurableConfig>,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// A whole number, also when written `30.0`: JSON Schema's integers include those, and
/// clients generated from the spec may send them so.
pub(super) fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    whole
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| serde::de::Error::custom(format!("{number} is not a whole number from 0 to 4294967295")))
}

fn default_timeout() -> u32 {
    30
}

fn default_memory() -> u32 {
    128
}

/// A field of the request that is not acceptable, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    pub field: String,
    pub message: String,
}

impl InvalidField {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Payload limits, configurable because Lambda raised them before.
#[derive(Debug, Clone, Copy)]
pub struct PayloadLimits {
    pub sync_bytes: usize,
    pub event_bytes: usize,
}

impl Step {
    /// Parses and validates a step from the request body's `step` value.
    pub fn parse(raw: &serde_json::Value, limits: PayloadLimits) -> Result<Self, InvalidField> {
        super::json::check_storable(raw, "step")?;
        let mut fields = match raw {
            serde_json::Value::Object(fields) => fields.clone(),
            _ => return Err(InvalidField::new("step", "must be a JSON object with a \"type\"")),
        };
        let step = match fields.remove("type") {
            Some(serde_json::Value::String(kind)) if kind == "lambda_invoke" => {
                Step::LambdaInvoke(deserialize_at(serde_json::Value::Object(fields), "step")?)
            }
            Some(serde_json::Value::String(kind)) if kind == "lambda_custom_code" => {
                Step::LambdaCustomCode(deserialize_at(serde_json::Value::Object(fields), "step")?)
            }
            None => {
                return Err(InvalidField::new(
                    "step.type",
                    "is missing: lambda_invoke or lambda_custom_code",
                ));
            }
            Some(_) => {
                return Err(InvalidField::new(
                    "step.type",
                    "must be lambda_invoke or lambda_custom_code",
                ));
            }
        };
        match &step {
            Step::LambdaInvoke(invoke) => invoke.validate(limits)?,
            Step::LambdaCustomCode(custom) => custom.validate(limits)?,
        }
        Ok(step)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Step::LambdaInvoke(_) => "lambda_invoke",
            Step::LambdaCustomCode(_) => "lambda_custom_code",
        }
    }

    /// The same step with another event payload (saved steps, webhooks).
    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        match &mut self {
            Step::LambdaInvoke(s) => s.payload = payload,
            Step::LambdaCustomCode(s) => s.payload = payload,
        }
        self
    }
}

impl InvokeStep {
    fn validate(&self, limits: PayloadLimits) -> Result<(), InvalidField> {
        if self.function_name.len() > 170 {
            return Err(InvalidField::new("step.function_name", "at most 170 characters"));
        }
        let reference = FunctionRef::parse(&self.function_name).map_err(|_| {
            InvalidField::new(
                "step.function_name",
                "must be a function name, partial ARN or ARN, optionally with :qualifier",
            )
        })?;
        if let Some(qualifier) = &self.qualifier {
            validate_qualifier(qualifier).map_err(|_| {
                InvalidField::new("step.qualifier", "must be $LATEST, a version number or an alias name")
            })?;
            if reference.qualifier.as_ref().is_some_and(|q| q != qualifier) {
                return Err(InvalidField::new(
                    "step.qualifier",
                    "differs from the qualifier in function_name",
                ));
            }
        }
        let limit = match self.invocation_type {
            InvocationType::Event => limits.event_bytes,
            _ => limits.sync_bytes,
        };
        check_payload(&self.payload, limit)?;
        if let Some(context) = &self.client_context {
            if self.invocation_type != InvocationType::RequestResponse {
                return Err(InvalidField::new(
                    "step.client_context",
                    "only synchronous (RequestResponse) invocations take a client context",
                ));
            }
            if !context.is_object() {
                return Err(InvalidField::new("step.client_context", "must be a JSON object"));
            }
            if self.client_context_base64().map_or(0, |c| c.len()) > MAX_CLIENT_CONTEXT {
                return Err(InvalidField::new(
                    "step.client_context",
                    format!("is over {MAX_CLIENT_CONTEXT} bytes once base64-encoded"),
                ));
            }
        }
        Ok(())
    }

    /// The client context as Lambda takes it: base64 of the JSON.
    pub fn client_context_base64(&self) -> Option<String> {
        self.client_context
            .as_ref()
            .map(|c| base64::engine::general_purpose::STANDARD.encode(c.to_string()))
    }
}

impl CustomCodeStep {
    fn validate(&self, limits: PayloadLimits) -> Result<(), InvalidField> {
        let language = match Language::of(&self.runtime) {
            Some(Language::Provided) | None => {
                return Err(InvalidField::new(
                    "step.runtime",
                    "must be a Python (python3.9 to python3.14), Node.js (nodejs18.x to nodejs24.x) or Ruby (ruby3.2 to ruby3.4) runtime",
                ));
            }
            Some(language) => language,
        };
        if self.code.trim().is_empty() {
            return Err(InvalidField::new("step.code", "is empty"));
        }
        if self.code.len() > 10 * 1024 * 1024 {
            return Err(InvalidField::new("step.code", "is over 10 MB"));
        }
        if let Some(handler) = &self.handler
            && (!handler.contains('.') || handler.chars().count() > 128)
        {
            return Err(InvalidField::new(
                "step.handler",
                "must look like file.function, at most 128 characters",
            ));
        }
        if !(1..=900).contains(&self.timeout_seconds) {
            return Err(InvalidField::new("step.timeout_seconds", "must be between 1 and 900"));
        }
        if !(128..=10240).contains(&self.memory_mb) {
            return Err(InvalidField::new("step.memory_mb", "must be between 128 and 10240"));
        }
        for key in self.environment.keys() {
            // AWS's own pattern wants two characters or more; DESIGN.md's example uses "K",
            // so one is accepted here and AWS has the last word on it.
            let well_formed = !key.is_empty()
                && key.starts_with(|c: char| c.is_ascii_alphabetic())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !well_formed {
                return Err(InvalidField::new(
                    "step.environment",
                    format!("{key:?} is not a valid variable name"),
                ));
            }
            if RESERVED_ENVIRONMENT_KEYS.contains(&key.as_str()) {
                return Err(InvalidField::new(
                    "step.environment",
                    format!("{key} is reserved by Lambda"),
                ));
            }
        }
        super::packages::check(language, &self.packages)?;
        super::function_tags::check_description(self.description.as_deref())?;
        super::function_tags::check_tags(&self.tags)?;
        super::durable::check(self.durable, self.durable_config.as_ref(), &self.runtime)?;
        check_payload(&self.payload, limits.sync_bytes)
    }

    /// The file the code goes into and the handler Lambda calls.
    pub fn source_file_and_handler(&self) -> (&'static str, String) {
        let (file, handler) = match Language::of(&self.runtime) {
            Some(Language::Node) if looks_like_common_js(&self.code) => ("index.js", "index.handler"),
            Some(Language::Node) => ("index.mjs", "index.handler"),
            Some(Language::Ruby) => ("lambda_function.rb", "lambda_function.lambda_handler"),
            _ => ("lambda_function.py", "lambda_function.lambda_handler"),
        };
        (file, self.handler.clone().unwrap_or_else(|| handler.to_string()))
    }
}

fn looks_like_common_js(code: &str) -> bool {
    code.contains("module.exports") || code.contains("exports.") || code.contains("require(")
}

fn check_payload(payload: &serde_json::Value, limit: usize) -> Result<(), InvalidField> {
    let size = payload.to_string().len();
    if size > limit {
        return Err(InvalidField::new(
            "step.payload",
            format!("is {size} bytes; Lambda takes at most {limit} for this invocation type"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: PayloadLimits = PayloadLimits {
        sync_bytes: 6 * 1024 * 1024,
        event_bytes: 1024 * 1024,
    };

    fn field_of(raw: serde_json::Value) -> String {
        Step::parse(&raw, LIMITS).unwrap_err().field
    }

    #[test]
    fn accepts_the_design_examples() {
        let invoke = json!({"type": "lambda_invoke", "function_name": "my-fn", "payload": {"any": "json"},
            "invocation_type": "RequestResponse", "qualifier": "live", "client_context": {"custom": {"k": "v"}}});
        assert_eq!(Step::parse(&invoke, LIMITS).unwrap().kind(), "lambda_invoke");
        let custom = json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "def lambda_handler(event, context):\n    return {'ok': True}\n",
            "handler": "lambda_function.lambda_handler", "payload": {}, "timeout_seconds": 30, "memory_mb": 128,
            "environment": {"K": "V"}, "role_arn": null, "keep_function": false,
            "packages": ["requests==2.32.3"], "description": "restart worker", "tags": {"team": "sre"}});
        assert_eq!(Step::parse(&custom, LIMITS).unwrap().kind(), "lambda_custom_code");
    }

    #[test]
    fn names_the_field_at_fault() {
        assert_eq!(
            field_of(json!({"type": "lambda_invoke", "function_name": "bad name"})),
            "step.function_name"
        );
        assert_eq!(
            field_of(json!({"type": "lambda_invoke", "function_name": "f", "qualifier": "a b"})),
            "step.qualifier"
        );
        assert_eq!(
            field_of(
                json!({"type": "lambda_invoke", "function_name": "f", "invocation_type": "Event", "client_context": {}})
            ),
            "step.client_context"
        );
        let big = "x".repeat(1024 * 1024);
        assert_eq!(
            field_of(
                json!({"type": "lambda_invoke", "function_name": "f", "invocation_type": "Event", "payload": big})
            ),
            "step.payload"
        );
        let custom = |extra: serde_json::Value| {
            let mut step = json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "x"});
            step.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            field_of(step)
        };
        assert_eq!(custom(json!({"runtime": "java21"})), "step.runtime");
        assert_eq!(custom(json!({"timeout_seconds": 901})), "step.timeout_seconds");
        assert_eq!(custom(json!({"timeout_seconds": 2.5})), "step.timeout_seconds");
        assert!(
            Step::parse(
                &json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "x", "memory_mb": 256.0}),
                LIMITS
            )
            .is_ok()
        );
        assert_eq!(custom(json!({"memory_mb": 64})), "step.memory_mb");
        assert_eq!(custom(json!({"environment": {"AWS_REGION": "x"}})), "step.environment");
        assert_eq!(custom(json!({"code": "  "})), "step.code");
        assert_eq!(field_of(json!({"type": "nope"})), "step.type");
        assert_eq!(custom(json!({"timeout_seconds": "long"})), "step.timeout_seconds");
        assert_eq!(custom(json!({"surprise": 1})), "step.surprise");
        assert_eq!(
            custom(json!({"packages": ["six", "--index-url=x"]})),
            "step.packages[1]"
        );
        assert_eq!(custom(json!({"packages": "six"})), "step.packages");
        assert_eq!(custom(json!({"description": "d".repeat(257)})), "step.description");
        assert_eq!(
            custom(json!({"tags": {"lambda-steps:run-id": "x"}})),
            "step.tags.lambda-steps:run-id"
        );
        assert_eq!(custom(json!({"runtime": "ruby3.3", "durable": true})), "step.durable");
        assert_eq!(
            custom(json!({"durable": true, "durable_config": {"execution_timeout": 0}})),
            "step.durable_config.execution_timeout"
        );
        assert_eq!(
            custom(json!({"durable": true, "durable_config": {"retention": 1}})),
            "step.durable_config.retention"
        );
    }

    #[test]
    fn picks_the_file_name_lambda_expects() {
        let step = |runtime: &str, code: &str| CustomCodeStep {
            runtime: runtime.into(),
            code: code.into(),
            handler: None,
            payload: json!({}),
            timeout_seconds: 3,
            memory_mb: 128,
            environment: BTreeMap::new(),
            role_arn: None,
            keep_function: false,
            packages: Vec::new(),
            description: None,
            tags: BTreeMap::new(),
            durable: false,
            durable_config: None,
        };
        assert_eq!(step("python3.12", "").source_file_and_handler().0, "lambda_function.py");
        assert_eq!(
            step("nodejs20.x", "export const handler = 1")
                .source_file_and_handler()
                .0,
            "index.mjs"
        );
        assert_eq!(
            step("nodejs20.x", "exports.handler = 1").source_file_and_handler().0,
            "index.js"
        );
        assert_eq!(
            step("ruby3.3", "").source_file_and_handler(),
            ("lambda_function.rb", "lambda_function.lambda_handler".into())
        );
    }
}
