//! What contains user code: a fork bomb, a memory hog and a disk filler each stop at their
//! own environment's limits while other environments run; `/proc` shows an environment
//! its own processes only; uploaded archives are checked against Lambda's limits; and an
//! engine that cannot sandbox runs no user code, saying why, unless told `--isolation none`.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::TestService;
use crate::support::{TestEngine, create, create_request, create_with, data_dir, invoke, run_python_check, zip};

const SLEEPER: &str =
    "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return c.log_stream_name\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_bomb_stops_at_its_own_limit_and_other_environments_still_start() {
    // As root the limit is the pids cgroup or the environment's own uid's process count;
    // as an ordinary user, the process count inside the environment's own user namespace
    // (the escape suite's run as an ordinary user bombs alongside a running neighbour).
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--max-processes", "64"]).await;
    let c = &engine.client;
    // Forks until the kernel says no; the children live on after the handler returns.
    let bomb = "import os, time\ndef handler(e, c):\n    n = 0\n    while True:\n        try:\n            pid = os.fork()\n        except OSError:\n            return n\n        if pid == 0:\n            time.sleep(120)\n            os._exit(0)\n        n += 1\n";
    create_with(c, "bomb", "python3.12", "app.handler", &[("app.py", bomb)], 20, 128).await;
    create(c, "bystander", "python3.12", "app.handler", &[("app.py", SLEEPER)]).await;

    let forked = invoke(c, "bomb", json!({})).await;
    assert_eq!(forked.function_error, None, "{:?}\n{}", forked.payload, forked.log);
    let children = forked.payload.as_u64().unwrap();
    assert!(
        (32..64).contains(&children),
        "stopped near its own limit of 64: {children}"
    );

    // The bomb's environment stays warm with its children alive: a second bomb in an
    // environment of its own, and an unrelated function, still get their processes.
    let (again, bystander) = tokio::join!(invoke(c, "bomb", json!({})), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        invoke(c, "bystander", json!({})).await
    });
    assert_eq!(
        bystander.function_error, None,
        "{:?}\n{}",
        bystander.payload, bystander.log
    );
    assert_eq!(again.function_error, None, "{:?}", again.payload);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn proc_lists_the_environments_own_processes_only() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let c = &engine.client;
    let neighbour = "import subprocess, time\ndef handler(e, c):\n    p = subprocess.Popen(['sleep', '4242'])\n    time.sleep(3)\n    p.kill()\n    return 'done'\n";
    let looker = "import os\ndef handler(e, c):\n    seen = []\n    for p in os.listdir('/proc'):\n        if p.isdigit():\n            try:\n                seen.append(open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\\0', b' ').decode())\n            except OSError:\n                pass\n    return seen\n";
    create(c, "neighbour", "python3.12", "app.handler", &[("app.py", neighbour)]).await;
    create(c, "looker", "python3.12", "app.handler", &[("app.py", looker)]).await;
    let (_, seen) = tokio::join!(invoke(c, "neighbour", json!({})), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        invoke(c, "looker", json!({})).await
    });
    let processes: Vec<String> = serde_json::from_value(seen.payload.clone()).unwrap();
    assert!(processes.len() <= 3, "bubblewrap's init, the runtime: {processes:#?}");
    let engine_binary = std::env::current_exe().unwrap().display().to_string();
    for process in &processes {
        assert!(
            !process.contains("4242"),
            "another environment's process: {processes:#?}"
        );
        assert!(
            !process.contains(&engine_binary),
            "the engine's process: {processes:#?}"
        );
        assert!(!process.contains("postgres"), "a host process: {processes:#?}");
    }
    engine.stop().await;
}

