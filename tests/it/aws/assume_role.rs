//! A project's `assume_role_arn` and `external_id`: its own keys (from key storage) ask STS
//! for the role, and the role's credentials sign the Lambda calls. Checked on the wire
//! against an endpoint that serves STS AssumeRole and Lambda Invoke.

use parking_lot::Mutex;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::json;
use sqlx::PgPool;

use crate::support::service::TestService;

/// (what was called, its Authorization header, its body)
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

fn authorization(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

const ASSUMED: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAASSUMEDROLEKEY</AccessKeyId>
      <SecretAccessKey>assumed-secret</SecretAccessKey>
      <SessionToken>assumed-session-token</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLE:lambda-steps</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/deployer/lambda-steps</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#;

#[sqlx::test]
async fn the_projects_keys_assume_its_role_and_the_role_signs_the_invoke(db: PgPool) {
    let seen: Seen = Arc::default();
    let router = axum::Router::new()
        .route(
            "/",
            axum::routing::post(
                |State(seen): State<Seen>, headers: HeaderMap, body: String| async move {
                    seen.lock().push(("sts".into(), authorization(&headers), body));
                    ([("content-type", "text/xml")], ASSUMED)
                },
            ),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            axum::routing::get(|| async { axum::Json(json!({"FunctionName": "deploy", "Timeout": 3})) }),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(|State(seen): State<Seen>, headers: HeaderMap| async move {
                seen.lock()
                    .push(("invoke".into(), authorization(&headers), String::new()));
                ([("x-amz-executed-version", "$LATEST")], r#"{"deployed": true}"#)
            }),
        )
        .with_state(seen.clone());
    let fake = crate::support::fake_endpoint(router).await;

    let service = TestService::start(db, &[]).await;
    assert_eq!(service.put("/v1/projects/deploys", "").await, 201);
    assert_eq!(service.put("/v1/keys/deploys/secret", "source-secret-key").await, 201);
    let settings = json!({
        "project.aws.endpoint_url": fake,
        "project.aws.access_key": "AKIDSOURCEKEY",
        "project.aws.secret_key_path": "deploys/secret",
        "project.aws.assume_role_arn": "arn:aws:iam::123456789012:role/deployer",
        "project.aws.external_id": "ext-42",
    });
    assert_eq!(service.put_json("/v1/projects/deploys/settings", &settings).await, 200);

    let (status, run) = service
        .submit("deploys", json!({"type": "lambda_invoke", "function_name": "deploy"}))
        .await;
    assert_eq!(status, 202, "{run}");
    let done = service.wait_finished(run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let seen = seen.lock().clone();
    let sts: Vec<_> = seen.iter().filter(|(what, _, _)| what == "sts").collect();
    assert_eq!(sts.len(), 1, "{seen:?}");
    let (_, sts_auth, sts_body) = sts[0];
    assert!(
        sts_auth.contains("Credential=AKIDSOURCEKEY/"),
        "the project's own key asked STS: {sts_auth}"
    );
    assert!(sts_body.contains("Action=AssumeRole"), "{sts_body}");
    assert!(sts_body.contains("ExternalId=ext-42"), "{sts_body}");
    assert!(
        sts_body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeployer"),
        "{sts_body}"
    );
    let invoke = seen.iter().find(|(what, _, _)| what == "invoke").expect("an Invoke");
    assert!(
        invoke.1.contains("Credential=ASIAASSUMEDROLEKEY/"),
        "the role's credentials signed the Invoke: {}",
        invoke.1
    );
    service.stop().await;
}
