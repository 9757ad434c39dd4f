//! Following a custom-code run's function log while the Invoke is in flight: the run owns
//! its function, so every line of `/aws/lambda/{function}` is the run's. Polls
//! FilterLogEvents (every 100 ms on the engine or another local endpoint, every second on
//! AWS, kind to CloudWatch's quota), dedupes by event id and writes each line into the run's log with
//! its print time. StartLiveTail is not used yet: polling is what this runner does.
//!
//! When the Invoke returns, the follower reads on until this request's REPORT line (within
//! a bound), so the run's log has every printed line once, in print order; when it cannot,
//! the caller falls back to Lambda's 4 KB tail.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use tokio::sync::watch;

use crate::queue::logs::RunLog;

/// How to follow on this target.
#[derive(Debug, Clone, Copy)]
pub struct FollowPace {
    /// Between two polls.
    pub interval: Duration,
    /// How long to wait for the REPORT line once Lambda has answered.
    pub report_wait: Duration,
    /// Each read starts again this long before the newest event seen, for events that
    /// reach the group after newer ones (CloudWatch's ingestion is not in order; the
    /// engine stores each line as it is printed). What it reads twice is skipped by id, but
    /// read: a function printing 50,000 lines a second made a one-second margin re-read
    /// every line about ten times.
    pub late: Duration,
}

impl FollowPace {
    pub const LOCAL: Self = Self {
        interval: Duration::from_millis(100),
        report_wait: Duration::from_secs(2),
        late: Duration::from_millis(50),
    };
    pub const AWS: Self = Self {
        interval: Duration::from_secs(1),
        report_wait: Duration::from_secs(10),
        late: Duration::from_secs(1),
    };
}

/// How the follow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// Every line up to this request's REPORT is in the run's log.
    Complete,
    /// Some lines (maybe none) are in the run's log; the last one written.
    Incomplete { last: Option<String> },
}

/// A follower running beside the Invoke.
pub struct Follower {
    until: watch::Sender<Until>,
    task: tokio::task::JoinHandle<Followed>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Until {
    /// The Invoke is in flight.
    Running,
    /// Lambda answered with this request id: read until its REPORT line.
    Report(String),
    /// No answer to wait for: one last read, then stop.
    Now,
}

impl Follower {
    /// Starts following `function`'s log group from `since_ms` (with slack for clocks).
    pub fn start(
        logs: aws_sdk_cloudwatchlogs::Client,
        log: RunLog,
        function: &str,
        since_ms: i64,
        pace: FollowPace,
    ) -> Self {
        let (until, watching) = watch::channel(Until::Running);
        let group = format!("/aws/lambda/{function}");
        let task = tokio::spawn(follow(logs, log, group, since_ms, pace, watching));
        Self { until, task }
    }

    /// Stops at once, reading nothing more: the run is no longer this worker's.
    pub fn abandon(self) {
        self.task.abort();
    }

