//! StartLiveTail through the Rust SDK, on the wire: the SDK puts `streaming-` before the
//! endpoint's host for this operation and cannot be told not to, so a plain client never
//! reaches `http://127.0.0.1:<port>`; through the service's own transport (which resolves
//! `streaming-<endpoint host>` as the endpoint's host) a session starts and delivers what a
//! function prints while it runs.

use std::time::Duration;

use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Region};
use aws_sdk_cloudwatchlogs::error::SdkError;
use aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream;
use lambda_steps::lambda::transport::Transport;
use serde_json::json;

use crate::support::{TestEngine, create, data_dir, invoke};

const PRINTER: &str = "import time\ndef handler(event, context):\n    for i in range(event.get('lines', 0)):\n        print('tail line', i)\n        time.sleep(0.1)\n    return 'done'\n";

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_sdk_tails_the_engine_live_through_the_services_transport() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    create(
        &engine.client,
        "tailed",
        "python3.12",
        "app.handler",
        &[("app.py", PRINTER)],
    )
    .await;
    // The group exists once the function has run.
    invoke(&engine.client, "tailed", json!({})).await;

    let plain = tokio::time::timeout(
        Duration::from_secs(30),
        engine
            .logs_client()
            .start_live_tail()
            .log_group_identifiers("/aws/lambda/tailed")
            .send(),
    )
    .await
    .expect("a plain client gives up on streaming-127.0.0.1 within 30 s");
    match plain {
        Err(SdkError::DispatchFailure(failure)) => {
            let why = format!("{:?}", failure);
            assert!(why.contains("streaming-127.0.0.1") || failure.is_io(), "{why}");
        }
        other => panic!("a plain client reached streaming-127.0.0.1: {other:?}"),
    }

    let transport = Transport::network(Some(&engine.url));
    let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(engine.credentials())
            .endpoint_url(&engine.url)
            .http_client(transport.http.clone())
            .build(),
    );
    let mut session = tokio::time::timeout(
        Duration::from_secs(30),
        logs.start_live_tail()
            .log_group_identifiers("/aws/lambda/tailed")
            .send(),
    )
    .await
    .expect("the session answers within 30 s")
    .expect("the session starts");
    let lambda = engine.client.clone();
    let invoked = tokio::spawn(async move { invoke(&lambda, "tailed", json!({"lines": 10})).await });
    let mut started = false;
    let mut lines = Vec::new();
    while lines.len() < 10 {
        let event = tokio::time::timeout(Duration::from_secs(30), session.response_stream.recv())
            .await
            .expect("the session moves")
            .expect("no error in the stream")
            .expect("the session stays open");
        match event {
            StartLiveTailResponseStream::SessionStart(start) => {
                assert!(start.session_id().is_some());
                started = true;
            }
            StartLiveTailResponseStream::SessionUpdate(update) => {
                for result in update.session_results() {
                    let message = result.message().unwrap_or_default().trim_end().to_string();
                    if message.starts_with("tail line ") {
                        assert!(result.timestamp().is_some_and(|t| t > 0));
                        lines.push(message);
                    }
                }
            }
            other => panic!("unexpected {other:?}"),
        }
        // Lines arrive while the function runs, not with its answer.
        if lines.len() == 3 {
            assert!(
                !invoked.is_finished(),
                "the third line came after the function returned"
            );
        }
    }
    assert!(started, "sessionStart came first");
    let expected: Vec<String> = (0..10).map(|i| format!("tail line {i}")).collect();
    assert_eq!(lines, expected, "each line once, in order");
    invoked.await.unwrap();
    // An open session holds the engine's graceful stop (it waits for open requests).
    drop(session);
    engine.stop().await;
}
