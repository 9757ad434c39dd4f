//! The client commands of the binary (`run`, `logs`, `runs`, `cancel`, `replay`,
//! `approve`, `reject`): one HTTP client
//! over the REST API (this file), one small module per command, the log follower they
//! share, and the exit status that says the outcome (`exit.rs`).
//!
//! - `LAMBDA_STEPS_URL` / `--url`: the service (default `http://127.0.0.1:8080`)
//! - `LAMBDA_STEPS_TOKEN` / `--token`: the API token (never printed); default: the data
//!   directory's `admin-token` (`LAMBDA_STEPS_DATA_DIR` / `--data-dir`) when readable
//! - `LAMBDA_STEPS_PROJECT` / `--project`: the project of `run` and `runs` (default `default`)
//! - `NO_COLOR`: no dimmed runner lines even on a terminal

pub mod approve;
pub mod cancel;
pub mod exit;
pub mod follow;
pub mod logs;
pub mod output;
pub mod replay;
pub mod run;
pub mod rundeck;
pub mod runs;

use std::path::PathBuf;
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use crate::key_storage::Secret;
use exit::Outcome;

/// Where the service is and who is asking: flags every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// URL of the lambda-steps service.
    #[arg(long, env = "LAMBDA_STEPS_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API token (never printed); default: `admin-token` in the data directory, when readable.
    #[arg(long, env = "LAMBDA_STEPS_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,
    /// The service's data directory, whose `admin-token` is used when no token is given.
    #[arg(
        long = "data-dir",
        env = "LAMBDA_STEPS_DATA_DIR",
        default_value = "lambda-steps-data"
    )]
    pub data_dir: PathBuf,
}

/// Where the token came from, to say so when the service rejects it.
#[derive(Debug, Clone)]
enum TokenOrigin {
    Given,
    File(PathBuf),
    None(PathBuf),
}

/// Why a request got no usable answer. Every one ends the command with exit status 6,
/// except `Usage` (2).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("the service refused the request ({status} {code}): {message}{}", field_note(.field))]
    Refused {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
    },
    #[error("the service at {url} rejected the token {origin}: {message}")]
    TokenRejected {
        url: String,
        origin: String,
        message: String,
    },
    #[error(
        "could not reach the service at {url}: {why} (is `lambda-steps serve` running there? --url / LAMBDA_STEPS_URL)"
    )]
    Unreachable { url: String, why: String },
    #[error("the service at {url} answered something this client cannot read: {why}")]
    Unreadable { url: String, why: String },
    #[error("{0}")]
    Usage(String),
}

fn field_note(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!(" (field: {f})")).unwrap_or_default()
}

