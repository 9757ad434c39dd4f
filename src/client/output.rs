//! What the client commands print: the log as it arrives (runner lines dimmed on a
//! terminal), JSON lines for programs (`--json`), or only the result (`--quiet`).
//! stdout carries the log or the result; notices and errors go to stderr.

use std::io::Write;

use anstream::ColorChoice;
use serde_json::{Value, json};

use super::rundeck::RundeckData;
use super::{LogLine, RunView};

/// How a command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The log's lines, and a summary on stderr.
    Text,
    /// One JSON object a line: `{"event": "submitted" | "log" | "status" | "finished", ...}`.
    Json,
    /// Only the result payload (stdout), or the error (stderr).
    Quiet,
}

impl Mode {
    pub fn of(json: bool, quiet: bool) -> Self {
        match (json, quiet) {
            (true, _) => Self::Json,
            (_, true) => Self::Quiet,
            _ => Self::Text,
        }
    }
}

pub struct Printer {
    mode: Mode,
    /// Whether stdout takes colour: a terminal, without `NO_COLOR` (anstream decides as
    /// every anstream-based tool does: `NO_COLOR`, `CLICOLOR_FORCE`, `TERM=dumb`).
    colour: bool,
    /// Rundeck's data lines, when asked for.
    pub rundeck: Option<RundeckData>,
}

impl Printer {
    pub fn new(mode: Mode) -> Self {
        let colour = !matches!(anstream::AutoStream::choice(&std::io::stdout()), ColorChoice::Never);
        Self {
            mode,
            colour,
            rundeck: None,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn json_line(&self, value: Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
    }

    /// The run was accepted.
    pub fn submitted(&self, run: &Value, view: &RunView) {
        match self.mode {
            Mode::Json => self.json_line(json!({"event": "submitted", "run": run})),
            Mode::Text => eprintln!("run {} submitted to project {}", view.id, view.project),
            Mode::Quiet => {}
        }
    }

    /// One entry of the log, as the service sent it.
    pub fn log(&mut self, line: &LogLine, raw: &Value) {
        if let Some(data) = self.rundeck.as_mut() {
            data.observe(line);
        }
        match self.mode {
            Mode::Json => self.json_line(json!({"event": "log", "entry": raw})),
            Mode::Text => {
                let _ = writeln!(std::io::stdout().lock(), "{}", styled(line, self.colour));
            }
            Mode::Quiet => {}
        }
    }

    /// The run's status changed.
    pub fn status(&self, status: &str) {
        if self.mode == Mode::Json {
            self.json_line(json!({"event": "status", "status": status}));
        }
    }

    /// The run is over: the final run (JSON), the result (quiet), or a summary (text).
    pub fn finished(&self, run: &Value, view: &RunView) {
        match self.mode {
            Mode::Json => self.json_line(json!({"event": "finished", "run": run})),
            Mode::Quiet => {
                if let Some(payload) = view.result.as_ref().map(|r| &r["payload"]).filter(|p| !p.is_null()) {
                    let mut out = std::io::stdout().lock();
                    let _ = match payload {
                        Value::String(text) => writeln!(out, "{text}"),
                        other => writeln!(out, "{other}"),
                    };
                }
                if let Some(error) = view
                    .error_text()
                    .filter(|_| view.status != crate::domain::run::RunStatus::Succeeded.as_str())
                {
                    eprintln!("run {} {}: {error}", view.id, view.status);
                }
            }
            Mode::Text => match view
                .error_text()
                .filter(|_| view.status != crate::domain::run::RunStatus::Succeeded.as_str())
            {
                Some(error) => eprintln!("run {} {}: {error}", view.id, view.status),
                None => eprintln!("run {} {}", view.id, view.status),
            },
        }
        if let Some(data) = &self.rundeck {
            let mut out = std::io::stdout().lock();
            for line in data.lines(view) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

/// A log line as the terminal shows it: the service's own lines dimmed, the function's
/// plain; every line plain without colour or without a `source`.
fn styled(line: &LogLine, colour: bool) -> String {
    if colour && line.source.as_deref() == Some("runner") {
        let dim = anstyle::Style::new().dimmed();
        format!("{dim}{}{dim:#}", line.message)
    } else {
        line.message.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(source: Option<&str>) -> LogLine {
        LogLine {
            seq: 1,
            level: "info".into(),
            message: "m".into(),
            source: source.map(str::to_string),
            phase: None,
        }
    }

    #[test]
    fn only_runner_lines_are_dimmed_and_only_with_colour() {
        assert_eq!(styled(&line(Some("runner")), true), "\x1b[2mm\x1b[0m");
        assert_eq!(styled(&line(Some("runner")), false), "m");
        assert_eq!(styled(&line(Some("function")), true), "m");
        assert_eq!(styled(&line(None), true), "m", "an entry without a source is plain");
    }
}