/// Touches `mb` MB, so the pages are really used.
fn memory_user(mb: u32) -> String {
    format!(
        "def handler(e, c):\n    blocks = [b'\\x01' * (16 << 20) for _ in range({})]\n    return len(blocks)\n",
        mb / 16
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_past_memory_size_is_killed_as_aws_kills_it() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let c = &engine.client;
    let code = memory_user(256);
    create_with(c, "small", "python3.12", "app.handler", &[("app.py", &code)], 20, 128).await;
    create_with(c, "large", "python3.12", "app.handler", &[("app.py", &code)], 20, 512).await;

    let out = invoke(c, "small", json!({})).await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        out.payload["errorType"], "Runtime.OutOfMemory",
        "{}\n{}",
        out.payload, out.log
    );
    let message = out.payload["errorMessage"].as_str().unwrap();
    assert!(
        message.ends_with("Error: Runtime exited with error: signal: killed"),
        "{message}"
    );
    assert!(
        out.log.contains("Status: error\tError Type: Runtime.OutOfMemory"),
        "{}",
        out.log
    );

    let fits = invoke(c, "large", json!({})).await;
    assert_eq!(fits.function_error, None, "{:?}\n{}", fits.payload, fits.log);
    assert_eq!(fits.payload, json!(16));
    // The function that was killed starts afresh.
    assert_eq!(
        invoke(c, "small", json!({})).await.payload["errorType"],
        "Runtime.OutOfMemory"
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tmp_is_private_and_a_disk_filler_stops_at_ephemeral_storage() {
    let dir = data_dir();
    // Files may be larger than /tmp, so the tmpfs's size is what stops the writer.
    let engine = TestEngine::start(dir.path(), &["--file-size-mb", "4096"]).await;
    let c = &engine.client;
    let filler = "import os\ndef handler(e, c):\n    written = 0\n    chunk = b'x' * (1 << 20)\n    st = os.stat('/tmp')\n    try:\n        with open('/tmp/fill', 'wb', buffering=0) as f:\n            while True:\n                written += f.write(chunk)\n    except OSError as err:\n        return {'written': written, 'errno': err.errno, 'mode': oct(st.st_mode & 0o777), 'mine': st.st_uid == os.getuid()}\n";
    let peek = "import os\ndef handler(e, c):\n    open('/tmp/mine', 'wb').write(b'y' * (8 << 20))\n    return sorted(os.listdir('/tmp'))\n";
    let code = zip(&[("app.py", filler)]);
    create_request(c, "filler", "python3.12", "app.handler", code)
        .memory_size(1024)
        .timeout(60)
        .ephemeral_storage(
            aws_sdk_lambda::types::EphemeralStorage::builder()
                .size(600)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    create(c, "peek", "python3.12", "app.handler", &[("app.py", peek)]).await;

    let filled = invoke(c, "filler", json!({})).await;
    assert_eq!(filled.function_error, None, "{:?}\n{}", filled.payload, filled.log);
    assert_eq!(filled.payload["errno"], 28, "ENOSPC: {}", filled.payload);
    let written = filled.payload["written"].as_u64().unwrap();
    assert!(
        (590 << 20..=600 << 20).contains(&written),
        "stopped at EphemeralStorage (600 MB): {written}"
    );
    assert_eq!(filled.payload["mode"], "0o700");
    assert_eq!(filled.payload["mine"], true);

    // The filler's environment is warm with a full /tmp; another function's is its own.
    let peeked = invoke(c, "peek", json!({})).await;
    assert_eq!(peeked.function_error, None, "{:?}\n{}", peeked.payload, peeked.log);
    assert_eq!(peeked.payload, json!(["mine"]));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ephemeral_storage_is_stored_and_checked_as_lambda_checks_it() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let c = &engine.client;
    create(c, "sized", "python3.12", "app.handler", &[("app.py", SLEEPER)]).await;
    let got = c
        .get_function_configuration()
        .function_name("sized")
        .send()
        .await
        .unwrap();
    assert_eq!(got.ephemeral_storage().map(|e| e.size()), Some(512));
    let storage = |mb| {
        aws_sdk_lambda::types::EphemeralStorage::builder()
            .size(mb)
            .build()
            .unwrap()
    };
    let updated = c
        .update_function_configuration()
        .function_name("sized")
        .ephemeral_storage(storage(2048))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.ephemeral_storage().map(|e| e.size()), Some(2048));
    let err = c
        .update_function_configuration()
        .function_name("sized")
        .ephemeral_storage(storage(100))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    assert!(format!("{err:?}").contains("ephemeralStorage.size"), "{err:?}");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_sees_aws_errors_for_code_over_lambdas_limits() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let [(_, id), (_, secret)] = engine.key_env();
    run_python_check(
        "boto3_archive_limits.py",
        &[engine.url.as_ref(), id.as_ref(), secret.as_ref()],
        "boto3 archive limits: ok",
    )
    .await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_that_cannot_sandbox_refuses_invokes_naming_what_is_missing() {
    for (bwrap, missing) in [
        (
            "/nonexistent/bwrap",
            "bubblewrap is not installed at /nonexistent/bwrap",
        ),
        ("/bin/false", "/bin/false ended with exit status: 1"),
    ] {
        let dir = data_dir();
        let engine = TestEngine::start(dir.path(), &["--bwrap", bwrap]).await;
        let c = &engine.client;
        // The API works: functions are created, listed, read.
        create(c, "refused", "python3.12", "app.handler", &[("app.py", SLEEPER)]).await;
        assert_eq!(c.list_functions().send().await.unwrap().functions().len(), 1);

        let started = Instant::now();
        let err = c
            .invoke()
            .function_name("refused")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(started.elapsed() < Duration::from_secs(2), "at once");
        assert!(err.is_invalid_runtime_exception(), "{err:?}");
        let message = err.meta().message().unwrap_or_default().to_string();
        assert!(message.contains("runs no user code on this host"), "{message}");
        assert!(message.contains(missing), "{message}");
        assert!(message.contains("--isolation none"), "{message}");
        engine.stop().await;
    }

    // Said in so many words, the same host runs user code unconfined.
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--bwrap", "/nonexistent/bwrap", "--isolation", "none"]).await;
    create(
        &engine.client,
        "unconfined",
        "python3.12",
        "app.handler",
        &[("app.py", SLEEPER)],
    )
    .await;
    let out = invoke(&engine.client, "unconfined", json!({})).await;
    assert_eq!(out.function_error, None, "{:?}\n{}", out.payload, out.log);
    engine.stop().await;
}

#[sqlx::test]
async fn a_custom_code_run_on_an_engine_that_cannot_sandbox_fails_at_once_saying_why(db: PgPool) {
    let data = tempfile::tempdir().unwrap();
    let engine = TestEngine::start(&data.path().join("engine"), &["--bwrap", "/nonexistent/bwrap"]).await;
    let service = TestService::start_with_engine(db, engine, data, &[]).await;
    let started = Instant::now();
    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12",
            "code": "def lambda_handler(event, context):\n    return 1\n"}))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "fast, no retries: {:?}",
        started.elapsed()
    );
    assert_eq!(run["status"], "failed", "{run}");
    let message = run["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("InvalidRuntimeException: "), "{run}");
    assert!(message.contains("apt-get install bubblewrap"), "{run}");
    assert!(message.contains("--isolation none"), "{run}");
    let log = service.log(run["id"].as_str().unwrap()).await;
    assert!(
        log.iter()
            .any(|l| l.contains("Lambda refused the Invoke: InvalidRuntimeException")),
        "{log:#?}"
    );
    service.stop().await;
}