impl Failure {
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Usage(_) => Outcome::Usage,
            _ => Outcome::Refused,
        }
    }

    /// Whether trying again later may help (the stream of a run dropped, the service
    /// restarting), as opposed to a refusal that will not change.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Unreadable { .. } => true,
            Self::Refused { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Prints a failure on stderr; answers its exit status.
pub fn report(failure: &Failure) -> Outcome {
    eprintln!("error: {failure}");
    failure.outcome()
}

/// One entry of a run's log. `source` (`runner` or `function`) is read when the service
/// sends it; older services do not, and their lines are shown plain.
#[derive(Debug, Clone, Deserialize)]
pub struct LogLine {
    pub seq: i64,
    #[serde(default)]
    pub level: String,
    pub message: String,
    #[serde(default)]
    pub source: Option<String>,
    /// The phase a runner line was written in (`RunPhase`'s names); kept as text so a phase
    /// a newer service adds does not make the line unreadable.
    #[serde(default)]
    pub phase: Option<String>,
}

/// The fields of a run this client reads; the whole JSON is kept beside it for `--json`.
#[derive(Debug, Clone, Deserialize)]
pub struct RunView {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub step: Value,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<RunErrorView>,
    #[serde(default)]
    pub created_at: Option<String>,
    /// The function a custom-code run created.
    #[serde(default)]
    pub function_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunErrorView {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl RunView {
    pub fn read(run: &Value) -> Result<Self, NotARun> {
        serde_json::from_value(run.clone()).map_err(NotARun)
    }

    /// `None` while the run is not finished.
    pub fn outcome(&self) -> Option<Outcome> {
        Outcome::of_run(&self.status, self.error.as_ref().map(|e| e.code.as_str()))
    }

    /// The function's error as `type: message`, else the run's error, when it did not succeed.
    pub fn error_text(&self) -> Option<String> {
        let function = self
            .result
            .as_ref()
            .and_then(|r| r.get("error"))
            .filter(|e| !e.is_null());
        if let Some(error) = function {
            let kind = error["type"].as_str().unwrap_or("Error");
            let message = error["message"].as_str().unwrap_or_default();
            return Some(format!("{kind}: {message}"));
        }
        self.error.as_ref().map(|e| format!("{}: {}", e.code, e.message))
    }
}

/// The service answered something that does not read as a run.
#[derive(Debug, thiserror::Error)]
#[error("not a run: {0}")]
pub struct NotARun(serde_json::Error);

/// A page of `GET /v1/runs/{id}/logs`.
#[derive(Debug, Deserialize)]
pub struct LogPage {
    pub items: Vec<Value>,
    pub next_after: i64,
    #[serde(default)]
    pub completed: bool,
}

/// One SSE event of a run's stream: its name and data.
#[derive(Debug)]
pub struct StreamEvent {
    pub event: String,
    pub data: String,
}

/// The one HTTP client of the client commands.
pub struct Client {
    http: reqwest::Client,
    base: reqwest::Url,
    token: Option<String>,
    origin: TokenOrigin,
}

/// A request that is not a stream gets this long for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// The service sends a keep-alive every 15 s; a stream silent for this long is dropped.
const STREAM_SILENCE: Duration = Duration::from_secs(45);

/// The service's URL, as the client can use it: http or https, with a host. `localhost:8080`
/// parses as a URL of scheme `localhost` that cannot have a path; it is refused here as a
/// usage error that shows the fix, instead of panicking when a path is added to it.
fn service_url(given: &str) -> Result<reqwest::Url, Failure> {
    let refused = |why: String| Failure::Usage(format!("--url {given:?} (or LAMBDA_STEPS_URL) {why}"));
    let url = reqwest::Url::parse(given.trim_end_matches('/')).map_err(|e| refused(format!("is not a URL: {e}")))?;
    if matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base() && url.host().is_some() {
        return Ok(url);
    }
    Err(refused(if given.contains("://") {
        "is not an http(s) URL".to_string()
    } else {
        format!("is not an http(s) URL: write it with its scheme, such as http://{given}")
    }))
}

impl Client {
    pub fn new(connection: &Connection) -> Result<Self, Failure> {
        let base = service_url(&connection.url)?;
        let given = connection.token.as_ref().map(|s| s.0.trim()).filter(|t| !t.is_empty());
        let (token, origin) = match given {
            Some(token) => (Some(token.to_string()), TokenOrigin::Given),
            None => {
                let path = connection.data_dir.join("admin-token");
                match std::fs::read_to_string(&path) {
                    Ok(text) if !text.trim().is_empty() => (Some(text.trim().to_string()), TokenOrigin::File(path)),
                    _ => (None, TokenOrigin::None(path)),
                }
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(STREAM_SILENCE)
            .user_agent(concat!("lambda-steps/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Usage(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            token,
            origin,
        })
    }

    /// The service's URL, as the user gave it.
    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The URL of `segments` under the base, each one escaped.
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("service_url took only http(s) URLs, which have a path");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request and reads a JSON answer, or says why there is none.
    async fn send_json(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let response = request
            .timeout(ANSWER_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let response = self.check(response).await?;
        response.json::<Value>().await.map_err(|e| Failure::Unreadable {
            url: self.base().to_string(),
            why: e.to_string(),
        })
    }

    /// A 2xx answer, or the failure its error body says.
    async fn check(&self, response: reqwest::Response) -> Result<reqwest::Response, Failure> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let error = &body["error"];
        let code = error["code"].as_str().unwrap_or("error").to_string();
        let message = error["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_string());
        if status == reqwest::StatusCode::UNAUTHORIZED {
            let origin = match &self.origin {
                TokenOrigin::Given => "given with --token / LAMBDA_STEPS_TOKEN".to_string(),
                TokenOrigin::File(path) => format!("read from {}", path.display()),
                TokenOrigin::None(path) => format!(
                    "(none was given: set --token or LAMBDA_STEPS_TOKEN, or run where {} is readable)",
                    path.display()
                ),
            };
            return Err(Failure::TokenRejected {
                url: self.base().to_string(),
                origin,
                message,
            });
        }
        Err(Failure::Refused {
            status: status.as_u16(),
            code,
            message,
            field: error["field"].as_str().map(str::to_string),
        })
    }

    fn unreachable(&self, e: reqwest::Error) -> Failure {
        let why = if e.is_connect() {
            // The innermost cause says it best ("Connection refused (os error 111)").
            let mut source: &dyn std::error::Error = &e;
            while let Some(inner) = source.source() {
                source = inner;
            }
            format!("cannot connect ({source})")
        } else if e.is_timeout() {
            "no answer in time".to_string()
        } else {
            e.to_string()
        };
        Failure::Unreachable {
            url: self.base().to_string(),
            why,
        }
    }

    /// Submits `{"step": step}` to a project.
    pub async fn submit(&self, project: &str, step: &Value, key: Option<&str>) -> Result<Value, Failure> {
        let url = self.url(&["v1", "projects", project, "runs"]);
        let mut request = self
            .request(reqwest::Method::POST, url)
            .json(&serde_json::json!({"step": step}));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        self.send_json(request).await
    }

    /// Runs a saved step, with another payload when given.
    pub async fn submit_saved(
        &self,
        project: &str,
        name: &str,
        payload: Option<&Value>,
        key: Option<&str>,
    ) -> Result<Value, Failure> {
        let url = self.url(&["v1", "projects", project, "steps", name, "runs"]);
        let body = match payload {
            Some(payload) => serde_json::json!({"payload": payload}),
            None => serde_json::json!({}),
        };
        let mut request = self.request(reqwest::Method::POST, url).json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        self.send_json(request).await
    }

    pub async fn run(&self, id: &str) -> Result<Value, Failure> {
        self.send_json(self.request(reqwest::Method::GET, self.url(&["v1", "runs", id])))
            .await
    }

    pub async fn cancel(&self, id: &str) -> Result<Value, Failure> {
        let url = self.url(&["v1", "runs", id, "cancel"]);
        self.send_json(self.request(reqwest::Method::POST, url)).await
    }

    /// Completes a callback of the run's durable execution
    /// (`POST /v1/runs/{id}/callbacks/{callback_id}`).
    pub async fn complete_callback(&self, id: &str, callback_id: &str, body: &Value) -> Result<Value, Failure> {
        let url = self.url(&["v1", "runs", id, "callbacks", callback_id]);
        self.send_json(self.request(reqwest::Method::POST, url).json(body))
            .await
    }

    /// Replays a finished run (`POST /v1/runs/{id}/replay`).
    pub async fn replay(&self, id: &str, body: &Value) -> Result<Value, Failure> {
        let url = self.url(&["v1", "runs", id, "replay"]);
        self.send_json(self.request(reqwest::Method::POST, url).json(body))
            .await
    }

    /// What differs between a replay and its original.
    pub async fn replay_diff(&self, id: &str) -> Result<Value, Failure> {
        let url = self.url(&["v1", "runs", id, "replay-diff"]);
        self.send_json(self.request(reqwest::Method::GET, url)).await
    }

    pub async fn runs(&self, project: &str, status: Option<&str>, limit: u32) -> Result<Value, Failure> {
        let mut url = self.url(&["v1", "projects", project, "runs"]);
        url.query_pairs_mut().append_pair("limit", &limit.to_string());
        if let Some(status) = status {
            url.query_pairs_mut().append_pair("status", status);
        }
        self.send_json(self.request(reqwest::Method::GET, url)).await
    }

    pub async fn log_page(&self, id: &str, after: i64) -> Result<LogPage, Failure> {
        let mut url = self.url(&["v1", "runs", id, "logs"]);
        url.query_pairs_mut()
            .append_pair("after", &after.to_string())
            .append_pair("limit", "1000");
        let page = self.send_json(self.request(reqwest::Method::GET, url)).await?;
        serde_json::from_value(page).map_err(|e| Failure::Unreadable {
            url: self.base().to_string(),
            why: format!("not a log page: {e}"),
        })
    }

    /// The run's log as Server-Sent Events from just after `after`. The stream ends
    /// without error when the connection drops; the caller resumes from its last seq.
    pub async fn events(
        &self,
        id: &str,
        after: i64,
    ) -> Result<
        impl Stream<Item = Result<StreamEvent, eventsource_stream::EventStreamError<reqwest::Error>>> + use<>,
        Failure,
    > {
        use eventsource_stream::Eventsource as _;
        let url = self.url(&["v1", "runs", id, "events"]);
        let mut request = self
            .request(reqwest::Method::GET, url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if after > 0 {
            request = request.header("Last-Event-ID", after.to_string());
        }
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let response = self.check(response).await?;
        Ok(response.bytes_stream().eventsource().map(|event| {
            event.map(|e| StreamEvent {
                event: e.event,
                data: e.data,
            })
        }))
    }
}
