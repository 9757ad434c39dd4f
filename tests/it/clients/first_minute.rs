//! The first minute, as a person meets it, through the real binary: a taken port is named
//! with the flag and variable that move it (no backtrace); `serve` says where its console,
//! API, admin token and engine key are, with no colour codes when its log is not a terminal;
//! the client finds that token by itself; `lambda-local` prints its key as exports the AWS
//! CLI takes; `--log-format json` writes one JSON object a line.

use std::process::Stdio;
use std::time::Duration;

use sqlx::PgPool;
use tokio::io::AsyncBufReadExt;

use crate::clients::cli::run_cli;
use crate::support::service::ServeProcess;

#[tokio::test]
async fn serve_on_a_taken_address_says_which_and_how_to_move_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"))
        .args(["serve", "--listen", &address])
        .env("RUST_BACKTRACE", "1")
        // Nothing answers here: the address is checked before the database.
        .env("DATABASE_URL", "postgres://127.0.0.1:1/none")
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {address}: the address is already in use")),
        "{stderr}"
    );
    assert!(
        stderr.contains("--listen") && stderr.contains("LAMBDA_STEPS_LISTEN"),
        "{stderr}"
    );
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

#[tokio::test]
async fn log_format_json_writes_one_object_a_line() {
    let data = tempfile::tempdir().unwrap();
    let mut engine = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"))
        .args(["lambda-local", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("LAMBDA_STEPS_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(engine.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await {
        let object: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON object ({e}): {line:?}"));
        assert!(
            object["level"].is_string() && object["fields"]["message"].is_string(),
            "{object}"
        );
        let listening = line.contains("embedded Lambda engine listening");
        seen.push(line);
        if listening {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.contains("listening")), "{seen:#?}");
    engine.kill().await.unwrap();
}

#[sqlx::test]
async fn serve_says_where_its_api_and_token_are_and_the_client_finds_the_token(db: PgPool) {
    let work = tempfile::tempdir().unwrap();
    // No LAMBDA_STEPS_ADMIN_TOKEN: the token is generated into the data directory.
    let service = ServeProcess::start(&db, work.path(), &[], &[]).await;
    let log = std::fs::read_to_string(&service.log).unwrap();
    let token_file = work.path().join("lambda-steps-data/admin-token");
    assert!(log.contains(&format!("API {}/v1", service.api)), "{log}");
    assert!(log.contains(&format!("console {}/ ", service.api)), "{log}");
    assert!(
        log.contains(&format!("admin token in {}", token_file.display())),
        "{log}"
    );
    assert!(
        !log.contains('\x1b'),
        "no colour codes in a log that is not a terminal:\n{log}"
    );
    // The engine's key: its id and the file of its secret, never the secret.
    let data_dir = work.path().join("lambda-steps-data").canonicalize().unwrap();
    let key = lambda_engine::auth::EngineKey::load(None, None, &data_dir).unwrap();
    let key_file = data_dir.join("engine-credentials");
    assert!(
        log.contains(&format!(
            "signed with its access key {}; the secret is in {}",
            key.access_key_id,
            key_file.display()
        )),
        "{log}"
    );
    assert!(!log.contains(key.secret_access_key.expose()), "{log}");

    // Run from the service's directory with no token: the client reads the same file.
    let mut client = crate::clients::cli::cli(&service.api, "", &["runs"]);
    client.env_remove("LAMBDA_STEPS_TOKEN").current_dir(work.path());
    let output = client.output().await.unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = std::fs::read_to_string(&token_file).unwrap();
    let (status, _, err) = run_cli(&service.api, "", &["runs"]).await;
    assert_eq!(status, 6, "elsewhere, without a token: refused");
    assert!(err.contains("rejected the token (none was given"), "{err}");
    assert!(!err.contains(token.trim()), "the token is never printed");
}

#[tokio::test]
async fn lambda_local_prints_its_key_as_exports_the_aws_cli_takes() {
    let data = tempfile::tempdir().unwrap();
    let port = crate::support::free_port();
    let mut engine = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"))
        .args(["lambda-local", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(engine.stdout.take().unwrap()).lines();
    let mut exports = None;
    while let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await {
        if let Some((_, rest)) = line.split_once("export ") {
            exports = Some(rest.to_string());
            break;
        }
    }
    let exports = exports.expect("lambda-local prints export AWS_ACCESS_KEY_ID=...");
    let env: Vec<(String, String)> = exports
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let key = lambda_engine::auth::EngineKey::load(None, None, &data.path().canonicalize().unwrap()).unwrap();
    assert_eq!(env[0], ("AWS_ACCESS_KEY_ID".into(), key.access_key_id.clone()));
    assert_eq!(
        env[1],
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            key.secret_access_key.expose().to_string()
        )
    );
    let listed = tokio::process::Command::new(crate::support::venv().join("bin/aws"))
        .args([
            "lambda",
            "list-functions",
            "--endpoint-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .envs(env)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .await
        .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    engine.kill().await.unwrap();
}
