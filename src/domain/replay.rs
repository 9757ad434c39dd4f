//! Replay: what a run records of the function it reached, what the caller of a replay
//! chooses, and the difference between a run and its replay (pure: no I/O here).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::run::{Run, RunStatus};
use super::step::InvalidField;

/// The function an Invoke reached, as Lambda described the version that answered
/// (GetFunctionConfiguration): what a replay needs to build it again. Never its
/// environment variables: a replay reads those from Lambda when it runs, and shows them
/// nowhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordedFunction {
    /// The function's name (no ARN, no qualifier).
    pub name: String,
    /// The version that answered (`X-Amz-Executed-Version`): `$LATEST` or a number.
    pub version: String,
    /// Base64 of the SHA-256 of the deployment package, as Lambda gives it.
    pub code_sha256: Option<String>,
    /// `Zip` or `Image`.
    pub package_type: Option<String>,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub memory_mb: Option<i32>,
    pub timeout_seconds: Option<i32>,
    /// `x86_64` or `arm64`.
    pub architecture: Option<String>,
    pub ephemeral_storage_mb: Option<i32>,
    /// The execution role (`credentials: "role"` replays assume it).
    pub role: Option<String>,
    /// The layers' version ARNs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
    /// Whether the function runs attached to a VPC (not carried over by a replay).
    #[serde(default)]
    pub in_vpc: bool,
}

/// What the replayed function gets for its own AWS calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplayCredentials {
    /// No credentials: an AWS call from the function fails (`Unable to locate credentials`),
    /// so a replay has no side effects on an account unless asked.
    #[default]
    None,
    /// The function's execution role, assumed with the project's credentials, as custom
    /// code gets it on the engine.
    Role,
}

impl ReplayCredentials {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Role => "role",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "none" => Some(Self::None),
            "role" => Some(Self::Role),
            _ => None,
        }
    }
}

/// The body of `POST /v1/runs/{id}/replay` (every field optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// `none` (default) or `role`.
    #[serde(default)]
    pub credentials: ReplayCredentials,
    /// Where the replayed function's AWS calls go (`AWS_ENDPOINT_URL`): moto, LocalStack...
    #[schema(pattern = "^https?://", max_length = 2048)]
    pub endpoint_url: Option<String>,
    /// Replay with the function's current code when the recorded version is gone.
    #[serde(default)]
    pub accept_current_code: bool,
}

impl ReplayRequest {
    pub fn validate(&self) -> Result<(), InvalidField> {
        if let Some(url) = &self.endpoint_url {
            let parsed = reqwest::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"));
            if parsed.is_none() || url.len() > 2048 {
                return Err(InvalidField::new(
                    "endpoint_url",
                    "must be an http:// or https:// URL of at most 2048 characters",
                ));
            }
        }
        Ok(())
    }
}

/// The two statuses, and whether they are the same.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComparedStatus {
    pub original: RunStatus,
    pub replay: RunStatus,
    pub same: bool,
}

/// The two errors (none for a run that succeeded), and whether they are the same.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComparedError {
    pub original: Option<ErrorSummary>,
    pub replay: Option<ErrorSummary>,
    pub same: bool,
}

/// An error as the difference compares it: its type and message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorSummary {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
}

/// One place where the two result payloads differ.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JsonChange {
    /// A JSON Pointer (`/items/0/name`; empty for the whole payload).
    pub path: String,
    /// Absent where only the replay has the value.
    #[schema(value_type = Option<Value>)]
    pub original: Option<serde_json::Value>,
    /// Absent where only the original has the value.
    #[schema(value_type = Option<Value>)]
    pub replay: Option<serde_json::Value>,
}

/// The result payloads compared.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PayloadDiff {
    pub same: bool,
    /// At most `MAX_CHANGES` places, in document order.
    pub changes: Vec<JsonChange>,
}

/// A figure of each run (from its REPORT line).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    pub original: Option<f64>,
    pub replay: Option<f64>,
}

