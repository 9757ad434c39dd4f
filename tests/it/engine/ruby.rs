//! Ruby functions: `event:, context:` keyword handlers, class methods, and
//! `Function<ErrorClass>` errors as AWS's Ruby runtime reports them.

use serde_json::json;

use crate::support::{TestEngine, create, data_dir, invoke};

#[tokio::test(flavor = "multi_thread")]
async fn ruby_keyword_handler_returns_and_prints() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = "def lambda_handler(event:, context:)\n  puts \"ruby got #{event['x']}\"\n  { 'x' => event['x'] + 1, 'fn' => context.function_name, 'left' => context.get_remaining_time_in_millis > 0 }\nend\n";
    create(
        &engine.client,
        "rb-echo",
        "ruby3.3",
        "lambda_function.lambda_handler",
        &[("lambda_function.rb", code)],
    )
    .await;
    let out = invoke(&engine.client, "rb-echo", json!({"x": 41})).await;
    assert_eq!(out.function_error, None, "{:?}", out.payload);
    assert_eq!(out.payload, json!({"x": 42, "fn": "rb-echo", "left": true}));
    assert!(out.log.contains("ruby got 41"), "{}", out.log);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ruby_class_method_handler_and_errors() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = "module Jobs\n  class Step\n    def self.run(event:, context:)\n      raise 'step broke' if event['fail']\n      'ok'\n    end\n  end\nend\n";
    create(
        &engine.client,
        "rb-class",
        "ruby3.2",
        "function.Jobs::Step.run",
        &[("function.rb", code)],
    )
    .await;
    let ok = invoke(&engine.client, "rb-class", json!({})).await;
    assert_eq!(ok.payload, json!("ok"));
    let failed = invoke(&engine.client, "rb-class", json!({"fail": true})).await;
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(failed.payload["errorType"], "Function<RuntimeError>");
    assert_eq!(failed.payload["errorMessage"], "step broke");
    assert!(
        failed.payload["stackTrace"][0]
            .as_str()
            .unwrap()
            .contains("function.rb:4"),
        "{}",
        failed.payload
    );

    create(
        &engine.client,
        "rb-load",
        "ruby3.3",
        "function.handler",
        &[("function.rb", "require 'no_such_gem'\n")],
    )
    .await;
    let init = invoke(&engine.client, "rb-load", json!({})).await;
    assert_eq!(init.payload["errorType"], "Init<LoadError>");
    engine.stop().await;
}
