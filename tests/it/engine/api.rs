//! The Lambda API surface: typed errors as SDKs raise them, versions and aliases,
//! invocation types, client context, limits, listing, and persistence across restarts.

use std::time::Duration;

use aws_sdk_lambda::operation::create_function::CreateFunctionError;
use aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder;
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::operation::invoke::builders::InvokeFluentBuilder;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, InvocationType};
use base64::Engine as _;
use serde_json::json;

use crate::support::{TestEngine, create, create_request, data_dir, invoke, invoke_qualified, zip};

const VERSIONED: &str = "def handler(e, c):\n    return {'code': 'v1', 'version': c.function_version}\n";

/// A request that Lambda refuses: what it is, the request, and the SDK's typed error it
/// must raise.
type Refused<Request, Error> = (&'static str, fn(Request) -> Request, fn(&Error) -> bool);

#[tokio::test(flavor = "multi_thread")]
async fn sdk_raises_typed_errors() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let c = &engine.client;

    let err = c
        .get_function()
        .function_name("absent")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    create(c, "dup", "python3.12", "app.handler", &[("app.py", VERSIONED)]).await;
    let refused_creates: [Refused<CreateFunctionFluentBuilder, CreateFunctionError>; 3] = [
        (
            "a name taken",
            |r| r.function_name("dup"),
            CreateFunctionError::is_resource_conflict_exception,
        ),
        (
            "a runtime Lambda no longer has",
            |r| r.function_name("old").runtime("python2.7".into()),
            CreateFunctionError::is_invalid_parameter_value_exception,
        ),
        (
            "code that is not a zip",
            |r| {
                let not_zip = FunctionCode::builder().zip_file(Blob::new("not a zip")).build();
                r.function_name("notzip").code(not_zip)
            },
            CreateFunctionError::is_invalid_parameter_value_exception,
        ),
    ];
    for (case, request, raises) in refused_creates {
        // A valid request but for what the case changes.
        let valid = create_request(c, "new", "python3.12", "app.handler", zip(&[("app.py", VERSIONED)]));
        let answer = request(valid).send().await;
        let err = answer.expect_err(case).into_service_error();
        assert!(raises(&err), "CreateFunction with {case}: {err:?}");
    }

    let refused_invokes: [Refused<InvokeFluentBuilder, InvokeError>; 4] = [
        (
            "a function that does not exist",
            |r| r.function_name("absent"),
            InvokeError::is_resource_not_found_exception,
        ),
        (
            "a payload over 6 MB",
            |r| r.payload(Blob::new(format!("\"{}\"", "x".repeat(6 * 1024 * 1024 + 1)))),
            InvokeError::is_request_too_large_exception,
        ),
        (
            "a payload that is not JSON",
            |r| r.payload(Blob::new("{not json")),
            InvokeError::is_invalid_request_content_exception,
        ),
        (
            "a client context that is not base64 JSON",
            |r| r.client_context("not base64 json"),
            InvokeError::is_invalid_parameter_value_exception,
        ),
    ];
    for (case, request, raises) in refused_invokes {
        let answer = request(c.invoke().function_name("dup")).send().await;
        let err = answer.expect_err(case).into_service_error();
        assert!(raises(&err), "Invoke with {case}: {err:?}");
    }
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_aliases_and_qualifiers_select_the_code_that_runs() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let c = &engine.client;
    create(c, "versioned", "python3.12", "app.handler", &[("app.py", VERSIONED)]).await;
    let v1 = c.publish_version().function_name("versioned").send().await.unwrap();
    assert_eq!(v1.version(), Some("1"));
    assert_eq!(
        v1.function_arn(),
        Some("arn:aws:lambda:us-east-1:000000000000:function:versioned:1")
    );

    c.update_function_code()
        .function_name("versioned")
        .zip_file(Blob::new(zip(&[("app.py", &VERSIONED.replace("v1", "v2"))])))
        .send()
        .await
        .unwrap();
    let v2 = c.publish_version().function_name("versioned").send().await.unwrap();
    assert_eq!(v2.version(), Some("2"));
    let alias = c
        .create_alias()
        .function_name("versioned")
        .name("live")
        .function_version("1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        alias.alias_arn(),
        Some("arn:aws:lambda:us-east-1:000000000000:function:versioned:live")
    );
    let got = c
        .get_alias()
        .function_name("versioned")
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(got.function_version(), Some("1"));

    let live = invoke_qualified(c, "versioned", Some("live"), json!({})).await;
    assert_eq!(
        (live.payload["code"].as_str(), live.executed_version.as_deref()),
        (Some("v1"), Some("1"))
    );
    let two = invoke_qualified(c, "versioned", Some("2"), json!({})).await;
    assert_eq!(
        (two.payload["code"].as_str(), two.payload["version"].as_str()),
        (Some("v2"), Some("2"))
    );
    let latest = invoke(c, "versioned:$LATEST", json!({})).await;
    assert_eq!(latest.payload["code"], "v2");
    let by_arn = invoke(
        c,
        "arn:aws:lambda:us-east-1:000000000000:function:versioned:live",
        json!({}),
    )
    .await;
    assert_eq!(by_arn.payload["code"], "v1");

    let err = c
        .invoke()
        .function_name("versioned")
        .qualifier("9")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let err = c
        .get_alias()
        .function_name("versioned")
        .name("nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    let config = c
        .get_function_configuration()
        .function_name("versioned")
        .qualifier("1")
        .send()
        .await
        .unwrap();
    assert_eq!(config.version(), Some("1"));
    assert_eq!(config.state(), Some(&aws_sdk_lambda::types::State::Active));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_validates_without_running_and_event_runs_in_the_background() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--network", "host"]).await;
    let c = &engine.client;
    // The function reports each event to a listener of this test, on the host's loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        "import socket\ndef handler(e, c):\n    s = socket.create_connection(('127.0.0.1', {port}))\n    s.sendall(e['tag'].encode())\n    s.close()\n    return 'sent'\n"
    );
    create(c, "reporter", "python3.12", "app.handler", &[("app.py", &code)]).await;

    let dry = c
        .invoke()
        .function_name("reporter")
        .invocation_type(InvocationType::DryRun)
        .payload(Blob::new(r#"{"tag":"dry"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(dry.status_code(), 204);

    let event = c
        .invoke()
        .function_name("reporter")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(r#"{"tag":"event"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status_code(), 202);
    assert!(event.payload().is_none_or(|p| p.as_ref().is_empty()));

    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut got = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut socket, &mut got)
        .await
        .unwrap();
    assert_eq!(got, "event", "the Event invoke ran; the DryRun did not");
    let extra = tokio::time::timeout(Duration::from_millis(500), listener.accept()).await;
    assert!(extra.is_err(), "DryRun must not run the function");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_context_reaches_the_handler() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let c = &engine.client;
    let code = "def handler(e, c):\n    return c.client_context.custom\n";
    create(c, "ctx", "python3.12", "app.handler", &[("app.py", code)]).await;
    let context = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"run":"r-1"}}"#);
    let out = c
        .invoke()
        .function_name("ctx")
        .client_context(context)
        .send()
        .await
        .unwrap();
    let payload: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload, json!({"run": "r-1"}));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn functions_versions_and_aliases_survive_a_restart() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    create(
        &engine.client,
        "durable",
        "python3.12",
        "app.handler",
        &[("app.py", VERSIONED)],
    )
    .await;
    engine
        .client
        .publish_version()
        .function_name("durable")
        .send()
        .await
        .unwrap();
    engine
        .client
        .create_alias()
        .function_name("durable")
        .name("prod")
        .function_version("1")
        .send()
        .await
        .unwrap();
    engine.stop().await;

    let restarted = TestEngine::start(dir.path(), &[]).await;
    let listed = restarted.client.list_functions().send().await.unwrap();
    let names: Vec<_> = listed.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, ["durable"]);
    let out = invoke_qualified(&restarted.client, "durable", Some("prod"), json!({})).await;
    assert_eq!(
        (out.payload["code"].as_str(), out.executed_version.as_deref()),
        (Some("v1"), Some("1"))
    );

    restarted
        .client
        .delete_function()
        .function_name("durable")
        .send()
        .await
        .unwrap();
    let err = restarted
        .client
        .get_function()
        .function_name("durable")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception());
    restarted.stop().await;
    let again = TestEngine::start(dir.path(), &[]).await;
    assert!(
        again
            .client
            .list_functions()
            .send()
            .await
            .unwrap()
            .functions()
            .is_empty()
    );
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn list_functions_pages_with_a_marker() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    for i in 0..5 {
        create(
            &engine.client,
            &format!("fn-{i}"),
            "python3.12",
            "app.handler",
            &[("app.py", VERSIONED)],
        )
        .await;
    }
    let first = engine.client.list_functions().max_items(2).send().await.unwrap();
    assert_eq!(first.functions().len(), 2);
    let mut names: Vec<String> = first
        .functions()
        .iter()
        .filter_map(|f| f.function_name().map(str::to_string))
        .collect();
    let mut marker = first.next_marker().map(str::to_string);
    while let Some(m) = marker {
        let page = engine
            .client
            .list_functions()
            .max_items(2)
            .marker(m)
            .send()
            .await
            .unwrap();
        names.extend(
            page.functions()
                .iter()
                .filter_map(|f| f.function_name().map(str::to_string)),
        );
        marker = page.next_marker().map(str::to_string);
    }
    assert_eq!(names, ["fn-0", "fn-1", "fn-2", "fn-3", "fn-4"]);
    engine.stop().await;
}
