//! Steps end to end: custom code in each language, invoke of an existing function with
//! every invocation type and a qualifier, and function errors and timeouts as failures.

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::TestService;
use crate::support::{create, create_with};

#[sqlx::test]
async fn custom_code_in_python_node_and_ruby_returns_its_value_prints_into_the_log_and_is_cleaned_up(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let cases = [
        (
            "python3.12",
            "def lambda_handler(event, context):\n    print('python says', event['n'])\n    return {'lang': 'python', 'n': event['n']}\n",
            "python says 5",
        ),
        (
            "nodejs20.x",
            "export const handler = async (event) => { console.log('node says', event.n); return { lang: 'node', n: event.n }; };\n",
            "INFO\tnode says 5",
        ),
        (
            "nodejs20.x",
            "exports.handler = async (event) => { console.log('cjs says', event.n); return { lang: 'node', n: event.n }; };\n",
            "INFO\tcjs says 5",
        ),
        (
            "ruby3.3",
            "def lambda_handler(event:, context:)\n  puts \"ruby says #{event['n']}\"\n  { 'lang' => 'ruby', 'n' => event['n'] }\nend\n",
            "ruby says 5",
        ),
    ];
    for (runtime, code, printed) in cases {
        let run = service
            .run(json!({"type": "lambda_custom_code", "runtime": runtime, "code": code, "payload": {"n": 5}}))
            .await;
        assert_eq!(run["status"], "succeeded", "{runtime}: {run}");
        assert_eq!(run["result"]["payload"]["n"], 5, "{runtime}");
        assert_eq!(run["result"]["status_code"], 200);
        assert!(run["result"]["request_id"].as_str().is_some_and(|r| !r.is_empty()));
        let log = service.log(run["id"].as_str().unwrap()).await;
        assert!(log.iter().any(|l| l.ends_with(printed)), "{runtime}: {log:#?}");
        assert!(log.iter().any(|l| l.starts_with("REPORT RequestId:")), "{log:#?}");
        assert!(
            log.iter().any(|l| l.starts_with("deleted function lambda-steps-")),
            "{log:#?}"
        );
    }
    let left = service.engine.client.list_functions().send().await.unwrap();
    assert!(left.functions().is_empty(), "every custom-code function was deleted");
    service.stop().await;
}

#[sqlx::test]
async fn keep_function_keeps_it(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let run = service
        .run(
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "keep_function": true,
            "code": "def lambda_handler(e, c):\n    return 1\n"}),
        )
        .await;
    assert_eq!(run["status"], "succeeded");
    let kept = service.engine.client.list_functions().send().await.unwrap();
    assert_eq!(kept.functions().len(), 1);
    service.stop().await;
}

const ECHO: &str = "def handler(e, c):\n    print('event', e)\n    return {'version': c.function_version, 'event': e, 'custom': c.client_context.custom if c.client_context else None}\n";

#[sqlx::test]
async fn invoke_of_an_existing_function_with_each_invocation_type_and_a_qualifier(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let lambda = &service.engine.client;
    create(lambda, "existing", "python3.12", "app.handler", &[("app.py", ECHO)]).await;
    lambda.publish_version().function_name("existing").send().await.unwrap();
    lambda
        .create_alias()
        .function_name("existing")
        .name("live")
        .function_version("1")
        .send()
        .await
        .unwrap();

    let sync = service
        .run(
            json!({"type": "lambda_invoke", "function_name": "existing", "qualifier": "live",
            "payload": {"k": "v"}, "client_context": {"custom": {"ticket": "INC-1"}}}),
        )
        .await;
    assert_eq!(sync["status"], "succeeded", "{sync}");
    assert_eq!(sync["result"]["executed_version"], "1");
    assert_eq!(
        sync["result"]["payload"],
        json!({"version": "1", "event": {"k": "v"}, "custom": {"ticket": "INC-1"}})
    );
    let log = service.log(sync["id"].as_str().unwrap()).await;
    assert!(log.iter().any(|l| l == "event {'k': 'v'}"), "{log:#?}");

    let event = service
        .run(json!({"type": "lambda_invoke", "function_name": "existing", "invocation_type": "Event", "payload": {}}))
        .await;
    assert_eq!(event["status"], "succeeded");
    assert_eq!(event["result"]["status_code"], 202);
    let log = service.log(event["id"].as_str().unwrap()).await;
    assert!(log.iter().any(|l| l.contains("not that the function ran")), "{log:#?}");

    let dry = service
        .run(json!({"type": "lambda_invoke", "function_name": "existing", "invocation_type": "DryRun"}))
        .await;
    assert_eq!(dry["status"], "succeeded");
    assert_eq!(dry["result"]["status_code"], 204);

    let missing = service
        .run(json!({"type": "lambda_invoke", "function_name": "not-there"}))
        .await;
    crate::support::assert_refused_as_not_found(&missing);
    service.stop().await;
}

#[sqlx::test]
async fn function_errors_and_timeouts_fail_the_run_with_their_details(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let failed = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12",
            "code": "def lambda_handler(e, c):\n    raise RuntimeError('disk full on ' + e['host'])\n", "payload": {"host": "db1"}}))
        .await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "function_error");
    assert_eq!(failed["result"]["function_error"], "Unhandled");
    assert_eq!(failed["result"]["error"]["type"], "RuntimeError");
    assert_eq!(failed["result"]["error"]["message"], "disk full on db1");
    assert!(!failed["result"]["error"]["stack_trace"].as_array().unwrap().is_empty());
    let log = service.log(failed["id"].as_str().unwrap()).await;
    assert!(
        log.iter()
            .any(|l| l == "the function failed: RuntimeError: disk full on db1"),
        "{log:#?}"
    );

    let lambda = &service.engine.client;
    create_with(
        lambda,
        "slow",
        "python3.12",
        "app.handler",
        &[("app.py", "import time\ndef handler(e, c):\n    time.sleep(10)\n")],
        1,
        128,
    )
    .await;
    let timed_out = service
        .run(json!({"type": "lambda_invoke", "function_name": "slow"}))
        .await;
    assert_eq!(timed_out["status"], "timed_out", "{timed_out}");
    assert_eq!(timed_out["error"]["code"], "timed_out");
    assert_eq!(timed_out["result"]["error"]["type"], "Sandbox.Timedout");
    service.stop().await;
}
