//! `lambda-steps replay RUN`: follows the replay, prints the difference, and exits 0 when
//! the outcomes match, 1 when they differ, 6 when the replay is refused.

use serde_json::json;
use sqlx::PgPool;

use super::{FAILING_PYTHON, Stage, python};
use crate::support::service::ADMIN_TOKEN;

/// Runs `lambda-steps replay` with `args`; answers (exit status, stdout, stderr).
async fn replay(stage: &Stage, args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"))
        .arg("replay")
        .args(args)
        .args(["--url", &stage.service.api])
        .env("LAMBDA_STEPS_TOKEN", ADMIN_TOKEN)
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[sqlx::test]
async fn the_exit_status_says_whether_the_outcomes_match(db: PgPool) {
    let stage = Stage::start(&db).await;
    stage
        .production
        .deploy("orders", python(&[("lambda_function.py", FAILING_PYTHON)]))
        .await;
    let original = stage
        .invoke(
            "orders",
            json!({"order": 7}),
            Some(json!({"custom": {"tenant": "acme"}})),
        )
        .await;
    let id = original["id"].as_str().unwrap();

    let (status, stdout, stderr) = replay(&stage, &[id]).await;
    assert_eq!(status, 0, "{stdout}\n{stderr}");
    // The replay's log, live, then the difference.
    assert!(stdout.contains("checking order 7"), "{stdout}");
    assert!(
        stdout.contains("error     = ValueError: order 7 refused for acme"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("same outcome"), "{stdout}");

    // New code, nothing published: refused (6), with the reason.
    stage
        .production
        .deploy(
            "orders",
            python(&[("lambda_function.py", "def lambda_handler(e, c):\n    return 'ok'\n")]),
        )
        .await;
    let (status, stdout, stderr) = replay(&stage, &[id]).await;
    assert_eq!(status, 6, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the replay was refused") && stderr.contains("accept_current_code"),
        "{stderr}"
    );

    // The current code, accepted: it succeeds where the original failed (1).
    let (status, stdout, stderr) = replay(&stage, &[id, "--accept-current-code"]).await;
    assert_eq!(status, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("status    ≠ failed"), "{stdout}");
    assert!(stdout.trim_end().ends_with("the outcomes differ"), "{stdout}");

    // A run that cannot be replayed: the service's refusal (6).
    let (status, _, stderr) = replay(&stage, &[&uuid::Uuid::new_v4().to_string()]).await;
    assert_eq!(status, 6, "{stderr}");
}
