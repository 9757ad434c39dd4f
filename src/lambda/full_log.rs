//! The log of exactly one invocation, from CloudWatch Logs: find this request's START and
//! REPORT lines in the function's log group within the invocation's time window (the lines
//! naming the request), then read that one stream between them. When the lines naming the
//! request are the whole log the caller already has (a function that printed nothing), the
//! search alone answers. Logs reach CloudWatch within seconds, so the search is repeated
//! for a while. Both reads name a time window, so they cost the same however much history
//! the group holds.

use std::time::{Duration, Instant};

use super::log_group::LogsCallError;
use super::log_source::{Filter, FoundEvent, LogSource};

/// How long to look for a request's lines, how often, and how far apart the clocks of this
/// host and the one stamping the lines may be.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub within: Duration,
    pub every: Duration,
    pub skew_ms: i64,
}

impl Arrival {
    /// CloudWatch Logs on AWS: logs arrive within seconds; five minutes of clock skew.
    pub const AWS: Self = Self {
        within: Duration::from_secs(15),
        every: Duration::from_secs(1),
        skew_ms: 300_000,
    };
    /// The engine has them as they are printed, by this host's clock: the margin only
    /// covers the millisecond rounding of the two ends.
    pub const LOCAL: Self = Self {
        within: Duration::from_secs(2),
        every: Duration::from_millis(100),
        skew_ms: 50,
    };
    /// Another Lambda-compatible endpoint (LocalStack, moto) has them at once, by a clock
    /// that may be another machine's.
    pub const ENDPOINT: Self = Self {
        skew_ms: 300_000,
        ..Self::LOCAL
    };
}

/// The invocation whose lines are wanted: the function, the request, and when it was sent
/// and answered (epoch milliseconds, this host's clock).
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub function: &'a str,
    pub request_id: &'a str,
    pub sent_ms: i64,
    pub answered_ms: i64,
}

/// Why the whole log could not be had; said in the run's log.
#[derive(Debug, thiserror::Error)]
pub enum FullLogError {
    #[error(transparent)]
    Call(#[from] LogsCallError),
    #[error("this request's log did not reach {group} within {seconds} s")]
    NotArrived { group: String, seconds: u64 },
    #[error("Lambda gave no request id")]
    NoRequestId,
}

/// One line the function printed, with the millisecond it was printed (its event time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedLine {
    pub time_ms: Option<i64>,
    pub message: String,
}

impl PrintedLine {
    /// The print time as a timestamp, when CloudWatch gave one.
    pub fn time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.time_ms.and_then(chrono::DateTime::from_timestamp_millis)
    }
}

/// The invocation's log lines, START to REPORT; the error says why they could not be read.
/// `whole`: the log as the caller has it when it is known to be whole (the 4 KB tail held
/// the START line), wanted again only for its print times.
pub async fn fetch(
    logs: LogSource<'_>,
    invocation: Invocation<'_>,
    whole: Option<&[String]>,
    arrival: Arrival,
) -> Result<Vec<PrintedLine>, FullLogError> {
    let Invocation {
        function, request_id, ..
    } = invocation;
    let group = lambda_rules::log_group_name(function);
    let start_marker = format!("START RequestId: {request_id}");
    let report_marker = format!("REPORT RequestId: {request_id}");
    let (since, until) = (
        invocation.sent_ms - arrival.skew_ms,
        invocation.answered_ms + arrival.skew_ms,
    );
    let pattern = format!("\"{request_id}\"");
    // Where the source knows the request's stream, the search reads that one stream.
    let known_stream = logs.stream_of(&group, request_id);
    let waited = Instant::now();
    let (stream, from, to) = loop {
        let found = logs
            .filter(&Filter {
                group: &group,
                stream: known_stream.as_deref(),
                pattern: Some(&pattern),
                start_time: since,
                end_time: until,
            })
            .await?;
        let find = |marker: &str| found.iter().position(|e| e.message.starts_with(marker));
        if let (Some(start), Some(report)) = (find(&start_marker), find(&report_marker))
            && start <= report
        {
            let named = &found[start..=report];
            if let Some(whole) = whole
                && named.len() == whole.len()
                && named
                    .iter()
                    .zip(whole)
                    .all(|(e, line)| message(&e.message) == line.as_str())
            {
                return Ok(named.iter().map(printed).collect());
            }
            let (start, report) = (&found[start], &found[report]);
            break (
                start.stream.clone(),
                start.timestamp.unwrap_or(since),
                report.timestamp.unwrap_or(until),
            );
        }
        if waited.elapsed() > arrival.within {
            return Err(FullLogError::NotArrived {
                group,
                seconds: arrival.within.as_secs(),
            });
        }
        tokio::time::sleep(arrival.every).await;
    };
    let events = logs
        .filter(&Filter {
            group: &group,
            stream: Some(&stream),
            pattern: None,
            start_time: from,
            end_time: to + 1,
        })
        .await?;
    let mut lines = Vec::new();
    let mut inside = false;
    for event in &events {
        let line = printed(event);
        inside |= line.message.starts_with(&start_marker);
        let last = line.message.starts_with(&report_marker);
        if inside {
            lines.push(line);
        }
        if last {
            break;
        }
    }
    Ok(lines)
}

/// An event's message as a line of the run's log.
fn message(message: &str) -> &str {
    message.trim_end_matches(['\n', '\r'])
}

