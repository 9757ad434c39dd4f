//! What the integration tests and the live-output benchmark (`benches/live.rs`, which
//! includes this file by path) both ask a running service: submit a step, read a run's
//! event stream, read a metric. One copy, so the benchmark measures the same way the tests
//! check. Only these crates' own dependencies, no test support: the benchmark has none.

use std::time::Duration;

use eventsource_stream::Eventsource as _;
use futures::StreamExt as _;
use serde_json::{Value, json};

/// POSTs `{"step": step}` to `project`'s runs at the service `api`, with an
/// `Idempotency-Key` when given; answers the status and the body.
pub async fn submit(http: &reqwest::Client, api: &str, project: &str, step: &Value, key: Option<&str>) -> (u16, Value) {
    let mut request = http
        .post(format!("{api}/v1/projects/{project}/runs"))
        .json(&json!({"step": step}));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// One event of a run's stream, and when it arrived (epoch ms, to compare with the time a
/// function printed its line).
pub struct StreamedEvent {
    pub arrived_ms: i64,
    pub event: eventsource_stream::Event,
}

impl StreamedEvent {
    /// The event's `data` as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.event.data).unwrap_or_else(|e| {
            panic!(
                "the {} event's data is not JSON ({e}): {:?}",
                self.event.event, self.event.data
            )
        })
    }
}

/// Reads run `id`'s event stream (`GET /v1/runs/{id}/events`, from after `last_event_id`
/// when given) up to and with its `end` event, or until `enough` says the events so far
/// are enough. Fails when `patience` passes with no event, and when the stream closes
/// before its end.
pub async fn read_run_events(
    http: &reqwest::Client,
    api: &str,
    id: &str,
    last_event_id: Option<i64>,
    patience: Duration,
    enough: impl Fn(&[StreamedEvent]) -> bool,
) -> Vec<StreamedEvent> {
    let mut request = http.get(format!("{api}/v1/runs/{id}/events"));
    if let Some(last) = last_event_id {
        request = request.header("Last-Event-ID", last.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "run {id}'s events");
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "run {id}: {content_type}"
    );
    // Keep-alive comments are not events: the parser passes over them.
    let mut stream = response.bytes_stream().eventsource();
    let mut events = Vec::new();
    loop {
        let next = tokio::time::timeout(patience, stream.next())
            .await
            .unwrap_or_else(|_| panic!("run {id}: no event in {patience:?}"));
        let Some(event) = next else {
            panic!("run {id}: the stream ended without an end event");
        };
        let event = event.unwrap_or_else(|e| panic!("run {id}: the stream broke: {e}"));
        let arrived_ms = chrono::Utc::now().timestamp_millis();
        let end = event.event == "end";
        events.push(StreamedEvent { arrived_ms, event });
        if end || enough(&events) {
            return events;
        }
    }
}

/// The service's `/metrics` text (the caller's token must be an admin's).
pub async fn metrics(http: &reqwest::Client, api: &str) -> String {
    let response = http.get(format!("{api}/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "/metrics");
    response.text().await.unwrap()
}

/// The value of sample `name` (with its labels, as the exposition writes them) in the
/// service's `/metrics` text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
