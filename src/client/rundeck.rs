//! `run --rundeck-data`: the run's outcome as Rundeck data lines
//! (`RUNDECK:DATA:key = value`), which Rundeck's "Key Value Data" log filter turns into
//! `${data.key}` for the steps after it. The keys are the context Rundeck's own Lambda
//! steps set: the function's name, whether it was created, invoked and deleted, the
//! returned payload as a string, and the function's error.
//!
//! What happened to the function is read from the runner's own log lines (`creating
//! function NAME`, `function NAME is Active`, `invoking NAME`, `deleted function NAME`):
//! the run does not show its function's name or cleanup otherwise.

use serde_json::Value;

use super::RunView;

/// What the log said about the function, gathered line by line.
#[derive(Debug, Default)]
pub struct RundeckData {
    function_name: Option<String>,
    created: bool,
    invoked: bool,
    deleted: bool,
}

impl RundeckData {
    /// For an Invoke step the function is the step's; a custom-code step's is named in
    /// its log.
    pub fn new(step: &Value) -> Self {
        Self {
            function_name: step["function_name"].as_str().map(str::to_string),
            ..Self::default()
        }
    }

    pub fn observe(&mut self, message: &str) {
        if let Some(rest) = message.strip_prefix("creating function ") {
            let name = rest.split([':', ' ']).next().unwrap_or_default();
            if !name.is_empty() {
                self.function_name = Some(name.to_string());
            }
        } else if message.starts_with("function ") && message.ends_with(" is Active") {
            self.created = true;
        } else if message.starts_with("invoking ") {
            self.invoked = true;
        } else if message.starts_with("deleted function ") {
            self.deleted = true;
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
            "succeeded" => None,
            _ => run.error_text(),
        };
        let pairs = [
            ("run_id", Some(run.id.clone())),
            ("status", Some(run.status.clone())),
            ("function_name", self.function_name.clone()),
            ("function_created", Some(self.created.to_string())),
            ("function_invoked", Some(self.invoked.to_string())),
            ("function_deleted", Some(self.deleted.to_string())),
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

    #[test]
    fn reads_the_functions_life_from_the_runners_lines() {
        let mut data = RundeckData::new(&json!({"type": "lambda_custom_code"}));
        for line in [
            "claimed by worker 1-abc (attempt 1)",
            "creating function lambda-steps-0123: python3.12, lambda_function.py, handler h, 128 MB, timeout 3 s",
            "function lambda-steps-0123 is Active",
            "invoking lambda-steps-0123 (RequestResponse)",
            "deleted function lambda-steps-0123",
        ] {
            data.observe(line);
        }
        let run = RunView::read(&json!({"id": "r1", "status": "succeeded",
            "result": {"payload": {"ok": true, "text": "a\nb"}}}))
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
}
