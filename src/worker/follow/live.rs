//! Following by a CloudWatch Logs Live Tail session (StartLiveTail): CloudWatch pushes the
//! group's new events about once a second, with no poll per run. A session is refused
//! (no `logs:StartLiveTail`, `LimitExceededException` past the account's concurrent
//! sessions, an endpoint without it), can end early (`SessionStreamingException`, the
//! three-hour limit, a cut connection, silence), and samples its updates past 500 events
//! a second: each is the caller's cue to poll instead.

use std::time::Duration;

use aws_sdk_cloudwatchlogs::config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatchlogs::primitives::event_stream::EventReceiver;
use aws_sdk_cloudwatchlogs::types::error::StartLiveTailResponseStreamError;
use aws_sdk_cloudwatchlogs::types::{LiveTailSessionLogEvent, StartLiveTailResponseStream};

use crate::lambda::log_group;

/// CloudWatch sends an update every second, empty when nothing arrived: this long without
/// one, the session is taken for dead.
const SILENCE: Duration = Duration::from_secs(10);

pub struct Session {
    stream: EventReceiver<StartLiveTailResponseStream, StartLiveTailResponseStreamError>,
}

/// What the session said next.
pub enum Next {
    /// The events of one update, complete.
    Lines(Vec<LiveTailSessionLogEvent>),
    /// An update holding only a sample of what arrived: its lines must be read otherwise.
    Sampled,
    /// The session is over; why.
    Ended(String),
}

/// Starts a session on one log group (an ARN on AWS) and waits, up to `wait`, for its
/// `sessionStart`: lines printed after that reach the session. Err says why it cannot be
/// had.
pub async fn open(logs: &aws_sdk_cloudwatchlogs::Client, log_group: &str, wait: Duration) -> Result<Session, String> {
    let opened = async {
        let output = logs
            .start_live_tail()
            .log_group_identifiers(log_group)
            .customize()
            // The client's operation timeout is for calls that end; a session lasts as long
            // as the function runs (its own silence check ends a dead one). No retries:
            // the SDK retries LimitExceededException as throttling, with backoff, but a
            // session slot does not free up in seconds, and polling can start at once.
            .config_override(
                aws_sdk_cloudwatchlogs::config::Builder::new()
                    .timeout_config(TimeoutConfig::disabled())
                    .retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| log_group::describe("StartLiveTail", &e).to_string())?;
        let mut session = Session {
            stream: output.response_stream,
        };
        match session.stream.recv().await {
            Ok(Some(StartLiveTailResponseStream::SessionStart(_))) => Ok(session),
            Ok(Some(other)) => Err(format!(
                "StartLiveTail: the session began with {other:?}, not sessionStart"
            )),
            Ok(None) => Err("StartLiveTail: the session ended before it started".to_string()),
            Err(e) => Err(log_group::describe("StartLiveTail", &e).to_string()),
        }
    };
    tokio::time::timeout(wait, opened)
        .await
        .unwrap_or_else(|_| Err(format!("StartLiveTail: no session within {} s", wait.as_secs())))
}

impl Session {
    /// Reads the session in a task of its own, so that waiting for its next update can be
    /// given up (to look at the Invoke) without losing part of an update; the task ends,
    /// and the session with it, when the reader is dropped.
    pub fn read(mut self) -> Reader {
        let (send, updates) = tokio::sync::mpsc::channel(16);
        let task = tokio::spawn(async move {
            loop {
                let next = self.next().await;
                let ended = matches!(next, Next::Ended(_));
                if send.send(next).await.is_err() || ended {
                    return;
                }
            }
        });
        Reader { updates, task }
    }

    /// The next update with lines, or why there will be none.
    async fn next(&mut self) -> Next {
        loop {
            let received = match tokio::time::timeout(SILENCE, self.stream.recv()).await {
                Err(_) => return Next::Ended(format!("no update for {} s", SILENCE.as_secs())),
                Ok(received) => received,
            };
            match received {
                Ok(Some(StartLiveTailResponseStream::SessionUpdate(update))) => {
                    if update.session_metadata().is_some_and(|m| m.sampled()) {
                        return Next::Sampled;
                    }
                    if !update.session_results().is_empty() {
                        return Next::Lines(update.session_results().to_vec());
                    }
                }
                // A repeated start or an event type newer than this SDK: nothing to write.
                Ok(Some(_)) => {}
                Ok(None) => return Next::Ended("the session's stream ended".to_string()),
                Err(e) => return Next::Ended(log_group::describe("the session", &e).to_string()),
            }
        }
    }
}

/// The updates of a session read in its own task.
pub struct Reader {
    updates: tokio::sync::mpsc::Receiver<Next>,
    task: tokio::task::JoinHandle<()>,
}

impl Reader {
    /// The next update with lines, or why there will be none; cancel-safe.
    pub async fn next(&mut self) -> Next {
        self.updates
            .recv()
            .await
            .unwrap_or_else(|| Next::Ended("the session's reader stopped".to_string()))
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Hangs up at once rather than at the next update.
        self.task.abort();
    }
}
