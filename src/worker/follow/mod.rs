//! Following a custom-code run's function log while the Invoke is in flight: the run owns
//! its function, so every line of `/aws/lambda/{function}` is the run's. A Live Tail
//! session (StartLiveTail) is opened before the Invoke goes out and pushes each line as
//! CloudWatch takes it; when Live Tail is refused, ends early or samples, FilterLogEvents
//! polling takes over (every 100 ms on the engine or another local endpoint, every second
//! on AWS, kind to CloudWatch's quota) and skips what is in the log already. Each line goes
//! into the run's log with its print time; the log says once which way it follows, and why.
//!
//! When the Invoke returns, the follower reads on until this request's REPORT line (within
//! a bound), so the run's log has every printed line once, in print order; when it cannot,
//! the caller falls back to Lambda's 4 KB tail.
//!
//! A durable custom-code run has no one Invoke to follow: its execution's invocations come
//! and go for as long as it lives. [`GroupReader`] reads its function's group by the same
//! polling when that run's follower of the history asks (`durable_step`).

mod live;
mod poll;
mod written;

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use self::live::{Next, Session};
use self::poll::{Poller, Refusal};
use self::written::{Event, Written};
use crate::lambda::log_group;
use crate::queue::logs::RunLog;

/// How to follow on this target.
#[derive(Debug, Clone, Copy)]
pub struct FollowPace {
    /// Between two polls.
    pub interval: Duration,
    /// How long to wait for the REPORT line once Lambda has answered.
    pub report_wait: Duration,
    /// Each poll starts again this long before the newest event seen, for events that
    /// reach the group after newer ones.
    pub late: Duration,
    /// How long the Invoke waits for a Live Tail session to start before it goes out
    /// without one (then polling follows).
    pub live_start_wait: Duration,
}

impl FollowPace {
    pub const LOCAL: Self = Self {
        interval: Duration::from_millis(100),
        report_wait: Duration::from_secs(2),
        late: Duration::from_millis(50),
        live_start_wait: Duration::from_secs(2),
    };
    pub const AWS: Self = Self {
        interval: Duration::from_secs(1),
        report_wait: Duration::from_secs(10),
        late: Duration::from_secs(1),
        live_start_wait: Duration::from_secs(5),
    };
}

/// The log group of a function the run owns.
#[derive(Debug, Clone)]
pub struct FunctionLog {
    /// `/aws/lambda/{function}`, for FilterLogEvents.
    pub group: String,
    /// What StartLiveTail takes: the group's ARN (AWS takes nothing else), or its name
    /// when the function's ARN was not given.
    pub live_tail_id: String,
}

