//! The engine's API asked without its key: the same requests A's code makes from inside,
//! made by a local process with no credentials (unsigned, with reqwest) and by boto3 with a
//! key the engine never issued.

use base64::Engine as _;
use serde_json::{Value, json};

use super::scene::Observations;

/// The unsigned requests, by operation: what an attacker types with curl.
pub fn requests(engine: &str, victim: &str) -> Value {
    let functions = format!("{engine}/2015-03-31/functions");
    let zip = crate::support::zip(&[("app.py", "def handler(e, c):\n    return 'created by an intruder'\n")]);
    let create = json!({
        "FunctionName": format!("intruder-{}", uuid::Uuid::new_v4().simple()),
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::000000000000:role/intruder",
        "Handler": "app.handler",
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
    });
    json!({
        "ListFunctions": {"method": "GET", "url": format!("{functions}/")},
        "GetFunctionConfiguration": {"method": "GET", "url": format!("{functions}/{victim}/configuration")},
        "FilterLogEvents": {
            "method": "POST",
            "url": format!("{engine}/"),
            "headers": {"X-Amz-Target": "Logs_20140328.FilterLogEvents", "Content-Type": "application/x-amz-json-1.1"},
            "body": json!({"logGroupName": format!("/aws/lambda/{victim}")}).to_string(),
        },
        "CreateFunction": {
            "method": "POST",
            "url": format!("{functions}"),
            "headers": {"Content-Type": "application/json"},
            "body": create.to_string(),
        },
        "Invoke": {"method": "POST", "url": format!("{functions}/{victim}/invocations"), "body": "{}"},
    })
}

/// Each unsigned request, sent from the test's own process; answers the observations of the
/// `api.outside_*` cases.
pub async fn unsigned(engine: &str, victim: &str) -> Observations {
    let specs = requests(engine, victim);
    let http = reqwest::Client::new();
    let mut observations = Observations::new();
    for (case, operation) in [
        ("api.outside_list_functions", "ListFunctions"),
        ("api.outside_get_configuration_b", "GetFunctionConfiguration"),
        ("api.outside_filter_log_events_b", "FilterLogEvents"),
        ("api.outside_create_function", "CreateFunction"),
        ("api.outside_invoke_b", "Invoke"),
    ] {
        let spec = &specs[operation];
        let mut request = http.request(
            spec["method"].as_str().unwrap().parse().unwrap(),
            spec["url"].as_str().unwrap(),
        );
        for (name, value) in spec["headers"].as_object().into_iter().flatten() {
            request = request.header(name, value.as_str().unwrap());
        }
        if let Some(body) = spec["body"].as_str() {
            request = request.body(body.to_string());
        }
        let seen = match request.send().await {
            Ok(answer) => {
                let status = answer.status().as_u16();
                let error_type = answer
                    .headers()
                    .get("x-amzn-errortype")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = answer.text().await.unwrap_or_default();
                json!({"target": operation, "status": status, "error_type": error_type, "body": body})
            }
            Err(e) => json!({"target": operation, "error": e.to_string()}),
        };
        observations.insert(case.to_string(), json!([seen]));
    }
    observations
}

/// boto3 from the test venv with a made-up key (`outsider.py`); answers the observation of
/// `api.outside_boto3_unknown_key`.
pub async fn boto3_unknown_key(engine: &str, victim: &str) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/engine/escape/outsider.py");
    let out = tokio::process::Command::new(crate::support::venv().join("bin/python"))
        .arg(&script)
        .args([engine, victim])
        .output()
        .await
        .expect("the venv's python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("outsider.py ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}
