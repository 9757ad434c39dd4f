//! A durable execution's history event as one line of the run's log: what happened to
//! which operation (`step "add" succeeded (attempt 1): 5`), at the level a reader needs.

use serde_json::Value;

use crate::domain::run::LogLevel;

/// How much of a step's result or an error's message one line shows.
const SHOWN: usize = 300;

/// The line of one `GetDurableExecutionHistory` event.
pub fn line(event: &Value) -> (LogLevel, String) {
    let kind = event["EventType"].as_str().unwrap_or("Unknown");
    let (subject, what) = split(kind);
    let details = &event[format!("{kind}Details")];
    let subject = match (subject.as_str(), event["SubType"].as_str()) {
        // Child contexts say what made them (a `map`, a `parallel` branch...).
        ("context", Some(sub_type)) => format!("context ({sub_type})"),
        _ => subject,
    };
    let named = match (subject.as_str(), event["Name"].as_str()) {
        // The execution's name is the run's id: nothing to say.
        ("execution" | "invocation", _) | (_, None) => subject.clone(),
        (_, Some(name)) => format!("{subject} \"{name}\""),
    };
    let mut text = format!("durable: {named} {what}");
    let attempt = details["RetryDetails"]["CurrentAttempt"].as_u64();
    match kind {
        "StepSucceeded" | "StepFailed" => {
            if let Some(attempt) = attempt {
                text.push_str(&format!(" (attempt {attempt})"));
            }
        }
        "WaitStarted" | "WaitSucceeded" => {
            if let Some(seconds) = details["Duration"].as_u64() {
                text.push_str(&format!(" ({seconds} s)"));
            }
        }
        "CallbackStarted" => {
            if let Some(id) = details["CallbackId"].as_str() {
                text.push_str(&format!(": callback id {id}"));
            }
            if let Some(timeout) = details["Timeout"].as_u64().filter(|t| *t > 0) {
                text.push_str(&format!(", times out after {timeout} s"));
            }
        }
        _ => {}
    }
    if let Some(result) = details["Result"]["Payload"].as_str().filter(|p| !p.is_empty()) {
        text.push_str(&format!(": {}", shorten(result)));
    }
    if let Some(error) = details["Error"]["Payload"].as_object().filter(|e| !e.is_empty()) {
        let kind = error.get("ErrorType").and_then(Value::as_str).unwrap_or("Error");
        let message = error.get("ErrorMessage").and_then(Value::as_str).unwrap_or_default();
        text.push_str(&format!(": {kind}: {}", shorten(message)));
    }
    if kind == "StepFailed"
        && let Some(delay) = details["RetryDetails"]["NextAttemptDelaySeconds"]
            .as_u64()
            .filter(|d| *d > 0)
    {
        text.push_str(&format!("; next attempt in {delay} s"));
    }
    let level = if what.contains("failed") || what.contains("timed out") || what.contains("stopped") {
        LogLevel::Warn
    } else {
        LogLevel::Info
    };
    (level, text)
}

/// `StepSucceeded` as ("step", "succeeded"); `ExecutionTimedOut` as ("execution", "timed out").
fn split(kind: &str) -> (String, String) {
    let mut words: Vec<String> = Vec::new();
    for c in kind.chars() {
        if c.is_uppercase() || words.is_empty() {
            words.push(String::new());
        }
        if let Some(word) = words.last_mut() {
            word.extend(c.to_lowercase());
        }
    }
    let subject = words.first().cloned().unwrap_or_default();
    (subject, words[1.min(words.len())..].join(" "))
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_read_as_sentences() {
        let step = json!({"EventType": "StepSucceeded", "Name": "add",
            "StepSucceededDetails": {"Result": {"Payload": "5"}, "RetryDetails": {"CurrentAttempt": 1}}});
        assert_eq!(line(&step).1, "durable: step \"add\" succeeded (attempt 1): 5");
        let callback = json!({"EventType": "CallbackStarted", "Name": "approval",
            "CallbackStartedDetails": {"CallbackId": "cb-1", "Timeout": 0}});
        assert_eq!(
            line(&callback).1,
            "durable: callback \"approval\" started: callback id cb-1"
        );
        let timed_out = json!({"EventType": "ExecutionTimedOut", "Name": "run-id",
            "ExecutionTimedOutDetails": {}});
        assert_eq!(
            line(&timed_out),
            (LogLevel::Warn, "durable: execution timed out".to_string())
        );
    }
}
