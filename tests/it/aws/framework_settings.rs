//! Framework AWS settings follow the rules project settings follow, checked when `serve`
//! starts: a wrong value from a flag, a variable or the file stops it with the setting named
//! (before this, such a value failed each run, or was taken as an endpoint the SDK refused).

use std::process::Stdio;
use std::time::Duration;

use sqlx::PgPool;

use crate::support::service::database_url;

/// `serve` with `args` and `env` on `db`, until it ends: its exit code and stderr.
async fn serve_ending(
    db: &PgPool,
    work: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--engine-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(work.join("data"))
        .args(args)
        .current_dir(work)
        .env("DATABASE_URL", database_url(db))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("serve ends by itself on a wrong setting")
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[sqlx::test]
async fn a_framework_value_its_rule_refuses_stops_the_start_with_the_setting_named(db: PgPool) {
    let work = tempfile::tempdir().unwrap();

    let (code, stderr) = serve_ending(&db, work.path(), &["--aws-endpoint-url", "localhost:9001"], &[]).await;
    assert_eq!(code, Some(2), "a usage error: {stderr}");
    assert!(
        stderr.contains("--aws-endpoint-url") && stderr.contains("must be embedded, aws, or an http(s) URL"),
        "{stderr}"
    );

    let variable = [("LAMBDA_STEPS_AWS_FUNCTION_CREDENTIALS", "keys")];
    let (code, stderr) = serve_ending(&db, work.path(), &[], &variable).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("LAMBDA_STEPS_AWS_FUNCTION_CREDENTIALS: must be role or none"),
        "{stderr}"
    );

    std::fs::write(
        work.path().join("lambda-steps.toml"),
        "[aws]\nsecret_key_path = \"../up\"\n",
    )
    .unwrap();
    let (code, stderr) = serve_ending(&db, work.path(), &[], &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("aws.secret_key_path must be a key storage path"),
        "{stderr}"
    );
}