impl FunctionLog {
    pub fn of(function: &str, function_arn: Option<&str>) -> Self {
        let group = lambda_rules::log_group_name(function);
        let live_tail_id = function_arn
            .and_then(log_group::arn_of)
            .unwrap_or_else(|| group.clone());
        Self { group, live_tail_id }
    }
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
    /// Starts following the function's log from `since_ms` (with slack for clocks):
    /// returns once a Live Tail session has started, or could not be had, so that nothing
    /// printed after the Invoke goes out is missed.
    pub async fn start(
        logs: aws_sdk_cloudwatchlogs::Client,
        log: RunLog,
        function: FunctionLog,
        since_ms: i64,
        pace: FollowPace,
    ) -> Self {
        let session = live::open(&logs, &function.live_tail_id, pace.live_start_wait).await;
        let (until, watching) = watch::channel(Until::Running);
        let follow = Follow {
            logs,
            written: Written::new(log),
            group: function.group,
            since_ms,
            pace,
            until: watching,
            report_deadline: None,
        };
        let task = tokio::spawn(follow.run(session));
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

struct Follow {
    logs: aws_sdk_cloudwatchlogs::Client,
    written: Written,
    group: String,
    since_ms: i64,
    pace: FollowPace,
    until: watch::Receiver<Until>,
    report_deadline: Option<Instant>,
}

/// What the live phase left to do.
enum AfterLive {
    Done(Followed),
    /// Poll from here on: Live Tail ended, sampled, or the end came.
    Poll,
}

impl Follow {
    async fn run(mut self, session: Result<Session, String>) -> Followed {
        let every = every(self.pace.interval);
        match session {
            Ok(session) => {
                self.written
                    .log
                    .info("following the function's log live (CloudWatch Logs StartLiveTail)");
                if let AfterLive::Done(followed) = self.live(session).await {
                    return followed;
                }
            }
            Err(why) => self.written.log.info(format!(
                "following the function's log by polling CloudWatch Logs FilterLogEvents every {every}: Live Tail could not be had ({why})"
            )),
        }
        self.poll().await
    }

    /// Writes what the session pushes until this request's REPORT line, or until the
    /// session can no longer be trusted with every line.
    async fn live(&mut self, session: Session) -> AfterLive {
        let every = every(self.pace.interval);
        let mut session = session.read();
        loop {
            let target = self.target();
            match &target {
                Until::Report(id) if self.written.has_report(id) => return AfterLive::Done(Followed::Complete),
                // One last read by polling catches what the session had not pushed yet.
                Until::Now => return AfterLive::Poll,
                _ => {}
            }
            let deadline = self.report_deadline;
            tokio::select! {
                next = session.next() => match next {
                    Next::Lines(events) => {
                        for event in &events {
                            self.written.live(Event {
                                id: None,
                                stream: event.log_stream_name().unwrap_or_default(),
                                time_ms: event.timestamp(),
                                message: event.message().unwrap_or_default(),
                            });
                        }
                        self.written.log.soon();
                    }
                    Next::Sampled => {
                        self.written.log.info(format!(
                            "Live Tail sampled the function's output (over 500 lines a second); reading every line by polling FilterLogEvents every {every} instead"
                        ));
                        return AfterLive::Poll;
                    }
                    Next::Ended(why) => {
                        self.written.log.warn(format!(
                            "the Live Tail session ended early ({why}); following on by polling FilterLogEvents every {every}"
                        ));
                        return AfterLive::Poll;
                    }
                },
                changed = self.until.changed(), if matches!(target, Until::Running) => {
                    // The run's task is gone without finishing the follow: stop with it.
                    if changed.is_err() {
                        return AfterLive::Done(self.incomplete());
                    }
                }
                // No REPORT line pushed in time: a last read by polling decides.
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    return AfterLive::Poll;
                }
            }
        }
    }

    /// Reads by FilterLogEvents every interval, from a little before the newest line
    /// written (or the Invoke's start), until the end.
    async fn poll(&mut self) -> Followed {
        let late = self.pace.late;
        let from = self
            .written
            .newest_ms
            .map_or(self.since_ms - 1_000, |newest| newest - late.as_millis() as i64);
        let mut poller = Poller::new(from, late);
        loop {
            let target = self.target();
            match poller.read(&self.logs, &self.group, &mut self.written).await {
                Ok(()) => {}
                Err(Refusal::Permanent(why)) => {
                    self.written.log.warn(format!(
                        "the function's output will come only with Lambda's answer: {why}"
                    ));
                    return self.incomplete();
                }
                // No such group yet, or a passing fault: read again next time.
                Err(Refusal::Passing) => {}
            }
            match &target {
                Until::Report(id) => {
                    if self.written.has_report(id) {
                        return Followed::Complete;
                    }
                    if self.report_deadline.is_some_and(|d| Instant::now() >= d) {
                        return self.incomplete();
                    }
                }
                Until::Now => return self.incomplete(),
                Until::Running => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(self.pace.interval) => {}
                changed = self.until.changed(), if matches!(target, Until::Running) => {
                    if changed.is_err() {
                        return self.incomplete();
                    }
                }
            }
        }
    }

    /// What the worker asks for now; the REPORT line's bound starts when Lambda answers.
    fn target(&mut self) -> Until {
        let target = self.until.borrow().clone();
        if let (Until::Report(_), None) = (&target, self.report_deadline) {
            self.report_deadline = Some(Instant::now() + self.pace.report_wait);
        }
        target
    }

    fn incomplete(&self) -> Followed {
        Followed::Incomplete {
            last: self.written.last.clone(),
        }
    }
}

/// A function's log group read by FilterLogEvents when the caller asks, each line once:
/// for a durable custom-code run, whose function the run owns while its execution's
/// invocations come and go (read whenever its history moved, and once at its end).
pub struct GroupReader {
    logs: aws_sdk_cloudwatchlogs::Client,
    group: String,
    poller: Poller,
    written: Written,
}

impl GroupReader {
    /// Reads from `since_ms` on, trailing the newest line by `late` on each read.
    pub fn new(
        logs: aws_sdk_cloudwatchlogs::Client,
        log: RunLog,
        function: &FunctionLog,
        since_ms: i64,
        late: Duration,
    ) -> Self {
        Self {
            logs,
            group: function.group.clone(),
            poller: Poller::new(since_ms, late),
            written: Written::new(log),
        }
    }

    /// Writes the lines not written yet; Err with the reason when no read will work (a
    /// missing group or a passing fault is read again next time).
    pub async fn read(&mut self) -> Result<(), String> {
        match self.poller.read(&self.logs, &self.group, &mut self.written).await {
            Ok(()) | Err(Refusal::Passing) => Ok(()),
            Err(Refusal::Permanent(why)) => Err(why),
        }
    }
}

/// The interval as the log says it.
fn every(interval: Duration) -> String {
    if interval < Duration::from_secs(1) {
        format!("{} ms", interval.as_millis())
    } else {
        format!("{} s", interval.as_secs())
    }
}