/// One printed line of each run, side by side (either may be missing).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PrintedPair {
    pub original: Option<String>,
    pub replay: Option<String>,
    /// Equal once times and request ids are left out.
    pub same: bool,
}

/// What differs between a run and its replay.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplayDiff {
    pub original: uuid::Uuid,
    pub replay: uuid::Uuid,
    /// Both runs are finished; until then the difference is provisional.
    pub finished: bool,
    /// Same status, error type and message, and result payload. Printed lines, duration and
    /// memory are shown but not part of it.
    pub same_outcome: bool,
    pub status: ComparedStatus,
    pub error: ComparedError,
    pub payload: PayloadDiff,
    /// The function's own duration (REPORT), in milliseconds.
    pub duration_ms: Figures,
    /// Max Memory Used (REPORT), in MB.
    pub max_memory_mb: Figures,
    /// Whether every printed line is the same (times and request ids left out).
    pub printed_same: bool,
    /// What each run printed (START, END and REPORT left out), at most `MAX_LINES` pairs.
    pub printed: Vec<PrintedPair>,
}

/// Most payload changes listed.
pub const MAX_CHANGES: usize = 100;
/// Most printed line pairs listed.
pub const MAX_LINES: usize = 1000;

/// A run with the function lines it printed, as the difference reads it.
pub struct ReplaySide<'a> {
    pub run: &'a Run,
    pub function_lines: &'a [String],
}

/// The difference between a run and its replay.
pub fn diff(original: ReplaySide<'_>, replay: ReplaySide<'_>) -> ReplayDiff {
    let status = ComparedStatus {
        original: original.run.status,
        replay: replay.run.status,
        same: original.run.status == replay.run.status,
    };
    let (error_a, error_b) = (error_of(original.run), error_of(replay.run));
    let error = ComparedError {
        same: error_a == error_b,
        original: error_a,
        replay: error_b,
    };
    let payload = payload_diff(payload_of(original.run), payload_of(replay.run));
    let report = |side: &ReplaySide<'_>| {
        side.function_lines
            .iter()
            .rev()
            .find(|l| l.starts_with("REPORT "))
            .cloned()
    };
    let (report_a, report_b) = (report(&original), report(&replay));
    let figure = |line: &Option<String>, label: &str| line.as_deref().and_then(|l| report_figure(l, label));
    let duration_ms = Figures {
        original: figure(&report_a, "Duration").or(original
            .run
            .result
            .as_ref()
            .and_then(|r| r.duration_ms)
            .map(|d| d as f64)),
        replay: figure(&report_b, "Duration").or(replay
            .run
            .result
            .as_ref()
            .and_then(|r| r.duration_ms)
            .map(|d| d as f64)),
    };
    let max_memory_mb = Figures {
        original: figure(&report_a, "Max Memory Used"),
        replay: figure(&report_b, "Max Memory Used"),
    };
    let printed = printed_pairs(&original, &replay);
    let printed_same = printed.iter().all(|p| p.same);
    ReplayDiff {
        original: original.run.id,
        replay: replay.run.id,
        finished: original.run.status.is_finished() && replay.run.status.is_finished(),
        same_outcome: status.same && error.same && payload.same,
        status,
        error,
        payload,
        duration_ms,
        max_memory_mb,
        printed_same,
        printed,
    }
}

/// The function's error document, else the run's own error (a run that failed before or
/// around the function).
fn error_of(run: &Run) -> Option<ErrorSummary> {
    if let Some(error) = run.result.as_ref().and_then(|r| r.error.as_ref()) {
        return Some(ErrorSummary {
            kind: error.kind.clone(),
            message: error.message.clone(),
        });
    }
    run.error.as_ref().map(|e| ErrorSummary {
        kind: Some(e.code.as_str().to_string()),
        message: Some(e.message.clone()),
    })
}

/// The result payload as compared: an error document without its `requestId`, which
/// differs from one invocation to the next.
fn payload_of(run: &Run) -> Option<serde_json::Value> {
    let result = run.result.as_ref()?;
    let mut payload = result.payload.clone()?;
    if result.function_error.is_some()
        && let Some(document) = payload.as_object_mut()
    {
        document.remove("requestId");
    }
    Some(payload)
}

