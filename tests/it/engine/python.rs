//! Python functions through aws-sdk-lambda: results, printed lines framed as AWS frames
//! them, the context object, warm reuse, and the runtime's error documents.

use serde_json::json;

use crate::support::{TestEngine, create, data_dir, invoke};

const HANDLER: &str = r#"
import os
def lambda_handler(event, context):
    print("got", event["n"])
    return {
        "n": event["n"] * 2,
        "request_id": context.aws_request_id,
        "function": context.function_name,
        "version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 10000,
        "arn": context.invoked_function_arn,
        "region": os.environ["AWS_REGION"],
        "handler": os.environ["_HANDLER"],
        "stream": context.log_stream_name,
        "custom": os.environ.get("STAGE"),
    }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn python_handler_returns_its_value_and_prints_into_the_framed_log() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    create(
        &engine.client,
        "py-echo",
        "python3.12",
        "lambda_function.lambda_handler",
        &[("lambda_function.py", HANDLER)],
    )
    .await;

    let cold = invoke(&engine.client, "py-echo", json!({"n": 21})).await;
    assert_eq!(cold.status, 200);
    assert_eq!(cold.function_error, None);
    assert_eq!(cold.executed_version.as_deref(), Some("$LATEST"));
    let p = &cold.payload;
    assert_eq!(p["n"], 42);
    assert_eq!(p["function"], "py-echo");
    assert_eq!(p["version"], "$LATEST");
    assert_eq!(p["memory"], "256");
    assert_eq!(p["remaining_ok"], true);
    assert_eq!(p["arn"], "arn:aws:lambda:us-east-1:000000000000:function:py-echo");
    assert_eq!(p["region"], "us-east-1");
    assert_eq!(p["handler"], "lambda_function.lambda_handler");
    let request_id = p["request_id"].as_str().unwrap();

    let lines: Vec<&str> = cold.log.lines().collect();
    assert_eq!(lines[0], format!("START RequestId: {request_id} Version: $LATEST"));
    assert!(lines.contains(&"got 21"), "{}", cold.log);
    assert_eq!(lines[lines.len() - 2], format!("END RequestId: {request_id}"));
    let report = lines[lines.len() - 1];
    assert!(
        report.starts_with(&format!("REPORT RequestId: {request_id}\tDuration: ")),
        "{report}"
    );
    for field in [
        "Billed Duration: ",
        "Memory Size: 256 MB",
        "Max Memory Used: ",
        "Init Duration: ",
    ] {
        assert!(report.contains(field), "{field} missing in {report}");
    }

    // The second invoke reuses the warm environment: same log stream, no init.
    let warm = invoke(&engine.client, "py-echo", json!({"n": 1})).await;
    assert_eq!(warm.payload["n"], 2);
    assert_eq!(warm.payload["stream"], cold.payload["stream"]);
    assert!(!warm.log.contains("Init Duration"), "{}", warm.log);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_exceptions_fail_with_type_message_and_stack_trace() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = "def handler(event, context):\n    print('about to fail')\n    raise ValueError('bad input: ' + event['why'])\n";
    create(
        &engine.client,
        "py-raise",
        "python3.11",
        "app.handler",
        &[("app.py", code)],
    )
    .await;

    let out = invoke(&engine.client, "py-raise", json!({"why": "nope"})).await;
    assert_eq!(out.status, 200);
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(out.payload["errorType"], "ValueError");
    assert_eq!(out.payload["errorMessage"], "bad input: nope");
    let trace = out.payload["stackTrace"].as_array().unwrap();
    assert!(
        trace.iter().any(|f| f.as_str().unwrap().contains("raise ValueError")),
        "{trace:?}"
    );
    assert!(out.log.contains("about to fail"));
    assert!(out.log.contains("[ERROR] ValueError: bad input: nope"), "{}", out.log);
    assert!(out.log.contains("Status: error\tError Type: ValueError"), "{}", out.log);

    // The environment survives a handled exception.
    let again = invoke(&engine.client, "py-raise", json!({"why": "again"})).await;
    assert_eq!(again.payload["errorMessage"], "bad input: again");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_init_failures_are_reported_as_the_aws_runtime_reports_them() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let cases = [
        (
            "py-import",
            "app.handler",
            "import not_a_module\ndef handler(e, c):\n    return 1\n",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'not_a_module'",
        ),
        (
            "py-missing",
            "app.nothere",
            "def handler(e, c):\n    return 1\n",
            "Runtime.HandlerNotFound",
            "Handler 'nothere' missing on module 'app'",
        ),
        (
            "py-syntax",
            "app.handler",
            "def handler(e, c)\n    return 1\n",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'app'",
        ),
        (
            "py-badname",
            "nodot",
            "x = 1\n",
            "Runtime.MalformedHandlerName",
            "Bad handler 'nodot'",
        ),
    ];
    for (name, handler, code, kind, message) in cases {
        create(&engine.client, name, "python3.12", handler, &[("app.py", code)]).await;
        let out = invoke(&engine.client, name, json!({})).await;
        assert_eq!(out.function_error.as_deref(), Some("Unhandled"), "{name}");
        assert_eq!(out.payload["errorType"], kind, "{name}: {}", out.payload);
        let got = out.payload["errorMessage"].as_str().unwrap();
        assert!(got.starts_with(message), "{name}: {got}");
    }
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unserialisable_results_are_a_marshal_error() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    create(
        &engine.client,
        "py-set",
        "python3.12",
        "app.handler",
        &[("app.py", "def handler(e, c):\n    return {1, 2}\n")],
    )
    .await;
    let out = invoke(&engine.client, "py-set", json!({})).await;
    assert_eq!(out.payload["errorType"], "Runtime.MarshalError");
    assert!(
        out.payload["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Unable to marshal response")
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_memory_used_is_the_runtimes_peak_warm_or_cold() {
    const HOG: &str = "def handler(e, c):\n    block = b'x' * (e['mb'] * 2**20)\n    return len(block)\n";
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    create(&engine.client, "hog", "python3.12", "app.handler", &[("app.py", HOG)]).await;
    let max_memory_used = |log: &str| -> u64 {
        let report = log.lines().find(|l| l.starts_with("REPORT")).expect("a REPORT line");
        let field = report.split('\t').find_map(|f| f.strip_prefix("Max Memory Used: "));
        field
            .and_then(|f| f.strip_suffix(" MB")?.parse().ok())
            .unwrap_or_else(|| panic!("{report}"))
    };
    let small = invoke(&engine.client, "hog", json!({"mb": 1})).await;
    let small_mb = max_memory_used(&small.log);
    assert!((5..60).contains(&small_mb), "a Python runtime alone: {small_mb} MB");
    // Warm: the same environment, measured again after it grew.
    let big = invoke(&engine.client, "hog", json!({"mb": 90})).await;
    assert_eq!(big.payload, json!(90 * 1024 * 1024));
    let big_mb = max_memory_used(&big.log);
    assert!(
        big_mb >= small_mb + 85,
        "after holding 90 MB: {big_mb} MB (before: {small_mb})"
    );
    engine.stop().await;
}
