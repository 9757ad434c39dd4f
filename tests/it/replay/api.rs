//! Replay through the API: a Python and a Node.js function failing on production replay
//! on the engine with the same error and an empty difference; environment variables are
//! carried over and shown nowhere; changed code is refused unless the caller accepts it;
//! container images and Event invocations are refused with a reason.

use serde_json::json;
use sqlx::PgPool;

use super::{Deployment, FAILING_NODE, FAILING_PYTHON, Stage, python};

#[sqlx::test]
async fn failing_python_and_node_runs_replay_with_the_same_error_and_no_difference(db: PgPool) {
    let stage = Stage::start(&db).await;
    stage
        .production
        .deploy("orders-py", python(&[("lambda_function.py", FAILING_PYTHON)]))
        .await;
    stage
        .production
        .deploy(
            "orders-node",
            Deployment {
                layers: &[],
                runtime: "nodejs20.x",
                handler: "index.handler",
                files: &[("index.js", FAILING_NODE)],
                environment: &[],
                timeout: 10,
                memory: 256,
            },
        )
        .await;
    let context = json!({"custom": {"tenant": "acme"}});
    for (function, context, kind, message) in [
        ("orders-py", Some(context), "ValueError", "order 42 refused for acme"),
        ("orders-node", None, "TypeError", "card declined for order 42"),
    ] {
        let original = stage.invoke(function, json!({"order": 42}), context).await;
        let id = original["id"].as_str().unwrap();
        assert_eq!(original["status"], "failed", "{original}");
        assert_eq!(original["result"]["error"]["type"], kind, "{original}");
        assert_eq!(original["result"]["error"]["message"], message, "{original}");
        // What a replay needs, recorded at run time (never the environment).
        let recorded = &original["result"]["function"];
        assert_eq!(recorded["name"], function, "{original}");
        assert_eq!(recorded["version"], "$LATEST");
        assert!(
            recorded["code_sha256"].as_str().is_some_and(|s| s.len() == 44),
            "{recorded}"
        );
        assert_eq!(recorded["memory_mb"], 256);
        assert_eq!(recorded["timeout_seconds"], 10);
        assert_eq!(recorded["architecture"], "x86_64");

        let downloads = stage.production.downloads();
        let replay = stage.replay(id, json!({})).await;
        let replay_id = replay["id"].as_str().unwrap();
        let log = stage.log(replay_id).await;
        assert_eq!(replay["status"], "failed", "{replay}\n{log:#?}");
        assert_eq!(replay["error"]["code"], "function_error", "{replay}");
        assert_eq!(replay["result"]["error"]["type"], kind, "{replay}");
        assert_eq!(replay["result"]["error"]["message"], message, "{replay}");
        assert_eq!(replay["step"], original["step"]);
        assert_eq!(
            stage.production.downloads(),
            downloads + 1,
            "the code came from Code.Location"
        );
        assert!(
            log.iter().any(|l| l.contains("CodeSha256") && l.contains("checked")),
            "{log:#?}"
        );
        assert!(
            log.iter().any(|l| l.starts_with("deleted function lambda-steps-")),
            "{log:#?}"
        );

        let diff = stage.diff(replay_id).await;
        assert_eq!(diff["finished"], true, "{diff}");
        assert_eq!(diff["same_outcome"], true, "{diff}");
        assert_eq!(diff["status"]["same"], true);
        assert_eq!(diff["error"]["same"], true);
        assert_eq!(diff["payload"]["changes"], json!([]), "{diff}");
        assert_eq!(diff["printed_same"], true, "{diff}");
        let printed = diff["printed"].as_array().unwrap();
        assert!(
            printed
                .iter()
                .any(|p| p["original"].as_str().unwrap_or_default().contains("42")),
            "{diff}"
        );
        assert!(diff["duration_ms"]["replay"].as_f64().is_some(), "{diff}");
        assert!(diff["max_memory_mb"]["replay"].as_f64().is_some(), "{diff}");
        // The same difference from the original's side (its newest replay), and the links.
        assert_eq!(stage.diff(id).await["replay"], replay_id);
        let (_, original_now) = stage.get(&format!("/v1/runs/{id}")).await;
        assert_eq!(original_now["replays"], json!([replay_id]));
        // A replay is not replayed again.
        let (status, refused) = stage.ask_replay(replay_id, json!({})).await;
        assert_eq!(status, 409, "{refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains(id), "{refused}");
    }
    // No temporary function is left on the engine.
    let engine = crate::support::signed_client(&stage.service.engine, stage.service.engine_credentials());
    let left = engine.list_functions().send().await.unwrap();
    assert!(left.functions().is_empty(), "{:?}", left.functions());
}

const SECRET: &str = "s3cr3t-replay-token-71f0a";

const USES_THE_SECRET: &str = r#"import hashlib
import os

def lambda_handler(event, context):
    token = os.environ["PAYMENT_TOKEN"]
    print("mode", os.environ["MODE"])
    return {"mode": os.environ["MODE"], "token_fingerprint": hashlib.sha256(token.encode()).hexdigest()[:12]}
"#;

#[sqlx::test]
async fn environment_variables_are_carried_over_and_shown_nowhere(db: PgPool) {
    let stage = Stage::start(&db).await;
    stage
        .production
        .deploy(
            "payments",
            Deployment {
                environment: &[("PAYMENT_TOKEN", SECRET), ("MODE", "strict")],
                ..python(&[("lambda_function.py", USES_THE_SECRET)])
            },
        )
        .await;
    let original = stage.invoke("payments", json!({}), None).await;
    let id = original["id"].as_str().unwrap();
    assert_eq!(original["status"], "succeeded", "{original}");
    let replay = stage.replay(id, json!({})).await;
    let replay_id = replay["id"].as_str().unwrap();
    let log = stage.log(replay_id).await;
    assert_eq!(replay["status"], "succeeded", "{replay}\n{log:#?}");
    // The answer depends on both variables: without them the replay would fail (KeyError).
    assert_eq!(replay["result"]["payload"], original["result"]["payload"], "{replay}");
    assert_eq!(replay["result"]["payload"]["mode"], "strict");
    assert!(
        log.iter()
            .any(|l| l.contains("2 environment variable(s) carried over (values not shown)")),
        "{log:#?}"
    );
    let diff = stage.diff(replay_id).await;
    assert_eq!(diff["same_outcome"], true, "{diff}");

    // The secret is nowhere: the runs, their logs, the difference, the lists, the service log.
    let (_, list) = stage.get("/v1/projects/default/runs").await;
    let (_, original_now) = stage.get(&format!("/v1/runs/{id}")).await;
    let original_log = stage.log(id).await;
    for (what, text) in [
        ("original", original_now.to_string()),
        ("replay", replay.to_string()),
        ("diff", diff.to_string()),
        ("list", list.to_string()),
        ("original log", original_log.join("\n")),
        ("replay log", log.join("\n")),
        ("service log", std::fs::read_to_string(&stage.service.log).unwrap()),
    ] {
        assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
    }
    // The control: the variable's value is where the check looks (the production function has it).
    let function = stage
        .production
        .backend
        .client
        .get_function_configuration()
        .function_name("payments-deploy-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        function.environment().unwrap().variables().unwrap()["PAYMENT_TOKEN"],
        SECRET
    );
}

const VERSION_ONE: &str = "def lambda_handler(event, context):\n    raise RuntimeError('version one failed')\n";
const VERSION_TWO: &str = "def lambda_handler(event, context):\n    return {'fixed': True}\n";

#[sqlx::test]
async fn changed_code_is_refused_unless_a_version_keeps_it_or_the_caller_accepts_it(db: PgPool) {
    let stage = Stage::start(&db).await;
    stage
        .production
        .deploy("billing", python(&[("lambda_function.py", VERSION_ONE)]))
        .await;
    let original = stage.invoke("billing", json!({}), None).await;
    let id = original["id"].as_str().unwrap();
    assert_eq!(
        original["result"]["error"]["message"], "version one failed",
        "{original}"
    );
    // A new $LATEST, nothing published: the code that ran is gone.
    stage
        .production
        .deploy("billing", python(&[("lambda_function.py", VERSION_TWO)]))
        .await;
    let refused = stage.replay(id, json!({})).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["error"]["code"], "replay_refused", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the code of billing:$LATEST changed since the run")
            && message.contains("no published version holds the recorded code")
            && message.contains("accept_current_code"),
        "{message}"
    );
    let log = stage.log(refused["id"].as_str().unwrap()).await;
    assert!(
        !log.iter().any(|l| l.starts_with("creating function")),
        "nothing was created: {log:#?}"
    );

    // Accepted: the current code runs, and the difference says the outcomes differ.
    let current = stage.replay(id, json!({"accept_current_code": true})).await;
    assert_eq!(current["status"], "succeeded", "{current}");
    let diff = stage.diff(current["id"].as_str().unwrap()).await;
    assert_eq!(diff["same_outcome"], false, "{diff}");
    assert_eq!(diff["status"]["original"], "failed");
    assert_eq!(diff["status"]["replay"], "succeeded");
    assert_eq!(diff["error"]["same"], false);

    // A published version that keeps the recorded code is replayed instead.
    stage
        .production
        .deploy("ledger", python(&[("lambda_function.py", VERSION_ONE)]))
        .await;
    let original = stage.invoke("ledger", json!({}), None).await;
    stage.production.publish("ledger");
    stage
        .production
        .deploy("ledger", python(&[("lambda_function.py", VERSION_TWO)]))
        .await;
    let kept = stage.replay(original["id"].as_str().unwrap(), json!({})).await;
    let log = stage.log(kept["id"].as_str().unwrap()).await;
    assert_eq!(
        kept["result"]["error"]["message"], "version one failed",
        "{kept}\n{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("published version 1 holds the recorded code")),
        "{log:#?}"
    );

    // A numbered version that ran and was deleted since, its code nowhere else: refused.
    stage
        .production
        .deploy("archive", python(&[("lambda_function.py", VERSION_ONE)]))
        .await;
    let version = stage.production.publish("archive");
    let original = stage
        .service
        .run(json!({"type": "lambda_invoke", "function_name": "archive", "qualifier": version}))
        .await;
    assert_eq!(original["result"]["function"]["version"], version, "{original}");
    stage.production.delete_version("archive", &version);
    stage
        .production
        .deploy("archive", python(&[("lambda_function.py", VERSION_TWO)]))
        .await;
    let refused = stage.replay(original["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(refused["error"]["code"], "replay_refused", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("version 1 of archive no longer exists"),
        "{refused}"
    );
}

#[sqlx::test]
async fn images_event_invocations_and_unfinished_runs_are_refused_with_a_reason(db: PgPool) {
    let stage = Stage::start(&db).await;
    stage
        .production
        .deploy("packaged", python(&[("lambda_function.py", VERSION_TWO)]))
        .await;
    stage.production.make_image("packaged");
    let original = stage.invoke("packaged", json!({}), None).await;
    let (status, refused) = stage.ask_replay(original["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("container image"),
        "{refused}"
    );

    let event = stage
        .service
        .run(json!({"type": "lambda_invoke", "function_name": "packaged", "invocation_type": "Event"}))
        .await;
    let (status, refused) = stage.ask_replay(event["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]["message"].as_str().unwrap().contains("Event"),
        "{refused}"
    );

    let (status, refused) = stage
        .ask_replay(original["id"].as_str().unwrap(), json!({"credentials": "admin"}))
        .await;
    assert_eq!(status, 422, "{refused}");
    let (status, _) = stage.ask_replay(&uuid::Uuid::new_v4().to_string(), json!({})).await;
    assert_eq!(status, 404);
}

const CUSTOM: &str =
    "def lambda_handler(event, context):\n    print('dividing', event['n'])\n    return 10 / event['n']\n";

#[sqlx::test]
async fn runs_on_the_engine_itself_replay_too(db: PgPool) {
    let stage = Stage::start(&db).await;
    let put = stage
        .http
        .put(format!("{}/v1/projects/local", stage.service.api))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    // Custom code: the step is the code.
    // The original keeps its function; the replay's is temporary all the same.
    let custom = json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": CUSTOM, "payload": {"n": 0},
        "keep_function": true});
    let (status, run) =
        crate::support::service_client::submit(&stage.http, &stage.service.api, "local", &custom, None).await;
    assert_eq!(status, 202, "{run}");
    let original = stage.finished(run["id"].as_str().unwrap()).await;
    assert_eq!(original["result"]["error"]["type"], "ZeroDivisionError", "{original}");
    let replay = stage.replay(original["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(replay["result"]["error"]["type"], "ZeroDivisionError", "{replay}");
    assert_eq!(stage.diff(replay["id"].as_str().unwrap()).await["same_outcome"], true);
    let engine = crate::support::signed_client(&stage.service.engine, stage.service.engine_credentials());
    let kept = engine.list_functions().send().await.unwrap();
    let names: Vec<&str> = kept.functions().iter().filter_map(|f| f.function_name()).collect();
    let original_function = format!("lambda-steps-{}", original["id"].as_str().unwrap().replace('-', ""));
    assert_eq!(
        names,
        [original_function.as_str()],
        "only the original's function is kept"
    );

    // An Invoke of a function on the engine: its code comes from the engine's own copy.
    crate::support::create(
        &engine,
        "divider",
        "python3.12",
        "lambda_function.lambda_handler",
        &[("lambda_function.py", CUSTOM)],
    )
    .await;
    let invoke = json!({"type": "lambda_invoke", "function_name": "divider", "payload": {"n": 4}});
    let (_, run) =
        crate::support::service_client::submit(&stage.http, &stage.service.api, "local", &invoke, None).await;
    let original = stage.finished(run["id"].as_str().unwrap()).await;
    assert_eq!(original["result"]["payload"], 2.5, "{original}");
    let replay = stage.replay(original["id"].as_str().unwrap(), json!({})).await;
    let log = stage.log(replay["id"].as_str().unwrap()).await;
    assert_eq!(replay["result"]["payload"], 2.5, "{replay}\n{log:#?}");
    let diff = stage.diff(replay["id"].as_str().unwrap()).await;
    assert_eq!(diff["same_outcome"], true, "{diff}");
    assert_eq!(diff["printed_same"], true, "{diff}");
}

/// Creates a token; answers it.
async fn token(stage: &Stage, role: &str, project: &str) -> String {
    let created: serde_json::Value = stage
        .http
        .post(format!("{}/v1/tokens", stage.service.api))
        .json(&json!({"name": format!("{role}-{project}"), "role": role, "project": project}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string()
}

#[sqlx::test]
async fn runners_and_admins_of_the_project_replay_readers_see_the_difference(db: PgPool) {
    let stage = Stage::start(&db).await;
    let put = stage
        .http
        .put(format!("{}/v1/projects/beta", stage.service.api))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    stage
        .production
        .deploy("orders", python(&[("lambda_function.py", VERSION_ONE)]))
        .await;
    let original = stage.invoke("orders", json!({}), None).await;
    let id = original["id"].as_str().unwrap();
    let runner = crate::support::service::authorized(&token(&stage, "runner", "default").await);
    let reader = crate::support::service::authorized(&token(&stage, "reader", "default").await);
    let other = crate::support::service::authorized(&token(&stage, "runner", "beta").await);
    let replay_url = format!("{}/v1/runs/{id}/replay", stage.service.api);
    let status = |client: reqwest::Client| {
        let url = replay_url.clone();
        async move { client.post(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(reader.clone()).await, 403);
    assert_eq!(status(other.clone()).await, 404);
    assert_eq!(status(reqwest::Client::new()).await, 401);
    // The runner's replay, without a body.
    let answer = runner.post(&replay_url).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    let replay: serde_json::Value = answer.json().await.unwrap();
    let replay_id = replay["id"].as_str().unwrap();
    stage.finished(replay_id).await;
    let diff_url = format!("{}/v1/runs/{replay_id}/replay-diff", stage.service.api);
    let diff: serde_json::Value = reader.get(&diff_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(diff["same_outcome"], true, "{diff}");
    assert_eq!(other.get(&diff_url).send().await.unwrap().status().as_u16(), 404);
    // A run never replayed has no difference to show.
    let lone = stage.invoke("orders", json!({}), None).await;
    let (status, _) = stage
        .get(&format!("/v1/runs/{}/replay-diff", lone["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 404);
}

const USES_THE_LAYER: &str =
    "from greeting import greet\n\ndef lambda_handler(event, context):\n    return greet(event['name'])\n";

#[sqlx::test]
async fn a_layers_python_packages_are_carried_beside_the_code(db: PgPool) {
    let stage = Stage::start(&db).await;
    let layer = stage.production.publish_layer(
        "greetings",
        &[
            ("python/greeting.py", "def greet(name):\n    return 'hello ' + name\n"),
            ("bin/tool", "#!/bin/sh\n"),
        ],
    );
    stage
        .production
        .deploy(
            "greeter",
            Deployment {
                layers: &[&layer],
                ..python(&[("lambda_function.py", USES_THE_LAYER)])
            },
        )
        .await;
    let original = stage.invoke("greeter", json!({"name": "ops"}), None).await;
    assert_eq!(original["result"]["payload"], "hello ops", "{original}");
    assert_eq!(original["result"]["function"]["layers"], json!([layer]));
    let replay = stage.replay(original["id"].as_str().unwrap(), json!({})).await;
    let log = stage.log(replay["id"].as_str().unwrap()).await;
    assert_eq!(replay["result"]["payload"], "hello ops", "{replay}\n{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("1 file(s) carried beside the code; 1 outside python/ and nodejs/ not carried")),
        "{log:#?}"
    );
}

#[sqlx::test]
async fn the_sweeper_deletes_a_replays_function_left_on_the_engine(db: PgPool) {
    // No project's runs go to the engine here: only replays put functions on it.
    let stage = Stage::start_with(&db, &["--sweep-seconds", "1"]).await;
    stage
        .production
        .deploy("orders", python(&[("lambda_function.py", VERSION_ONE)]))
        .await;
    let original = stage.invoke("orders", json!({}), None).await;
    let replay = stage.replay(original["id"].as_str().unwrap(), json!({})).await;
    // What a crash between creating the function and deleting it leaves behind.
    let left = format!("lambda-steps-{}", replay["id"].as_str().unwrap().replace('-', ""));
    let engine = crate::support::signed_client(&stage.service.engine, stage.service.engine_credentials());
    crate::support::create(
        &engine,
        &left,
        "python3.12",
        "lambda_function.lambda_handler",
        &[("lambda_function.py", VERSION_TWO)],
    )
    .await;
    for _ in 0..100 {
        if engine.get_function().function_name(&left).send().await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the sweeper left {left} on the engine");
}

#[sqlx::test]
async fn a_replay_whose_earlier_attempt_left_its_function_uses_it_then_deletes_it(db: PgPool) {
    let stage = Stage::start_with(&db, &["--workers", "1"]).await;
    stage
        .production
        .deploy("orders", python(&[("lambda_function.py", VERSION_ONE)]))
        .await;
    stage
        .production
        .deploy(
            "slow",
            python(&[(
                "lambda_function.py",
                "import time\ndef lambda_handler(e, c):\n    time.sleep(4)\n",
            )]),
        )
        .await;
    let original = stage.invoke("orders", json!({}), None).await;
    // The one worker is busy, so the replay waits in the queue meanwhile.
    let busy = stage
        .service
        .submit(json!({"type": "lambda_invoke", "function_name": "slow"}))
        .await;
    for _ in 0..200 {
        if stage.get(&format!("/v1/runs/{busy}")).await.1["status"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, replay) = stage.ask_replay(original["id"].as_str().unwrap(), json!({})).await;
    assert_eq!((status, &replay["status"]), (202, &json!("queued")), "{replay}");
    let replay_id = replay["id"].as_str().unwrap();
    // What an attempt killed between its CreateFunction and its Invoke leaves behind.
    let left = format!("lambda-steps-{}", replay_id.replace('-', ""));
    let engine = crate::support::signed_client(&stage.service.engine, stage.service.engine_credentials());
    crate::support::create(
        &engine,
        &left,
        "python3.12",
        "lambda_function.lambda_handler",
        &[("lambda_function.py", VERSION_ONE)],
    )
    .await;

    let replayed = stage.finished(replay_id).await;
    let log = stage.log(replay_id).await;
    assert_eq!(replayed["error"]["code"], "function_error", "{replayed}\n{log:#?}");
    assert_eq!(
        replayed["result"]["error"]["message"], "version one failed",
        "{replayed}"
    );
    for line in [
        format!("function {left} exists: an earlier attempt of this run created it"),
        format!("deleted function {left}"),
    ] {
        assert!(log.contains(&line), "{line:?} missing: {log:#?}");
    }
    assert!(
        crate::support::function_is_gone(&engine, &left).await,
        "{left} outlived the replay"
    );
}