fn printed(event: &FoundEvent) -> PrintedLine {
    PrintedLine {
        time_ms: event.timestamp,
        message: message(&event.message).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatchlogs::Client as Logs;
    use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsOutput;
    use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::lambda::mock::{clients, http_answer};

    const REQUEST: &str = "8f5b1b4e-0c4b-4f7e-9d1a-6a0c3c1f2e77";

    /// Sent at 1,000,000 ms, answered 50 ms later.
    const INVOCATION: Invocation = Invocation {
        function: "step",
        request_id: REQUEST,
        sent_ms: 1_000_000,
        answered_ms: 1_000_050,
    };

    fn event(at: i64, message: String) -> FilteredLogEvent {
        FilteredLogEvent::builder()
            .timestamp(at)
            .log_stream_name("2026/11/23/[$LATEST]abc")
            .message(message)
            .build()
    }

    #[tokio::test]
    async fn a_cut_tail_is_completed_from_filter_log_events() {
        // First the search for this request's START and REPORT lines, in the invocation's
        // window give or take the clock skew...
        let search = mock!(Logs::filter_log_events)
            .match_requests(|r| {
                r.filter_pattern().is_some()
                    && r.start_time() == Some(1_000_000 - 300_000)
                    && r.end_time() == Some(1_000_050 + 300_000)
            })
            .then_output(|| {
                FilterLogEventsOutput::builder()
                    .events(event(10, format!("START RequestId: {REQUEST} Version: $LATEST\n")))
                    .events(event(99, format!("REPORT RequestId: {REQUEST}\tDuration: 2 ms\n")))
                    .build()
            });
        // ...then every line of that stream between them, over two pages.
        let read = mock!(Logs::filter_log_events)
            .match_requests(|r| {
                r.log_stream_names().len() == 1 && r.start_time() == Some(10) && r.end_time() == Some(100)
            })
            .sequence()
            .output(|| {
                FilterLogEventsOutput::builder()
                    .events(event(9, "END RequestId: an-earlier-request\n".into()))
                    .events(event(10, format!("START RequestId: {REQUEST} Version: $LATEST\n")))
                    .events(event(11, "line 0\n".into()))
                    .next_token("page-2")
                    .build()
            })
            .output(|| {
                FilterLogEventsOutput::builder()
                    .events(event(50, "line 1\n".into()))
                    .events(event(99, format!("REPORT RequestId: {REQUEST}\tDuration: 2 ms\n")))
                    .build()
            })
            .build();
        let clients = clients(&[&search, &read]).await;
        let lines = fetch(LogSource::Api(&clients.logs), INVOCATION, None, Arrival::AWS)
            .await
            .unwrap();
        let messages: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
        let times: Vec<Option<i64>> = lines.iter().map(|l| l.time_ms).collect();
        assert_eq!(times, [Some(10), Some(11), Some(50), Some(99)]);
        assert_eq!(
            messages,
            [
                format!("START RequestId: {REQUEST} Version: $LATEST").as_str(),
                "line 0",
                "line 1",
                format!("REPORT RequestId: {REQUEST}\tDuration: 2 ms").as_str(),
            ]
        );
        assert_eq!((search.num_calls(), read.num_calls()), (1, 2));
    }

    #[tokio::test]
    async fn a_whole_log_of_only_the_request_s_own_lines_takes_the_search_alone() {
        let named = [
            format!("START RequestId: {REQUEST} Version: $LATEST"),
            format!("END RequestId: {REQUEST}"),
            format!("REPORT RequestId: {REQUEST}\tDuration: 2 ms"),
        ];
        let answer = named.clone();
        let search = mock!(Logs::filter_log_events)
            .match_requests(|r| r.filter_pattern().is_some())
            .then_output(move || {
                let mut page = FilterLogEventsOutput::builder();
                for (i, line) in answer.iter().enumerate() {
                    page = page.events(event(10 + i as i64, format!("{line}\n")));
                }
                page.build()
            });
        let read = mock!(Logs::filter_log_events)
            .match_requests(|r| r.filter_pattern().is_none())
            .then_output(|| FilterLogEventsOutput::builder().build());
        let timed = clients(&[&search, &read]).await;
        let lines = fetch(LogSource::Api(&timed.logs), INVOCATION, Some(&named), Arrival::LOCAL)
            .await
            .unwrap();
        let times: Vec<Option<i64>> = lines.iter().map(|l| l.time_ms).collect();
        assert_eq!(times, [Some(10), Some(11), Some(12)]);
        assert_eq!((search.num_calls(), read.num_calls()), (1, 0));

        // A whole log with a line not naming the request reads the stream for it.
        let printed = [named[0].clone(), "hello".into(), named[1].clone(), named[2].clone()];
        let read_too = clients(&[&search, &read]).await;
        let _ = fetch(
            LogSource::Api(&read_too.logs),
            INVOCATION,
            Some(&printed),
            Arrival::LOCAL,
        )
        .await;
        assert_eq!((search.num_calls(), read.num_calls()), (2, 1));
    }

    #[tokio::test]
    async fn credentials_without_filter_log_events_say_so() {
        let denied = mock!(Logs::filter_log_events).then_http_response(|| {
            http_answer(
                400,
                &[("content-type", "application/x-amz-json-1.1")],
                r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: logs:FilterLogEvents"}"#,
            )
        });
        let clients = clients(&[&denied]).await;
        let error = fetch(LogSource::Api(&clients.logs), INVOCATION, None, Arrival::AWS)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("FilterLogEvents: AccessDeniedException: User is not authorized"),
            "{error}"
        );
    }
}
