//! Environments under pressure: timeouts, crashes, runaway code (loops, memory, forks),
//! concurrency and its cap, idle reaping, oversized answers, missing interpreters, and
//! what user code can and cannot see.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use crate::support::{TestEngine, create, create_request, create_with, data_dir, invoke, zip};

const SLEEPER: &str =
    "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return c.log_stream_name\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_function_past_its_timeout_is_killed_and_reported_as_aws_does() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    create_with(
        &engine.client,
        "slow",
        "python3.12",
        "app.handler",
        &[("app.py", SLEEPER)],
        1,
        128,
    )
    .await;
    let out = invoke(&engine.client, "slow", json!({"sleep": 30})).await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(out.payload["errorType"], "Sandbox.Timedout");
    let message = out.payload["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("RequestId: ") && message.ends_with("Error: Task timed out after 1.00 seconds"),
        "{message}"
    );
    assert!(out.log.contains("Task timed out after 1.00 seconds"), "{}", out.log);
    assert!(out.log.contains("Status: timeout"), "{}", out.log);

    // A new environment takes over.
    let next = invoke(&engine.client, "slow", json!({})).await;
    assert_eq!(next.function_error, None, "{:?}", next.payload);
    assert_ne!(next.payload, out.payload);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn runaway_code_is_stopped_and_the_engine_stays_healthy() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--max-processes", "1024"]).await;
    let c = &engine.client;

    let spin = "def handler(e, c):\n    while True:\n        pass\n";
    create_with(c, "spin", "python3.12", "app.handler", &[("app.py", spin)], 2, 128).await;
    assert_eq!(
        invoke(c, "spin", json!({})).await.payload["errorType"],
        "Sandbox.Timedout"
    );

    let hog =
        "def handler(e, c):\n    blocks = []\n    while True:\n        blocks.append(bytearray(16 * 1024 * 1024))\n";
    create_with(c, "hog", "python3.12", "app.handler", &[("app.py", hog)], 20, 128).await;
    let out = invoke(c, "hog", json!({})).await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    // The memory cgroup of MemorySize kills it, as AWS does (RLIMIT_AS, where no memory
    // cgroup can be had, would raise MemoryError instead).
    assert_eq!(out.payload["errorType"], "Runtime.OutOfMemory", "{}", out.payload);

    let forks = "import os, time\ndef handler(e, c):\n    while True:\n        try:\n            if os.fork() == 0:\n                time.sleep(600)\n                os._exit(0)\n        except OSError:\n            time.sleep(0.01)\n";
    // Memory enough for its children (COW copies of the runtime): the process cap stops it.
    create_with(c, "forks", "python3.12", "app.handler", &[("app.py", forks)], 3, 2048).await;
    assert_eq!(
        invoke(c, "forks", json!({})).await.payload["errorType"],
        "Sandbox.Timedout"
    );

    // Had the forked children survived, the sandbox user would be out of processes and
    // no new environment could start.
    create(c, "after", "python3.12", "app.handler", &[("app.py", SLEEPER)]).await;
    let after = invoke(c, "after", json!({})).await;
    assert_eq!(after.function_error, None, "{:?} {}", after.payload, after.log);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_that_exits_mid_invoke_is_a_runtime_exit_error() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = "import os\ndef handler(e, c):\n    print('leaving')\n    os._exit(3)\n";
    create(
        &engine.client,
        "quitter",
        "python3.12",
        "app.handler",
        &[("app.py", code)],
    )
    .await;
    let out = invoke(&engine.client, "quitter", json!({})).await;
    let request_id = request_id_of(&out.log);
    // AWS's document, word for word.
    assert_eq!(
        out.payload,
        json!({"errorType": "Runtime.ExitError",
            "errorMessage": format!("RequestId: {request_id} Error: Runtime exited with error: exit status 3")})
    );
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert!(out.log.contains("leaving"), "{}", out.log);
    assert!(
        out.log.contains(&format!(
            "RequestId: {request_id} Error: Runtime exited with error: exit status 3\nRuntime.ExitError\n"
        )),
        "{}",
        out.log
    );

    // A clean exit (status 0) in the middle of an invocation gives no reason, in AWS's words.
    let clean = "import os\ndef handler(e, c):\n    os._exit(0)\n";
    create(
        &engine.client,
        "clean-quitter",
        "python3.12",
        "app.handler",
        &[("app.py", clean)],
    )
    .await;
    let out = invoke(&engine.client, "clean-quitter", json!({})).await;
    let request_id = request_id_of(&out.log);
    assert_eq!(
        out.payload,
        json!({"errorType": "Runtime.ExitError",
            "errorMessage": format!("RequestId: {request_id} Error: Runtime exited without providing a reason")})
    );
    assert!(
        out.log.contains(&format!(
            "RequestId: {request_id} Error: Runtime exited without providing a reason\nRuntime.ExitError\n"
        )),
        "{}",
        out.log
    );
    assert!(
        out.log.contains("Status: error\tError Type: Runtime.ExitError"),
        "{}",
        out.log
    );
    engine.stop().await;
}