    /// Lambda answered (with this request id, when it gave one): reads on until the
    /// request's REPORT line or the bound, and says how complete the log is.
    pub async fn finish(self, request_id: Option<&str>) -> Followed {
        let until = request_id.map_or(Until::Now, |id| Until::Report(id.to_string()));
        let _ = self.until.send(until);
        self.task.await.unwrap_or(Followed::Incomplete { last: None })
    }
}

async fn follow(
    logs: aws_sdk_cloudwatchlogs::Client,
    log: RunLog,
    group: String,
    since_ms: i64,
    pace: FollowPace,
    mut until: watch::Receiver<Until>,
) -> Followed {
    log.info("following the function's log live (CloudWatch Logs FilterLogEvents polling; StartLiveTail is not used)");
    let mut reader = Reader {
        seen: HashMap::new(),
        late_ms: pace.late.as_millis() as i64,
        // Events are read again from a little before the newest one seen (late arrivals),
        // and the ones already written are skipped by id.
        cursor_ms: since_ms - 1_000,
        newest_ms: i64::MIN,
        last: None,
        reports: Vec::new(),
        log,
    };
    let mut report_deadline = None;
    loop {
        let target = until.borrow().clone();
        if let (Until::Report(_), None) = (&target, report_deadline) {
            report_deadline = Some(tokio::time::Instant::now() + pace.report_wait);
        }
        let read = reader.read(&logs, &group).await;
        match read {
            Ok(()) => {}
            Err(Refusal::Permanent(why)) => {
                reader.log.warn(format!(
                    "the function's output will come only with Lambda's answer: {why}"
                ));
                return Followed::Incomplete { last: reader.last };
            }
            // No such group yet, or a passing fault: read again next time.
            Err(Refusal::Passing) => {}
        }
        match &target {
            Until::Report(id) => {
                let report = format!("REPORT RequestId: {id}");
                if reader.saw_report(&report) {
                    return Followed::Complete;
                }
                if report_deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    return Followed::Incomplete { last: reader.last };
                }
            }
            Until::Now => return Followed::Incomplete { last: reader.last },
            Until::Running => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(pace.interval) => {}
            changed = until.changed(), if matches!(target, Until::Running) => {
                // The run's task is gone without finishing the follow: stop with it.
                if changed.is_err() {
                    return Followed::Incomplete { last: reader.last };
                }
            }
        }
    }
}

enum Refusal {
    Permanent(String),
    Passing,
}

struct Reader {
    /// The ids of the events written at or after the cursor, with their times.
    seen: HashMap<String, i64>,
    cursor_ms: i64,
    late_ms: i64,
    newest_ms: i64,
    last: Option<String>,
    /// The REPORT lines written so far.
    reports: Vec<String>,
    log: RunLog,
}

impl Reader {
    fn saw_report(&self, report: &str) -> bool {
        self.reports.iter().any(|m| m.starts_with(report))
    }

    /// Reads every event from the cursor on, writing the new ones.
    async fn read(&mut self, logs: &aws_sdk_cloudwatchlogs::Client, group: &str) -> Result<(), Refusal> {
        let mut token: Option<String> = None;
        let start = self.cursor_ms.max(0);
        loop {
            let page = logs
                .filter_log_events()
                .log_group_name(group)
                .start_time(start)
                .set_next_token(token.clone())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    return Err(match e.as_service_error() {
                        Some(s) if s.is_resource_not_found_exception() => Refusal::Passing,
                        Some(s) if s.code() == Some("ThrottlingException") => Refusal::Passing,
                        Some(s) => Refusal::Permanent(format!(
                            "FilterLogEvents: {}: {}",
                            s.code().unwrap_or("Error"),
                            s.message().unwrap_or_default()
                        )),
                        None if matches!(e, aws_sdk_cloudwatchlogs::error::SdkError::ResponseError(_)) => {
                            Refusal::Permanent(format!(
                                "FilterLogEvents: {}",
                                aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e)
                            ))
                        }
                        None => Refusal::Passing,
                    });
                }
            };
            for event in page.events() {
                let id = event.event_id().unwrap_or_default();
                let time_ms = event.timestamp();
                if !id.is_empty() && self.seen.insert(id.to_string(), time_ms.unwrap_or(i64::MAX)).is_some() {
                    continue;
                }
                if let Some(at) = time_ms {
                    self.newest_ms = self.newest_ms.max(at);
                }
                let message = event.message().unwrap_or_default().trim_end_matches(['\n', '\r']);
                self.log
                    .function_line(time_ms.and_then(chrono::DateTime::from_timestamp_millis), message);
                self.last = Some(message.to_string());
                if message.starts_with("REPORT RequestId: ") {
                    self.reports.push(message.to_string());
                }
            }
            token = page.next_token().map(str::to_string);
            if !page.events().is_empty() {
                self.log.soon();
            }
            if token.is_none() {
                // The next read starts a margin before the newest event; only the ids it
                // may meet again are kept.
                self.cursor_ms = self.cursor_ms.max(self.newest_ms.saturating_sub(self.late_ms));
                let cursor = self.cursor_ms;
                self.seen.retain(|_, at| *at >= cursor);
                return Ok(());
            }
        }
    }
}