fn payload_diff(original: Option<serde_json::Value>, replay: Option<serde_json::Value>) -> PayloadDiff {
    let mut changes = Vec::new();
    match (&original, &replay) {
        (Some(a), Some(b)) => json_changes("", a, b, &mut changes),
        (None, None) => {}
        _ => changes.push(JsonChange {
            path: String::new(),
            original,
            replay,
        }),
    }
    PayloadDiff {
        same: changes.is_empty(),
        changes,
    }
}

/// Where two JSON values differ: objects key by key, arrays index by index, anything else
/// as a whole.
fn json_changes(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<JsonChange>) {
    use serde_json::Value;
    if out.len() >= MAX_CHANGES || a == b {
        return;
    }
    let child = |key: &str| format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                match (x.get(key), y.get(key)) {
                    (Some(va), Some(vb)) => json_changes(&child(key), va, vb, out),
                    (va, vb) if out.len() < MAX_CHANGES => out.push(JsonChange {
                        path: child(key),
                        original: va.cloned(),
                        replay: vb.cloned(),
                    }),
                    _ => return,
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => json_changes(&child(&i.to_string()), va, vb, out),
                    (va, vb) if out.len() < MAX_CHANGES => out.push(JsonChange {
                        path: child(&i.to_string()),
                        original: va.cloned(),
                        replay: vb.cloned(),
                    }),
                    _ => return,
                }
            }
        }
        _ => out.push(JsonChange {
            path: path.to_string(),
            original: Some(a.clone()),
            replay: Some(b.clone()),
        }),
    }
}