/// The request id on the START line of a log tail.
fn request_id_of(log: &str) -> String {
    log.lines()
        .find_map(|l| l.strip_prefix("START RequestId: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no START line in {log}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_invokes_run_in_separate_environments_up_to_the_cap() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--max-environments", "3"]).await;
    create(
        &engine.client,
        "parallel",
        "python3.12",
        "app.handler",
        &[("app.py", SLEEPER)],
    )
    .await;
    let calls: Vec<_> = (0..9)
        .map(|_| {
            let client = engine.client.clone();
            tokio::spawn(async move { invoke(&client, "parallel", json!({"sleep": 0.5})).await })
        })
        .collect();
    let mut streams = HashSet::new();
    for call in calls {
        let out = call.await.unwrap();
        assert_eq!(out.function_error, None, "{:?}", out.payload);
        streams.insert(out.payload.as_str().unwrap().to_string());
    }
    assert_eq!(
        streams.len(),
        3,
        "nine overlapping invokes share exactly the three allowed environments: {streams:?}"
    );
    assert_eq!(
        engine.engine.idle_environments(),
        3,
        "all three stay warm for the next invokes"
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_short_invokes_waits_for_warm_environments_instead_of_cold_starting_each() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    create(
        &engine.client,
        "brisk",
        "python3.12",
        "app.handler",
        &[("app.py", SLEEPER)],
    )
    .await;
    // One cold start and a few warm invokes teach the engine both durations.
    for _ in 0..4 {
        invoke(&engine.client, "brisk", json!({})).await;
    }
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let client = engine.client.clone();
            tokio::spawn(async move { invoke(&client, "brisk", json!({})).await })
        })
        .collect();
    let mut streams = HashSet::new();
    let mut cold_starts = 0;
    for call in calls {
        let out = call.await.unwrap();
        assert_eq!(out.function_error, None, "{:?}", out.payload);
        streams.insert(out.payload.as_str().unwrap().to_string());
        cold_starts += usize::from(out.log.contains("Init Duration"));
    }
    // AWS would start an environment for each invoke that found none idle; on the
    // engine's shared cores a warm one frees up long before a runtime starts.
    assert!(
        cold_starts <= 4 && streams.len() <= 5,
        "16 overlapping 1 ms invokes cold-started {cold_starts} environments and used {}: {streams:?}",
        streams.len()
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_environments_are_reaped() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--idle-seconds", "1"]).await;
    create(
        &engine.client,
        "brief",
        "python3.12",
        "app.handler",
        &[("app.py", SLEEPER)],
    )
    .await;
    invoke(&engine.client, "brief", json!({})).await;
    assert_eq!(engine.engine.idle_environments(), 1);
    let mut waited = Duration::ZERO;
    while engine.engine.idle_environments() > 0 && waited < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    assert_eq!(engine.engine.idle_environments(), 0, "the idle environment was stopped");
    let cold_again = invoke(&engine.client, "brief", json!({})).await;
    assert!(cold_again.log.contains("Init Duration"), "{}", cold_again.log);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_over_6_mb_are_refused_as_aws_refuses_them() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = "def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n";
    create(&engine.client, "big", "python3.12", "app.handler", &[("app.py", code)]).await;
    let out = invoke(&engine.client, "big", json!({})).await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(out.payload["errorType"], "Function.ResponseSizeTooLarge");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_tail_is_the_last_4_kb_of_a_long_log() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = "import sys\ndef handler(e, c):\n    for i in range(2000):\n        print('line', i)\n    sys.stdout.write('no newline at the end')\n    return 'done'\n";
    create(
        &engine.client,
        "chatty",
        "python3.12",
        "app.handler",
        &[("app.py", code)],
    )
    .await;
    let out = invoke(&engine.client, "chatty", json!({})).await;
    assert_eq!(out.log.len(), 4096);
    assert!(
        out.log.contains("line 1999\nno newline at the end\nEND RequestId: "),
        "{}",
        out.log
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_interpreter_is_named_at_create_time() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--ruby", "/nonexistent/ruby"]).await;
    let err = create_request(&engine.client, "rb", "ruby3.3", "f.handler", zip(&[("f.rb", "")]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    assert!(format!("{err:?}").contains("apt-get install ruby"), "{err:?}");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_code_sees_neither_the_engine_environment_nor_its_data() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let code = format!(
        "import os\ndef handler(e, c):\n    try:\n        os.listdir({data:?})\n        data = 'readable'\n    except OSError:\n        data = 'hidden'\n    return {{'uid': os.getuid(), 'leaked': sorted(k for k in os.environ if k.startswith('CARGO')), 'data': data, 'cwd': os.getcwd(), 'tmp_writable': os.access(os.environ['TMPDIR'], os.W_OK)}}\n",
        data = dir.path().canonicalize().unwrap().display().to_string()
    );
    create(
        &engine.client,
        "nosy",
        "python3.12",
        "app.handler",
        &[("app.py", &code)],
    )
    .await;
    let out = invoke(&engine.client, "nosy", json!({})).await;
    assert_eq!(
        out.payload["leaked"],
        json!([]),
        "the engine's environment is not passed on"
    );
    assert_eq!(out.payload["tmp_writable"], true);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let uid = out.payload["uid"].as_u64().unwrap();
        assert!(uid >= 1_879_048_192, "a uid of the environment's own, not root: {uid}");
        assert_eq!(out.payload["data"], "hidden");
    }
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn network_none_cuts_user_code_off_everything_but_its_runtime_api() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        "import socket\ndef handler(e, c):\n    try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n        return 'reached the host'\n    except OSError as err:\n        return 'cut off: ' + type(err).__name__\n"
    );
    for (flags, expected) in [
        (&["--network", "host"][..], "reached the host"),
        (&["--network", "none"][..], "cut off: ConnectionRefusedError"),
    ] {
        let dir = data_dir();
        let engine = TestEngine::start(dir.path(), flags).await;
        create(
            &engine.client,
            "netcheck",
            "python3.12",
            "app.handler",
            &[("app.py", &code)],
        )
        .await;
        let out = invoke(&engine.client, "netcheck", json!({})).await;
        assert_eq!(out.function_error, None, "{flags:?}: {:?}\n{}", out.payload, out.log);
        assert_eq!(out.payload, json!(expected), "{flags:?}");
        // Warm invokes keep working through the namespace's listener.
        assert_eq!(
            invoke(&engine.client, "netcheck", json!({})).await.payload,
            json!(expected)
        );
        engine.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_busy_past_the_queue_timeout_is_throttled_with_429() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--max-environments", "1", "--queue-seconds", "1"]).await;
    create(
        &engine.client,
        "single",
        "python3.12",
        "app.handler",
        &[("app.py", SLEEPER)],
    )
    .await;
    let busy = {
        let client = engine.client.clone();
        tokio::spawn(async move { invoke(&client, "single", json!({"sleep": 4})).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let err = engine
        .client
        .invoke()
        .function_name("single")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_too_many_requests_exception(), "{err:?}");
    assert_eq!(busy.await.unwrap().function_error, None);
    engine.stop().await;
}
