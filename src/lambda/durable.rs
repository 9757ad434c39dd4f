//! The Lambda API of durable functions (December 2025), which the aws-sdk-lambda this
//! service builds with does not have yet: a function's `DurableConfig`, Invoke with an
//! execution name, `GetDurableExecution`, `GetDurableExecutionHistory`,
//! `StopDurableExecution` and `SendDurableExecutionCallbackSuccess` / `Failure`, as plain
//! HTTP requests signed with SigV4 under the same endpoint, region and credentials as the
//! project's SDK clients.

use std::time::{Duration, SystemTime};

use aws_sdk_lambda::config::ProvideCredentials as _;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::client::{LambdaClients, LambdaTarget};

/// A path segment as Lambda's REST paths take one (an ARN's `:` and `/` encoded).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// What one call waits for at most: these calls answer at once.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The durable-execution calls of one project's Lambda.
pub struct DurableApi<'a> {
    clients: &'a LambdaClients,
    endpoint: String,
    http: reqwest::Client,
}

/// Lambda answered with an error (or could not be reached).
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// Lambda's answer: its HTTP status, error type and message.
    #[error("{kind}: {message}")]
    Refused { status: u16, kind: String, message: String },
    #[error("{0}")]
    Unreachable(String),
}

impl DurableError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Refused { kind, .. } if kind == "ResourceNotFoundException")
    }
}

/// One HTTP client for every project's durable calls: building one loads the system's root
/// certificates, which cost milliseconds of CPU (it was once done for every Invoke step).
fn shared_http() -> reqwest::Client {
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap_or_default()
    })
    .clone()
}

impl<'a> DurableApi<'a> {
    pub fn new(clients: &'a LambdaClients, target: &LambdaTarget) -> Self {
        let region = region_of(clients);
        let endpoint = match target.endpoint() {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("https://lambda.{region}.amazonaws.com"),
        };
        Self {
            clients,
            endpoint,
            http: shared_http(),
        }
    }

    /// The function's `DurableConfig` (GetFunctionConfiguration), None when it has none.
    pub async fn durable_config(&self, function: &str, qualifier: Option<&str>) -> Result<Option<Value>, DurableError> {
        let path = format!("/2015-03-31/functions/{}/configuration", segment(function));
        let config = self.call("GET", &path, &qualifier_query(qualifier), &[], b"").await?;
        Ok(config.1.get("DurableConfig").filter(|c| !c.is_null()).cloned())
    }