/// A figure of a REPORT line: `Duration: 12.34 ms`, `Max Memory Used: 40 MB`.
fn report_figure(line: &str, label: &str) -> Option<f64> {
    line.split('\t').find_map(|field| {
        let value = field.trim().strip_prefix(label)?.strip_prefix(": ")?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// The lines a function printed, without the platform's START, END and REPORT lines.
fn printed(lines: &[String]) -> Vec<&String> {
    const PLATFORM: [&str; 5] = [
        "START RequestId:",
        "END RequestId:",
        "REPORT RequestId:",
        "INIT_START ",
        "XRAY TraceId:",
    ];
    lines
        .iter()
        .filter(|l| !PLATFORM.iter().any(|p| l.starts_with(p)))
        .collect()
}

/// A printed line without what differs from one invocation to the next: the fields the
/// runtimes prefix (a timestamp, the request id).
fn comparable(line: &str, request_id: Option<&str>) -> String {
    line.split('\t')
        .filter(|field| !looks_like_timestamp(field) && Some(*field) != request_id)
        .collect::<Vec<_>>()
        .join("\t")
}

/// `2026-12-07T03:39:08.123Z` and the like.
fn looks_like_timestamp(field: &str) -> bool {
    let bytes = field.as_bytes();
    bytes.len() >= 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && field.ends_with('Z')
        && bytes[..4].iter().all(u8::is_ascii_digit)
}

fn printed_pairs(original: &ReplaySide<'_>, replay: &ReplaySide<'_>) -> Vec<PrintedPair> {
    let id = |side: &ReplaySide<'_>| side.run.result.as_ref().and_then(|r| r.request_id.clone());
    let (id_a, id_b) = (id(original), id(replay));
    let (a, b) = (printed(original.function_lines), printed(replay.function_lines));
    (0..a.len().max(b.len()))
        .take(MAX_LINES)
        .map(|i| {
            let (la, lb) = (a.get(i).copied(), b.get(i).copied());
            let same = match (la, lb) {
                (Some(x), Some(y)) => comparable(x, id_a.as_deref()) == comparable(y, id_b.as_deref()),
                _ => false,
            };
            PrintedPair {
                original: la.cloned(),
                replay: lb.cloned(),
                same,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::run::{FunctionErrorDetails, RunResult};
    use serde_json::json;

    fn run(status: RunStatus, payload: serde_json::Value, error: Option<(&str, &str)>, request_id: &str) -> Run {
        Run {
            id: uuid::Uuid::new_v4(),
            project: "default".into(),
            status,
            step: json!({}),
            attempt: 1,
            created_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
            result: Some(RunResult {
                payload: Some(payload),
                request_id: Some(request_id.into()),
                error: error.map(|(t, m)| FunctionErrorDetails {
                    kind: Some(t.into()),
                    message: Some(m.into()),
                    stack_trace: vec![],
                }),
                ..Default::default()
            }),
            error: None,
            function_name: None,
            trace_id: None,
            replay_of: None,
            replays: vec![],
        }
    }

    #[test]
    fn the_same_failure_is_the_same_outcome_whatever_the_times_and_request_ids() {
        let mut a = run(
            RunStatus::Failed,
            json!({"errorMessage": "boom", "requestId": "id-a"}),
            Some(("ValueError", "boom")),
            "id-a",
        );
        let mut b = run(
            RunStatus::Failed,
            json!({"errorMessage": "boom", "requestId": "id-b"}),
            Some(("ValueError", "boom")),
            "id-b",
        );
        for side in [&mut a, &mut b] {
            side.result.as_mut().unwrap().function_error = Some("Unhandled".into());
        }
        let lines_a = vec![
            "START RequestId: id-a Version: $LATEST".to_string(),
            "2026-12-07T03:39:08.123Z\tid-a\tINFO\tchecking".to_string(),
            "REPORT RequestId: id-a\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB".to_string(),
        ];
        let lines_b = vec![
            "START RequestId: id-b Version: $LATEST".to_string(),
            "2026-12-07T04:00:00.001Z\tid-b\tINFO\tchecking".to_string(),
            "REPORT RequestId: id-b\tDuration: 3.00 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 38 MB".to_string(),
        ];
        let d = diff(
            ReplaySide {
                run: &a,
                function_lines: &lines_a,
            },
            ReplaySide {
                run: &b,
                function_lines: &lines_b,
            },
        );
        assert!(d.same_outcome && d.printed_same, "{d:?}");
        assert_eq!(d.printed.len(), 1);
        assert_eq!(d.duration_ms.original, Some(12.5));
        assert_eq!(d.max_memory_mb.replay, Some(38.0));
    }

    #[test]
    fn a_different_payload_is_listed_by_path() {
        let a = run(
            RunStatus::Succeeded,
            json!({"n": 1, "items": [1, 2], "gone": true}),
            None,
            "a",
        );
        let b = run(
            RunStatus::Succeeded,
            json!({"n": 2, "items": [1], "new/key": "x"}),
            None,
            "b",
        );
        let d = diff(
            ReplaySide {
                run: &a,
                function_lines: &[],
            },
            ReplaySide {
                run: &b,
                function_lines: &[],
            },
        );
        assert!(!d.same_outcome);
        let mut paths: Vec<&str> = d.payload.changes.iter().map(|c| c.path.as_str()).collect();
        paths.sort();
        assert_eq!(paths, ["/gone", "/items/1", "/n", "/new~1key"]);
    }

    #[test]
    fn another_error_message_is_another_outcome() {
        let a = run(RunStatus::Failed, json!(null), Some(("KeyError", "'a'")), "a");
        let b = run(RunStatus::Failed, json!(null), Some(("KeyError", "'b'")), "b");
        let d = diff(
            ReplaySide {
                run: &a,
                function_lines: &[],
            },
            ReplaySide {
                run: &b,
                function_lines: &[],
            },
        );
        assert!(d.status.same && !d.error.same && !d.same_outcome);
    }

    #[test]
    fn endpoint_urls_must_be_http() {
        let request = |url: &str| ReplayRequest {
            endpoint_url: Some(url.into()),
            ..Default::default()
        };
        assert!(request("http://127.0.0.1:5000").validate().is_ok());
        assert_eq!(
            request("file:///etc/passwd").validate().unwrap_err().field,
            "endpoint_url"
        );
    }
}
