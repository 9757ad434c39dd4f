//! Node.js functions: ES modules and CommonJS, async and callback handlers, AWS's console
//! format and error documents.

use serde_json::json;

use crate::support::{TestEngine, create, data_dir, invoke};

#[tokio::test(flavor = "multi_thread")]
async fn node_es_module_async_handler() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = "export const handler = async (event, context) => {\n  console.log('hello', event.who);\n  return { greeting: `hi ${event.who}`, fn: context.functionName, id: context.awsRequestId, left: context.getRemainingTimeInMillis() > 0 };\n};\n";
    create(
        &engine.client,
        "node-esm",
        "nodejs20.x",
        "index.handler",
        &[("index.mjs", code)],
    )
    .await;
    let out = invoke(&engine.client, "node-esm", json!({"who": "sre"})).await;
    assert_eq!(out.function_error, None, "{:?}", out.payload);
    assert_eq!(out.payload["greeting"], "hi sre");
    assert_eq!(out.payload["fn"], "node-esm");
    assert_eq!(out.payload["left"], true);
    let id = out.payload["id"].as_str().unwrap();
    assert!(out.log.contains(&format!("\t{id}\tINFO\thello sre")), "{}", out.log);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_common_js_callback_handler() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = "exports.handler = function (event, context, callback) {\n  setTimeout(() => callback(null, { sum: event.a + event.b }), 10);\n};\n";
    create(
        &engine.client,
        "node-cjs",
        "nodejs22.x",
        "index.handler",
        &[("index.js", code)],
    )
    .await;
    let out = invoke(&engine.client, "node-cjs", json!({"a": 2, "b": 3})).await;
    assert_eq!(out.payload, json!({"sum": 5}));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_errors_carry_type_message_and_trace() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = "class QuotaError extends Error { constructor(m) { super(m); this.name = 'QuotaError'; } }\nexport const handler = async () => { throw new QuotaError('over quota'); };\n";
    create(
        &engine.client,
        "node-err",
        "nodejs20.x",
        "index.handler",
        &[("index.mjs", code)],
    )
    .await;
    let out = invoke(&engine.client, "node-err", json!({})).await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(out.payload["errorType"], "QuotaError");
    assert_eq!(out.payload["errorMessage"], "over quota");
    assert!(
        out.payload["trace"][0]
            .as_str()
            .unwrap()
            .starts_with("QuotaError: over quota")
    );
    assert!(out.log.contains("ERROR\tInvoke Error"), "{}", out.log);

    create(
        &engine.client,
        "node-nohandler",
        "nodejs20.x",
        "index.missing",
        &[("index.mjs", "export const other = 1;\n")],
    )
    .await;
    let out = invoke(&engine.client, "node-nohandler", json!({})).await;
    assert_eq!(out.payload["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(
        out.payload["errorMessage"],
        "index.missing is undefined or not exported"
    );

    create(
        &engine.client,
        "node-nomodule",
        "nodejs20.x",
        "main.handler",
        &[("index.mjs", "export const handler = 1;\n")],
    )
    .await;
    let out = invoke(&engine.client, "node-nomodule", json!({})).await;
    assert_eq!(out.payload["errorType"], "Runtime.ImportModuleError");
    engine.stop().await;
}
