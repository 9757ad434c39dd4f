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
        match callbacks::answer_note(db, ctx.run.id, callback_id).await {
            Ok(Some(note)) if completed_by(&note, state, when(event)) => ctx.log.info(format!(
                "callback {callback_id} was {} by {} through the API",
                note.outcome, note.answered_by
            )),
            Ok(_) => {}
            Err(e) => ctx
                .log
                .warn(format!("who answered callback {callback_id} could not be read: {e}")),
        }
    }
}

/// Whether the answer noted through the API is the one that ended the callback: the same
/// outcome, and Lambda's completion no earlier than the note (made before Lambda was
/// told). An answer given straight to Lambda first, and then through the API, has its note
/// for the moment Lambda takes to refuse it: it must not be named. The millisecond is the
/// event time's resolution.
fn completed_by(note: &callbacks::AnswerNote, state: &str, ended: DateTime<Utc>) -> bool {
    let same = matches!(
        (note.outcome.as_str(), state),
        ("approved", "succeeded") | ("rejected", "failed")
    );
    same && ended + chrono::Duration::milliseconds(1) >= note.answered_at
}

/// When the event happened (its `EventTimestamp`, in seconds), else now.
fn when(event: &Value) -> DateTime<Utc> {
    event["EventTimestamp"]
        .as_f64()
        .and_then(|s| DateTime::from_timestamp_millis((s * 1000.0).round() as i64))
        .unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(outcome: &str, at: DateTime<Utc>) -> callbacks::AnswerNote {
        callbacks::AnswerNote {
            answered_by: "token \"oncall-carol\"".into(),
            outcome: outcome.into(),
            answered_at: at,
        }
    }

    #[test]
    fn an_answer_is_named_only_for_the_completion_it_made() {
        let noted = Utc::now();
        let ms = chrono::Duration::milliseconds;
        // Lambda completed it after the note: the API's answer did.
        assert!(completed_by(&note("approved", noted), "succeeded", noted + ms(4)));
        // The event time is whole milliseconds: the note's own millisecond counts.
        assert!(completed_by(
            &note("approved", noted),
            "succeeded",
            noted - chrono::Duration::microseconds(900)
        ));
        // Completed straight through Lambda before the API's answer was noted (and refused).
        assert!(!completed_by(&note("approved", noted), "succeeded", noted - ms(40)));
        // Another outcome than the note's.
        assert!(!completed_by(&note("rejected", noted), "succeeded", noted + ms(4)));
        assert!(!completed_by(&note("approved", noted), "failed", noted + ms(4)));
    }
}
