//! `aws.endpoint_url = aws` with no access key: a real `serve` process signs with the AWS
//! default credential chain (here its environment variables), and honours the SDK's
//! `AWS_ENDPOINT_URL` (a VPC endpoint, say), checked on the wire at a fake endpoint.

use parking_lot::Mutex;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::json;
use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, ServeProcess};

#[sqlx::test]
async fn without_a_key_the_default_credential_chain_signs(db: PgPool) {
    let signed: Arc<Mutex<Vec<String>>> = Arc::default();
    let router = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/configuration",
            axum::routing::get(|| async { axum::Json(json!({"FunctionName": "nightly", "Timeout": 3})) }),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(
                |State(signed): State<Arc<Mutex<Vec<String>>>>, headers: HeaderMap| async move {
                    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
                    signed.lock().push(authorization.unwrap_or_default().to_string());
                    r#"{"ok": true}"#
                },
            ),
        )
        .with_state(signed.clone());
    let endpoint = crate::support::fake_endpoint(router).await;

    let work = tempfile::tempdir().unwrap();
    let env = [
        ("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN),
        ("AWS_ACCESS_KEY_ID", "AKIDFROMTHECHAIN"),
        ("AWS_SECRET_ACCESS_KEY", "chain-secret"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let service = ServeProcess::start(&db, work.path(), &["--aws-endpoint-url", "aws"], &env).await;
    let finished = service
        .run(json!({"type": "lambda_invoke", "function_name": "nightly"}))
        .await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["result"]["payload"], json!({"ok": true}));
    let signed = signed.lock().clone();
    assert_eq!(signed.len(), 1, "{signed:?}");
    assert!(signed[0].contains("Credential=AKIDFROMTHECHAIN/"), "{signed:?}");
}
