//! The whole log of one invocation, from CloudWatch Logs, for when Lambda's 4 KB tail was
//! cut: find this request's START and REPORT lines in the function's log group, then read
//! everything between them in that log stream. Logs reach CloudWatch within seconds, so the
//! search is repeated for a while.

use std::time::{Duration, Instant};

use super::log_group::{LogsCallError, describe};

/// How long to look for a request's lines, and how often.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub within: Duration,
    pub every: Duration,
}

impl Arrival {
    /// CloudWatch Logs on AWS: logs arrive within seconds.
    pub const AWS: Self = Self {
        within: Duration::from_secs(15),
        every: Duration::from_secs(1),
    };
    /// The engine (or another local endpoint) has them as they are printed.
    pub const LOCAL: Self = Self {
        within: Duration::from_secs(2),
        every: Duration::from_millis(100),
    };
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
pub async fn fetch(
    logs: &aws_sdk_cloudwatchlogs::Client,
    function: &str,
    request_id: &str,
    since_epoch_ms: i64,
    arrival: Arrival,
) -> Result<Vec<PrintedLine>, FullLogError> {
    let group = format!("/aws/lambda/{function}");
    let start_marker = format!("START RequestId: {request_id}");
    let report_marker = format!("REPORT RequestId: {request_id}");
    let waited = Instant::now();
    let (stream, from, to) = loop {
        let found = logs
            .filter_log_events()
            .log_group_name(&group)
            .filter_pattern(format!("\"{request_id}\""))
            .start_time(since_epoch_ms)
            .send()
            .await
            .map_err(|e| describe("FilterLogEvents", &e))?;
        let find = |marker: &str| {
            found
                .events()
                .iter()
                .find(|e| e.message().is_some_and(|m| m.starts_with(marker)))
                .cloned()
        };
        if let (Some(start), Some(report)) = (find(&start_marker), find(&report_marker)) {
            let stream = start.log_stream_name().unwrap_or_default().to_string();
            break (
                stream,
                start.timestamp().unwrap_or(since_epoch_ms),
                report.timestamp().unwrap_or(i64::MAX - 1),
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
    let mut lines = Vec::new();
    let mut inside = false;
    let mut pages = logs
        .filter_log_events()
        .log_group_name(&group)
        .log_stream_names(stream)
        .start_time(from)
        .end_time(to + 1)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for event in page.map_err(|e| describe("FilterLogEvents", &e))?.events() {
            let message = event.message().unwrap_or_default().trim_end_matches(['\n', '\r']);
            inside |= message.starts_with(&start_marker);
            if inside {
                lines.push(PrintedLine {
                    time_ms: event.timestamp(),
                    message: message.to_string(),
                });
            }
            if message.starts_with(&report_marker) {
                return Ok(lines);
            }
        }
    }
    Ok(lines)
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

    fn event(at: i64, message: String) -> FilteredLogEvent {
        FilteredLogEvent::builder()
            .timestamp(at)
            .log_stream_name("2026/11/23/[$LATEST]abc")
            .message(message)
            .build()
    }

    #[tokio::test]
    async fn a_cut_tail_is_completed_from_filter_log_events() {
        // First the search for this request's START and REPORT lines...
        let search = mock!(Logs::filter_log_events)
            .match_requests(|r| r.filter_pattern().is_some())
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
        let lines = fetch(&clients.logs, "step", REQUEST, 0, Arrival::AWS).await.unwrap();
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
    async fn credentials_without_filter_log_events_say_so() {
        let denied = mock!(Logs::filter_log_events).then_http_response(|| {
            http_answer(
                400,
                &[("content-type", "application/x-amz-json-1.1")],
                r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: logs:FilterLogEvents"}"#,
            )
        });
        let clients = clients(&[&denied]).await;
        let error = fetch(&clients.logs, "step", REQUEST, 0, Arrival::AWS)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("FilterLogEvents: AccessDeniedException: User is not authorized"),
            "{error}"
        );
    }
}
