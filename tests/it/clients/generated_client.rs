//! The committed spec is usable by a client generator: a Python client generated from
//! `openapi/openapi.json` by openapi-python-client (from the test venv) submits both step
//! kinds against the real service and reads the runs back through its generated models
//! (tests/generated_client.py).

use std::path::Path;

use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, TestService};
use crate::support::venv;

#[sqlx::test]
async fn a_client_generated_from_the_spec_submits_both_step_kinds_and_reads_the_runs(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(venv().join("bin/python"))
        .arg(root.join("tests/generated_client.py"))
        .arg(root.join("openapi/openapi.json"))
        .arg(&service.url)
        .arg(ADMIN_TOKEN)
        .arg(work.path())
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the generated client failed\n{stdout}\n{stderr}");
    assert!(stdout.contains("generated client: ok"), "{stdout}");
    service.stop().await;
}
