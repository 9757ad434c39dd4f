//! The Python client (`clients/python`, lambda-steps-client), built as a user builds it,
//! passes its own pytest suite against a real service: submit, follow live, resume a cut
//! events stream from the last seq, fall back to polling, wait, errors, cancel.

use std::time::Duration;

use sqlx::PgPool;

use crate::clients::orchestrators::{built, root, run, venv};
use crate::support::service::{ADMIN_TOKEN, TestService};

#[sqlx::test]
async fn the_python_client_passes_its_suite_against_the_service(db: PgPool) {
    let built = built();
    let service = TestService::start(db, &[]).await;
    let mut pytest = std::process::Command::new(venv().join("bin/python"));
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(root().join("clients/python"))
        .env("PYTHONPATH", &built.site)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("LAMBDA_STEPS_URL", &service.url)
        .env("LAMBDA_STEPS_TOKEN", ADMIN_TOKEN);
    let ran = run(pytest, Duration::from_secs(300)).await;
    assert_eq!(ran.code, 0, "pytest failed:\n{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("9 passed"), "{}", ran.stdout);
    service.stop().await;
}
