//! `GetDurableExecutionHistory`'s events: one for each change of an operation, of the
//! execution, and for each invocation that ended, numbered from 1 in the order they happened.

use serde_json::{Map, Value, json};

use super::model::{ExecutionRecord, Operation, seconds};

/// Appends one event about `op` (or about the execution, when `op` is None).
pub fn record(execution: &mut ExecutionRecord, event_type: &str, op: Option<&Operation>, now: i64, details: Value) {
    let mut event = Map::new();
    event.insert("EventType".into(), event_type.into());
    event.insert("EventId".into(), (execution.history.len() as u64 + 1).into());
    event.insert("EventTimestamp".into(), now.into());
    match op {
        Some(op) => {
            event.insert("Id".into(), op.id.clone().into());
            if let Some(name) = &op.name {
                event.insert("Name".into(), name.clone().into());
            }
            if let Some(parent) = &op.parent_id {
                event.insert("ParentId".into(), parent.clone().into());
            }
            if let Some(sub_type) = &op.sub_type {
                event.insert("SubType".into(), sub_type.clone().into());
            }
        }
        None => {
            event.insert("Id".into(), execution.id.clone().into());
            event.insert("Name".into(), execution.name.clone().into());
        }
    }
    event.insert(format!("{event_type}Details"), details);
    execution.history.push(Value::Object(event));
}

/// A payload as events carry one (`EventResult`, `EventInput`).
pub fn payload(text: Option<&str>) -> Value {
    json!({"Payload": text.unwrap_or_default(), "Truncated": false})
}

/// An error as events carry one (`EventError`).
pub fn error(error: Option<&Value>) -> Value {
    json!({"Payload": error.cloned().unwrap_or_else(|| json!({})), "Truncated": false})
}

/// Fields of event details that are timestamps (kept in ms, answered in seconds).
const TIMESTAMPS: &[&str] = &[
    "EventTimestamp",
    "ScheduledEndTimestamp",
    "StartTimestamp",
    "EndTimestamp",
];

/// An event as the API answers it: seconds for timestamps, payloads only when asked for.
pub fn wire(event: &Value, include_data: bool) -> Value {
    let mut event = event.clone();
    rewrite(&mut event, include_data);
    event
}

fn rewrite(value: &mut Value, include_data: bool) {
    if let Some(map) = value.as_object_mut() {
        if !include_data {
            map.remove("Payload");
        }
        for (key, child) in map.iter_mut() {
            if TIMESTAMPS.contains(&key.as_str())
                && let Some(ms) = child.as_i64()
            {
                *child = seconds(ms);
            } else {
                rewrite(child, include_data);
            }
        }
    }
}
