//! A replay's side effects are the caller's choice: by default the replayed function gets
//! no AWS credentials (boto3 says `Unable to locate credentials`, the log says why); with
//! `credentials: "role"` and `endpoint_url` at moto it calls STS as its execution role,
//! assumed with the project's keys, and the project's secret is shown nowhere.

use serde_json::json;
use sqlx::PgPool;

use super::{Stage, python};
use crate::aws::moto::moto;

const PROJECT_SECRET: &str = "project-secret-for-replays-4hT2";

const CALLS_STS: &str = r#"def lambda_handler(event, context):
    try:
        import boto3
        return {"arn": boto3.client("sts").get_caller_identity()["Arn"]}
    except Exception as e:
        return {"error": str(e)}
"#;

#[sqlx::test]
async fn no_credentials_by_default_and_the_execution_role_on_request(db: PgPool) {
    let moto = moto().await;
    let stage = Stage::start(&db).await;
    let stored = stage
        .http
        .put(format!("{}/v1/keys/aws/prod", stage.service.api))
        .header("content-type", "text/plain")
        .body(PROJECT_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status().as_u16(), 201);
    stage
        .settings(json!({"project.aws.endpoint_url": stage.production.url,
            "project.aws.access_key": "AKIDPRODUCTION", "project.aws.secret_key_path": "aws/prod"}))
        .await;
    stage
        .production
        .deploy("reporter", python(&[("lambda_function.py", CALLS_STS)]))
        .await;
    let original = stage.invoke("reporter", json!({}), None).await;
    let id = original["id"].as_str().unwrap();
    assert_eq!(original["status"], "succeeded", "{original}");

    // Only the credentials differ between the two replays: both calls go to moto.
    let bare = stage.replay(id, json!({"endpoint_url": moto.url})).await;
    let bare_log = stage.log(bare["id"].as_str().unwrap()).await;
    assert_eq!(bare["status"], "succeeded", "{bare}\n{bare_log:#?}");
    assert_eq!(
        bare["result"]["payload"]["error"], "Unable to locate credentials",
        "{bare}\n{bare_log:#?}"
    );
    assert!(
        bare_log
            .iter()
            .any(|l| l.contains("gets no AWS credentials (credentials: none, the default)")),
        "{bare_log:#?}"
    );

    let with_role = stage
        .replay(id, json!({"credentials": "role", "endpoint_url": moto.url}))
        .await;
    let log = stage.log(with_role["id"].as_str().unwrap()).await;
    assert_eq!(with_role["status"], "succeeded", "{with_role}\n{log:#?}");
    let arn = with_role["result"]["payload"]["arn"]
        .as_str()
        .unwrap_or_else(|| panic!("{with_role}\n{log:#?}"));
    assert!(
        arn.starts_with("arn:aws:sts::123456789012:assumed-role/reporter-role/"),
        "{arn}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("its AWS calls go to {}", moto.url))),
        "{log:#?}"
    );
    for text in [
        with_role.to_string(),
        log.join("\n"),
        std::fs::read_to_string(&stage.service.log).unwrap(),
    ] {
        assert!(!text.contains(PROJECT_SECRET), "{text}");
    }
}
