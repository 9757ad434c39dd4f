//! The callbacks of the followed execution, as its history shows them: each one noted in
//! `durable_callbacks` when it starts (before its log line, so that whoever reads the line
//! can answer it at once) and when it ends; after a completion, who answered it through the
//! API (see http/callbacks.rs) is named in the run's log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::store::callbacks;
use crate::worker::StepContext;

/// What the follower remembers of the execution's callbacks between events.
#[derive(Default)]
pub struct Callbacks {
    /// The callback id of each callback operation seen started, by operation id: its
    /// completion event names the operation only.
    ids: HashMap<String, String>,
    /// The name of each `wait_for_callback` context, by operation id: the callback it makes
    /// is named after it (the SDK names the callback itself "NAME create callback id").
    waits: HashMap<String, String>,
}

impl Callbacks {
    /// Notes the event before its line is written.
    pub async fn before_line(&mut self, ctx: &StepContext<'_>, event: &Value) {
        let operation = event["Id"].as_str().unwrap_or_default();
        let kind = event["EventType"].as_str().unwrap_or_default();
        if kind == "ContextStarted"
            && event["SubType"].as_str() == Some("WaitForCallback")
            && let Some(name) = event["Name"].as_str()
        {
            self.waits.insert(operation.to_string(), name.to_string());
        }
        if kind != "CallbackStarted" {
            return;
        }
        let Some(id) = event["CallbackStartedDetails"]["CallbackId"].as_str() else {
            return;
        };
        self.ids.insert(operation.to_string(), id.to_string());
        let name = event["ParentId"]
            .as_str()
            .and_then(|parent| self.waits.get(parent))
            .map(String::as_str)
            .or_else(|| event["Name"].as_str());
        if let Err(e) = callbacks::started(&ctx.worker.db, ctx.run.id, id, name, when(event)).await {
            ctx.log.warn(format!(
                "callback {id} could not be noted (it cannot be answered through the API): {e}"
            ));
        }
    }

    /// After a callback's end is written: its state noted, and who answered it named.
    pub async fn after_line(&self, ctx: &StepContext<'_>, event: &Value) {
        let state = match event["EventType"].as_str() {
            Some("CallbackSucceeded") => "succeeded",
            Some("CallbackFailed") => "failed",
            Some("CallbackTimedOut") => "timed_out",
            _ => return,
        };
        let Some(callback_id) = self.ids.get(event["Id"].as_str().unwrap_or_default()) else {
            return;
        };
        let db = &ctx.worker.db;
        if let Err(e) = callbacks::ended(db, ctx.run.id, callback_id, state, when(event)).await {
            ctx.log
                .warn(format!("the end of callback {callback_id} could not be noted: {e}"));
        }
        if state == "timed_out" {
            return;
        }
        match callbacks::answered_by(db, ctx.run.id, callback_id).await {
            Ok(Some((who, outcome))) => ctx
                .log
                .info(format!("callback {callback_id} was {outcome} by {who} through the API")),
            Ok(None) => {}
            Err(e) => ctx
                .log
                .warn(format!("who answered callback {callback_id} could not be read: {e}")),
        }
    }
}

/// When the event happened (its `EventTimestamp`, in seconds), else now.
fn when(event: &Value) -> DateTime<Utc> {
    event["EventTimestamp"]
        .as_f64()
        .and_then(|s| DateTime::from_timestamp_millis((s * 1000.0).round() as i64))
        .unwrap_or_else(Utc::now)
}
