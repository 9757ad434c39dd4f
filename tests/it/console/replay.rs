//! Replay from a run's page: a run that failed on an AWS-like production endpoint is
//! replayed with one click on the embedded engine, and the page shows the two runs
//! compared; the function's secret environment variable appears nowhere on the page.

use serde_json::json;
use sqlx::PgPool;

use crate::replay::{Stage, python};
use crate::support::browser::Browser;
use crate::support::service::ADMIN_TOKEN;

const SECRET: &str = "console-replay-secret-88aa";

const FAILS_WITH_THE_KEY: &str = r#"import os

def lambda_handler(event, context):
    key = os.environ["UPSTREAM_KEY"]
    print("calling upstream for", event["customer"])
    raise PermissionError(f"upstream refused a key of {len(key)} characters")
"#;

#[sqlx::test]
async fn one_click_on_replay_shows_the_comparison(db: PgPool) {
    let stage = Stage::start(&db).await;
    stage
        .production
        .deploy(
            "upstream-sync",
            crate::replay::Deployment {
                environment: &[("UPSTREAM_KEY", SECRET)],
                ..python(&[("lambda_function.py", FAILS_WITH_THE_KEY)])
            },
        )
        .await;
    let original = stage.invoke("upstream-sync", json!({"customer": "c-19"}), None).await;
    let id = original["id"].as_str().unwrap();
    assert_eq!(original["status"], "failed", "{original}");

    let browser = Browser::open(&stage.service.api).await;
    browser.goto("/runs").await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.goto(&format!("/runs/{id}")).await;
    browser.wait_for("#replay-button").await;
    browser.click("#replay-button").await;
    let verdict = browser
        .wait_text("#replay-verdict", |t| !t.is_empty() && !t.contains("Replaying"))
        .await;
    assert!(verdict.contains("Same outcome"), "{verdict}");
    let table = browser.text("#replay-table").await;
    assert!(
        table.contains("PermissionError: upstream refused a key of 26 characters"),
        "{table}"
    );
    let printed = browser.text("#replay-printed").await;
    assert_eq!(printed.matches("calling upstream for c-19").count(), 2, "{printed}");

    // The replay's own page shows the same comparison.
    let (_, original_now) = stage.get(&format!("/v1/runs/{id}")).await;
    let replay_id = original_now["replays"][0].as_str().unwrap().to_string();
    browser.click("#replay-link").await;
    browser.wait_path(&format!("/runs/{replay_id}")).await;
    let verdict = browser
        .wait_text("#replay-verdict", |t| t.contains("Same outcome"))
        .await;
    assert!(verdict.contains("Same outcome"));
    assert!(
        !browser.has("#replay-button").await,
        "a replay offers no replay of itself"
    );

    let page = browser.js("return document.documentElement.outerHTML").await;
    assert!(!page.to_string().contains(SECRET), "the page shows the secret");
    browser.finish(ADMIN_TOKEN, &[]).await;
}
