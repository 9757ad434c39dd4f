//! Following by FilterLogEvents polling: each read takes every event from a cursor on, and
//! the cursor trails the newest event written by a margin, for events that reach the group
//! after newer ones (CloudWatch's ingestion is not in order; the engine stores each line as
//! it is printed). What a read meets again is skipped (`written.rs`).

use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};

use super::written::{Event, Written};
use crate::lambda::log_group;

/// Why a read failed.
pub enum Refusal {
    /// It will not work on another try (permissions, a bad request): said in the run's log.
    Permanent(String),
    /// No such group yet, throttling, the network: read again next time.
    Passing,
}

pub struct Poller {
    cursor_ms: i64,
    late_ms: i64,
}

impl Poller {
    /// Reads from `from_ms` on, trailing the newest event by `late`. A margin this wide is
    /// read again on every poll: a function printing 50,000 lines a second made a
    /// one-second margin re-read every line about ten times, so it is short where the
    /// events arrive in order.
    pub fn new(from_ms: i64, late: Duration) -> Self {
        Self {
            cursor_ms: from_ms,
            late_ms: late.as_millis() as i64,
        }
    }

    /// Reads every event from the cursor on, writing the new ones.
    pub async fn read(
        &mut self,
        logs: &aws_sdk_cloudwatchlogs::Client,
        group: &str,
        written: &mut Written,
    ) -> Result<(), Refusal> {
        let mut token: Option<String> = None;
        let start = self.cursor_ms.max(0);
        loop {
            let page = logs
                .filter_log_events()
                .log_group_name(group)
                .start_time(start)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| refusal(&e))?;
            for event in page.events() {
                written.polled(Event {
                    id: event.event_id(),
                    stream: event.log_stream_name().unwrap_or_default(),
                    time_ms: event.timestamp(),
                    message: event.message().unwrap_or_default(),
                });
            }
            token = page.next_token().map(str::to_string);
            if !page.events().is_empty() {
                written.log.soon();
            }
            if token.is_none() {
                if let Some(newest) = written.newest_ms {
                    self.cursor_ms = self.cursor_ms.max(newest.saturating_sub(self.late_ms));
                }
                written.seen.forget_before(self.cursor_ms);
                return Ok(());
            }
        }
    }
}

fn refusal<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(e: &SdkError<E, R>) -> Refusal {
    let passing = match e.as_service_error() {
        Some(s) => matches!(s.code(), Some("ResourceNotFoundException" | "ThrottlingException")),
        // No answer at all (the network, a timeout): try again; an answer the SDK could
        // not read will not read better next time.
        None => !matches!(e, SdkError::ResponseError(_)),
    };
    match passing {
        true => Refusal::Passing,
        false => Refusal::Permanent(log_group::describe("FilterLogEvents", e).to_string()),
    }
}
