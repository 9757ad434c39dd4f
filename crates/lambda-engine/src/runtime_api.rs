//! The Lambda Runtime API (2018-06-01) that one execution environment's runtime process
//! talks to: it long-polls `/invocation/next`, then posts `/response` or `/error`, or
//! `/init/error` when the handler cannot load. Each environment has its own listener, so
//! the engine always knows which environment is calling.

use parking_lot::Mutex;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

use crate::durable::data_plane::{self, Binding};

/// Lambda's limit on a synchronous response payload.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// What the runtime is told about one invocation.
#[derive(Debug, Clone)]
pub struct InvocationRequest {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_epoch_ms: u64,
    pub function_arn: String,
    /// The client context as JSON text (decoded from the caller's base64).
    pub client_context: Option<String>,
    pub trace_id: String,
    /// The durable execution this invocation belongs to: its checkpoint API is served here
    /// while the invocation runs.
    pub durable: Option<Binding>,
}

/// One invocation handed to an environment, with where its answer goes.
#[derive(Debug)]
pub struct Invocation {
    pub request: InvocationRequest,
    pub reply: oneshot::Sender<RuntimeReply>,
}

/// What the runtime said about an invocation.
#[derive(Debug)]
pub enum RuntimeReply {
    Response(Bytes),
    /// `/error`: the function failed; the body is its error document.
    Error(Bytes),
    /// `/init/error`: the handler could not be loaded; the environment is unusable.
    InitError(Bytes),
    /// The runtime tried to answer with more than 6 MB.
    ResponseTooLarge,
}

/// The state behind one environment's Runtime API.
pub struct RuntimeChannel {
    inbox: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    current: Mutex<Option<(String, oneshot::Sender<RuntimeReply>)>>,
    /// The durable execution of the invocation running now, if it is one.
    durable: Mutex<Option<Binding>>,
    /// When the runtime first asked for work: the end of its init phase.
    pub initialized: std::sync::OnceLock<std::time::Instant>,
}

impl RuntimeChannel {
    pub fn new(inbox: mpsc::Receiver<Invocation>) -> Arc<Self> {
        Arc::new(Self {
            inbox: tokio::sync::Mutex::new(inbox),
            current: Mutex::new(None),
            durable: Mutex::new(None),
            initialized: std::sync::OnceLock::new(),
        })
    }

    fn answer(&self, request_id: &str, reply: RuntimeReply) -> Response {
        let waiting = {
            let mut current = self.current.lock();
            match current.as_ref() {
                Some((id, _)) if id == request_id => current.take(),
                _ => None,
            }
        };
        match waiting {
            Some((_, sender)) => {
                // The invocation is over: its execution's checkpoint API closes with it.
                *self.durable.lock() = None;
                let _ = sender.send(reply);
                accepted()
            }
            None => runtime_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestID",
                &format!("No invocation {request_id} is waiting for an answer"),
            ),
        }
    }
}

/// The Runtime API routes of one environment.
pub fn router(channel: Arc<RuntimeChannel>) -> axum::Router {
    axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .route(
            "/2025-12-01/durable-executions/{arn}/checkpoint",
            post(durable_checkpoint),
        )
        .route("/2025-12-01/durable-executions/{arn}/state", get(durable_state))
        // The response handler enforces the 6 MB limit itself, so the waiting invoke
        // learns why instead of hanging until its timeout.
        .layer(DefaultBodyLimit::disable())
        .with_state(channel)
}

async fn next(State(channel): State<Arc<RuntimeChannel>>) -> Response {
    channel.initialized.get_or_init(std::time::Instant::now);
    let invocation = {
        let mut inbox = channel.inbox.lock().await;
        match inbox.recv().await {
            Some(invocation) => invocation,
            // The engine dropped this environment; the runtime is about to be killed.
            None => {
                return runtime_error(StatusCode::GONE, "EnvironmentRetired", "environment retired");
            }
        }
    };
    let Invocation {
        request:
            InvocationRequest {
                request_id,
                payload,
                deadline_epoch_ms,
                function_arn,
                client_context,
                trace_id,
                durable,
            },
        reply,
    } = invocation;
    *channel.durable.lock() = durable;
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("lambda-runtime-aws-request-id", &request_id);
    put("lambda-runtime-deadline-ms", &deadline_epoch_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &function_arn);
    put("lambda-runtime-trace-id", &trace_id);
    put("content-type", "application/json");
    if let Some(context) = &client_context {
        put("lambda-runtime-client-context", context);
    }
    *channel.current.lock() = Some((request_id, reply));
    (StatusCode::OK, headers, payload).into_response()
}

async fn response(State(channel): State<Arc<RuntimeChannel>>, Path(id): Path<String>, body: Bytes) -> Response {
    if body.len() > MAX_RESPONSE_BYTES {
        channel.answer(&id, RuntimeReply::ResponseTooLarge);
        return runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        );
    }
    channel.answer(&id, RuntimeReply::Response(body))
}

async fn error(State(channel): State<Arc<RuntimeChannel>>, Path(id): Path<String>, body: Bytes) -> Response {
    channel.answer(&id, RuntimeReply::Error(error_document(body)))
}

async fn init_error(State(channel): State<Arc<RuntimeChannel>>, body: Body) -> Response {
    let body = axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await.unwrap_or_default();
    let document = error_document(body);
    // An init error answers the invocation that is waiting for this environment, whether
    // the runtime already fetched it or it still sits in the inbox.
    let current = channel.current.lock().take();
    if let Some((_, sender)) = current {
        let _ = sender.send(RuntimeReply::InitError(document));
    } else if let Ok(mut inbox) = channel.inbox.try_lock()
        && let Ok(invocation) = inbox.try_recv()
    {
        let _ = invocation.reply.send(RuntimeReply::InitError(document));
    }
    accepted()
}

/// A runtime may post any body as its error; what reaches the caller is always a JSON
/// error document, as Lambda wraps a non-JSON one.
fn error_document(body: Bytes) -> Bytes {
    if serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object()) {
        return body;
    }
    let message = String::from_utf8_lossy(&body).to_string();
    Bytes::from(serde_json::json!({"errorMessage": message, "errorType": "Runtime.Unknown"}).to_string())
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"status": "OK"}))).into_response()
}

fn runtime_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"errorType": kind, "errorMessage": message})),
    )
        .into_response()
}

async fn durable_checkpoint(
    State(channel): State<Arc<RuntimeChannel>>,
    Path(arn): Path<String>,
    body: Bytes,
) -> Response {
    let binding = channel.durable.lock().clone();
    match data_plane::checkpoint_execution(binding.as_ref(), &arn, &body) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct StateQuery {
    #[serde(rename = "CheckpointToken")]
    checkpoint_token: Option<String>,
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<usize>,
}

async fn durable_state(
    State(channel): State<Arc<RuntimeChannel>>,
    Path(arn): Path<String>,
    axum::extract::Query(q): axum::extract::Query<StateQuery>,
) -> Response {
    let binding = channel.durable.lock().clone();
    match data_plane::execution_state(
        binding.as_ref(),
        &arn,
        q.checkpoint_token.as_deref(),
        q.marker.as_deref(),
        q.max_items,
    ) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}
