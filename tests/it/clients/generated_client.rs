//! The committed spec is usable by a client generator: a Python client generated from
//! `openapi/openapi.json` by openapi-python-client (from the test venv) submits both step
//! kinds against the real service and reads the runs back through its generated models
//! (tests/generated_client.py).

use std::path::Path;

use sqlx::PgPool;

use crate::support::run_python_check;
use crate::support::service::{ADMIN_TOKEN, TestService};

#[sqlx::test]
async fn a_client_generated_from_the_spec_submits_both_step_kinds_and_reads_the_runs(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let spec = root.join("openapi/openapi.json");
    run_python_check(
        "generated_client.py",
        &[
            spec.as_ref(),
            service.url.as_ref(),
            ADMIN_TOKEN.as_ref(),
            work.path().as_ref(),
        ],
        "generated client: ok",
    )
    .await;
    service.stop().await;
}
