//! `run --rundeck-data`: the run's outcome as Rundeck data lines
//! (`RUNDECK:DATA:key = value`), which Rundeck's "Key Value Data" log filter turns into
//! `${data.key}` for the steps after it. The keys are the context Rundeck's own Lambda
//! steps set: the function's name, whether it was created, invoked and deleted, the
//! returned payload as a string, and the function's error.
//!
//! What happened to the function is read from the phase each runner line carries, never
//! from the line's words: a run that reached `invoking` sent its Invoke (and a custom-code
//! run's function was Active before it); a custom-code function is deleted when its
//! `cleaned_up` phase wrote no warning and the step did not keep it. The function's name is
//! the run's `function_name` (custom code) or the step's (Invoke).

use serde_json::Value;

use super::{LogLine, RunView};
use crate::domain::run::RunPhase;

/// What the log said about the function, gathered line by line.
#[derive(Debug, Default)]
pub struct RundeckData {
    function_name: Option<String>,
    custom_code: bool,
    keeps_function: bool,
    invoked: bool,
    cleaned_up: bool,
    cleanup_warned: bool,
}

impl RundeckData {
    /// For an Invoke step the function is the step's; a custom-code step's is the run's.
    pub fn new(step: &Value) -> Self {
        Self {
            function_name: step["function_name"].as_str().map(str::to_string),
            custom_code: step["type"] == "lambda_custom_code",
            keeps_function: step["keep_function"] == true,
            ..Self::default()
        }
    }

    pub fn observe(&mut self, line: &LogLine) {
        if line.source.as_deref() != Some("runner") {
            return;
        }
        let phase = line.phase.as_deref();
        if [RunPhase::Invoking, RunPhase::Returned]
            .iter()
            .any(|p| phase == Some(p.as_str()))
        {
            self.invoked = true;
        } else if phase == Some(RunPhase::CleanedUp.as_str()) {
            self.cleaned_up = true;
            self.cleanup_warned |= line.level != "info";
        }
    }

    /// The data lines of a finished run; a value is never empty (the filter's pattern
    /// needs one) and never spans lines.
    pub fn lines(&self, run: &RunView) -> Vec<String> {
        let result = run.result.as_ref();
        let payload = result.map(|r| &r["payload"]).filter(|p| !p.is_null()).map(|p| match p {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        });
        let function_error = match run.status.as_str() {
            s if s == crate::domain::run::RunStatus::Succeeded.as_str() => None,
            _ => run.error_text(),
        };
        let function_name = run.function_name.clone().or_else(|| self.function_name.clone());
        let created = self.custom_code && self.invoked;
        let deleted = self.custom_code && self.cleaned_up && !self.cleanup_warned && !self.keeps_function;
        let pairs = [
            ("run_id", Some(run.id.clone())),
            ("status", Some(run.status.clone())),
            ("function_name", function_name),
            ("function_created", Some(created.to_string())),
            ("function_invoked", Some(self.invoked.to_string())),
            ("function_deleted", Some(deleted.to_string())),
            ("payload", payload),
            ("function_error", function_error),
        ];
        pairs
            .into_iter()
            .filter_map(|(key, value)| {
                let value = value?.replace('\r', "").replace('\n', "\\n");
                (!value.trim().is_empty()).then(|| format!("RUNDECK:DATA:{key} = {value}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(phase: &str, level: &str, message: &str) -> LogLine {
        serde_json::from_value(
            json!({"seq": 1, "level": level, "source": "runner", "phase": phase, "message": message}),
        )
        .unwrap()
    }

    #[test]
    fn reads_the_functions_life_from_the_phases_not_the_words() {
        let mut data = RundeckData::new(&json!({"type": "lambda_custom_code"}));
        // Reworded lines: only their phases are read.
        for (phase, level) in [
            ("claimed", "info"),
            ("creating", "info"),
            ("invoking", "info"),
            ("returned", "info"),
            ("cleaned_up", "info"),
            ("finished", "info"),
        ] {
            data.observe(&line(phase, level, "words that say something else"));
        }
        let run = RunView::read(
            &json!({"id": "r1", "status": "succeeded", "function_name": "lambda-steps-0123",
            "result": {"payload": {"ok": true, "text": "a\nb"}}}),
        )
        .unwrap();
        assert_eq!(
            data.lines(&run),
            [
                "RUNDECK:DATA:run_id = r1",
                "RUNDECK:DATA:status = succeeded",
                "RUNDECK:DATA:function_name = lambda-steps-0123",
                "RUNDECK:DATA:function_created = true",
                "RUNDECK:DATA:function_invoked = true",
                "RUNDECK:DATA:function_deleted = true",
                r#"RUNDECK:DATA:payload = {"ok":true,"text":"a\nb"}"#,
            ]
        );
    }

    #[test]
    fn a_run_stopped_before_its_invoke_created_and_invoked_nothing() {
        let mut data = RundeckData::new(&json!({"type": "lambda_custom_code"}));
        data.observe(&line("creating", "error", "no execution role"));
        data.observe(&line("cleaned_up", "warn", "could not delete"));
        let run = RunView::read(&json!({"id": "r1", "status": "failed"})).unwrap();
        let lines = data.lines(&run);
        for fact in [
            "function_created = false",
            "function_invoked = false",
            "function_deleted = false",
        ] {
            assert!(lines.iter().any(|l| l.ends_with(fact)), "{fact}: {lines:?}");
        }
    }
}