    /// Starts the execution named `name` with `payload` (an `Event` Invoke), or re-attaches
    /// to it when it exists with the same payload: answers its ARN.
    pub async fn start(
        &self,
        function: &str,
        qualifier: Option<&str>,
        name: &str,
        payload: &[u8],
    ) -> Result<String, DurableError> {
        let path = format!("/2015-03-31/functions/{}/invocations", segment(function));
        let headers = [
            ("x-amz-invocation-type", "Event"),
            ("x-amz-durable-execution-name", name),
        ];
        let (answer, _) = self
            .call("POST", &path, &qualifier_query(qualifier), &headers, payload)
            .await?;
        answer
            .get("x-amz-durable-execution-arn")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| {
                DurableError::Unreachable("Lambda answered the Invoke without a durable execution ARN".into())
            })
    }

    /// `GetDurableExecution`: its `Status`, and its `Result` or `Error` once it ended.
    pub async fn get(&self, arn: &str) -> Result<Value, DurableError> {
        let path = format!("/2025-12-01/durable-executions/{}", segment(arn));
        Ok(self.call("GET", &path, "", &[], b"").await?.1)
    }

    /// One page of `GetDurableExecutionHistory` from `marker`, oldest first.
    pub async fn history(&self, arn: &str, marker: Option<&str>) -> Result<Value, DurableError> {
        let path = format!("/2025-12-01/durable-executions/{}/history", segment(arn));
        let query = match marker {
            Some(marker) => format!("IncludeExecutionData=true&Marker={}", segment(marker)),
            None => "IncludeExecutionData=true".to_string(),
        };
        Ok(self.call("GET", &path, &query, &[], b"").await?.1)
    }

    /// `StopDurableExecution`, with the error the execution ends with.
    pub async fn stop(&self, arn: &str, message: &str) -> Result<(), DurableError> {
        let path = format!("/2025-12-01/durable-executions/{}/stop", segment(arn));
        let body = serde_json::json!({"Error": {"ErrorType": "Cancelled", "ErrorMessage": message}});
        self.post(&path, "application/json", body.to_string().as_bytes()).await
    }

    /// `SendDurableExecutionCallbackSuccess`: completes the callback with `result` (JSON).
    pub async fn callback_succeed(&self, callback_id: &str, result: &[u8]) -> Result<(), DurableError> {
        let path = format!(
            "/2025-12-01/durable-execution-callbacks/{}/succeed",
            segment(callback_id)
        );
        self.post(&path, "application/octet-stream", result).await
    }

    /// `SendDurableExecutionCallbackFailure`: fails the callback with an `ErrorObject`
    /// (`ErrorType`, `ErrorMessage`).
    pub async fn callback_fail(&self, callback_id: &str, kind: &str, message: &str) -> Result<(), DurableError> {
        let path = format!("/2025-12-01/durable-execution-callbacks/{}/fail", segment(callback_id));
        let body = serde_json::json!({"ErrorType": kind, "ErrorMessage": message});
        self.post(&path, "application/json", body.to_string().as_bytes()).await
    }

    /// A POST whose answer says nothing more than that it was taken.
    async fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Result<(), DurableError> {
        self.call("POST", path, "", &[("content-type", content_type)], body)
            .await
            .map(|_| ())
    }

    /// One signed request; its headers and JSON body (`null` when empty), or Lambda's error.
    async fn call(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(reqwest::header::HeaderMap, Value), DurableError> {
        let url = if query.is_empty() {
            format!("{}{path}", self.endpoint)
        } else {
            format!("{}{path}?{query}", self.endpoint)
        };
        let signed = self.sign(method, &url, headers, body).await?;
        let mut request = self
            .http
            .request(method.parse().unwrap_or(reqwest::Method::GET), &url)
            .body(body.to_vec());
        for (name, value) in headers
            .iter()
            .copied()
            .chain(signed.iter().map(|(n, v)| (*n, v.as_str())))
        {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| DurableError::Unreachable(format!("Lambda could not be reached: {e}")))?;
        let status = response.status().as_u16();
        let answer_headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| DurableError::Unreachable(format!("Lambda's answer could not be read: {e}")))?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status >= 300 {
            let kind = answer_headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(|t| t.split(':').next().unwrap_or(t).to_string())
                .or_else(|| json.get("Type").and_then(Value::as_str).map(str::to_string))
                .or_else(|| json.get("__type").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| format!("HTTP {status}"));
            let message = json
                .get("Message")
                .or_else(|| json.get("message"))
                .and_then(Value::as_str)
                .map_or_else(|| text.clone(), str::to_string);
            return Err(DurableError::Refused { status, kind, message });
        }
        Ok((answer_headers, json))
    }

    /// The SigV4 headers of a request, signed as the project's Lambda clients sign.
    async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>, DurableError> {
        let unsigned = || DurableError::Unreachable("no credentials to sign the call to Lambda with".into());
        let provider = self.clients.credentials.as_ref().ok_or_else(unsigned)?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| DurableError::Unreachable(format!("the credentials could not be had: {e}")))?;
        let identity = credentials.into();
        let region = region_of(self.clients);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| DurableError::Unreachable(format!("the call could not be signed: {e}")))?
            .into();
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| u.port().map_or_else(|| h.to_string(), |p| format!("{h}:{p}")))
            })
            .unwrap_or_default();
        let mut to_sign = vec![("host", host.as_str())];
        to_sign.extend(headers.iter().copied());
        let signable = SignableRequest::new(method, url, to_sign.into_iter(), SignableBody::Bytes(body))
            .map_err(|e| DurableError::Unreachable(format!("the call could not be signed: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| DurableError::Unreachable(format!("the call could not be signed: {e}")))?
            .into_parts();
        let (signed, _) = instructions.into_parts();
        Ok(signed.iter().map(|h| (h.name(), h.value().to_string())).collect())
    }
}

fn region_of(clients: &LambdaClients) -> String {
    clients
        .control
        .config()
        .region()
        .map_or_else(|| "us-east-1".to_string(), ToString::to_string)
}

fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

fn qualifier_query(qualifier: Option<&str>) -> String {
    qualifier.map_or_else(String::new, |q| format!("Qualifier={}", segment(q)))
}
