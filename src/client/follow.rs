//! Following a run to its end over the service's SSE stream, as `run` and `logs --follow`
//! do: every line printed once, in order, across dropped connections (the stream resumes
//! after the last seq printed, with `Last-Event-ID`), then the final run. Ctrl-C or
//! SIGTERM stops following and says how to attach again, or cancels the run when asked.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::exit::Outcome;
use super::output::{Mode, Printer};
use super::{Client, Failure, LogLine, RunView, report};

/// How long the stream may stay lost (service restarting, network down) before giving up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Follows run `id` to its end and prints it; answers the exit status.
pub async fn watch(client: &Client, id: &str, printer: &mut Printer, cancel_on_interrupt: bool) -> Outcome {
    let mut term = signal(SignalKind::terminate()).ok();
    let mut cancel_sent = false;
    let ended = {
        let follow = follow(client, id, printer);
        tokio::pin!(follow);
        loop {
            tokio::select! {
                ended = &mut follow => break Some(ended),
                _ = interrupted(&mut term) => {
                    if !cancel_on_interrupt || cancel_sent {
                        break None;
                    }
                    cancel_sent = true;
                    eprintln!("cancelling run {id} (interrupt again to stop waiting)");
                    match client.cancel(id).await {
                        Ok(_) => {}
                        // Already finished: the stream shows how it ended.
                        Err(Failure::Refused { status: 409, .. }) => {}
                        Err(e) => eprintln!("error: {e}"),
                    }
                }
            }
        }
    };
    match ended {
        None => {
            eprintln!("stopped following run {id}; it goes on. Follow it again with: lambda-steps logs {id} --follow");
            Outcome::Interrupted
        }
        Some(Ok((run, view))) => {
            printer.finished(&run, &view);
            view.outcome().unwrap_or(Outcome::Refused)
        }
        Some(Err(failure)) => report(&failure),
    }
}

/// Ctrl-C, or SIGTERM (what an orchestrator sends when it kills a step).
async fn interrupted(term: &mut Option<Signal>) {
    match term {
        Some(term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Prints the log of run `id` from the start until the service says it ended; answers
/// the finished run.
pub async fn follow(client: &Client, id: &str, printer: &mut Printer) -> Result<(Value, RunView), Failure> {
    let unreadable = |why: String| Failure::Unreadable {
        url: client.base().to_string(),
        why,
    };
    let mut last = 0;
    let mut shown_status = String::new();
    let mut lost_since: Option<Instant> = None;
    let mut backoff = Duration::from_millis(200);
    loop {
        match client.events(id, last).await {
            Ok(stream) => {
                lost_since = None;
                futures::pin_mut!(stream);
                // The stream ends (or errs) when the connection drops: resume after `last`.
                while let Some(Ok(event)) = stream.next().await {
                    match event.event.as_str() {
                        "log" => {
                            let raw: Value = serde_json::from_str(&event.data)
                                .map_err(|e| unreadable(format!("a log event is not JSON: {e}")))?;
                            let line: LogLine = serde_json::from_value(raw.clone())
                                .map_err(|e| unreadable(format!("a log event is not a log entry: {e}")))?;
                            if line.seq <= last {
                                continue;
                            }
                            last = line.seq;
                            backoff = Duration::from_millis(200);
                            printer.log(&line, &raw);
                        }
                        "status" => {
                            let data: Value = serde_json::from_str(&event.data).unwrap_or_default();
                            let status = data["status"].as_str().unwrap_or_default();
                            if status != shown_status {
                                shown_status = status.to_string();
                                printer.status(status);
                            }
                        }
                        "end" => {
                            let run = client.run(id).await?;
                            let view = RunView::read(&run).map_err(|e| unreadable(e.to_string()))?;
                            return Ok((run, view));
                        }
                        _ => {}
                    }
                }
            }
            Err(failure) if failure.is_transient() => {
                let since = *lost_since.get_or_insert_with(Instant::now);
                if since.elapsed() > GIVE_UP_AFTER {
                    return Err(failure);
                }
            }
            Err(failure) => return Err(failure),
        }
        if printer.mode() == Mode::Text && lost_since.is_none() {
            eprintln!("(the stream of run {id} dropped; resuming after line {last})");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
