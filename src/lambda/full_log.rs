//! The whole log of one invocation, from CloudWatch Logs, for when Lambda's 4 KB tail was
//! cut: find this request's START and REPORT lines in the function's log group, then read
//! everything between them in that log stream. Logs reach CloudWatch within seconds, so the
//! search is repeated for a while.

use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata};

const ARRIVAL: Duration = Duration::from_secs(15);

/// The invocation's log lines, START to REPORT; the error says why they could not be read.
pub async fn fetch(
    logs: &aws_sdk_cloudwatchlogs::Client,
    function: &str,
    request_id: &str,
    since_epoch_ms: i64,
) -> Result<Vec<String>, String> {
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
            .map_err(|e| describe(&e))?;
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
        if waited.elapsed() > ARRIVAL {
            return Err(format!(
                "this request's log did not reach {group} within {} s",
                ARRIVAL.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
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
        for event in page.map_err(|e| describe(&e))?.events() {
            let message = event.message().unwrap_or_default().trim_end_matches(['\n', '\r']);
            inside |= message.starts_with(&start_marker);
            if inside {
                lines.push(message.to_string());
            }
            if message.starts_with(&report_marker) {
                return Ok(lines);
            }
        }
    }
    Ok(lines)
}

fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: &aws_sdk_cloudwatchlogs::error::SdkError<E, R>,
) -> String {
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("Error"),
            service.message().unwrap_or_default()
        ),
        None => DisplayErrorContext(error).to_string(),
    }
}
