//! The run page's timeline comes from the phase each runner line carries, not from its
//! words: a run whose every runner line is reworded shows the same timeline, and the trace
//! id of a run is shown beside it.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::browser::Browser;
use crate::support::service::{ADMIN_TOKEN, TestService};

/// The run page's timeline once the log's first chunk is read (its `cleaned up` phase is
/// the last line's but one); what it shows after a minute, if it never gets there.
async fn timeline(browser: &Browser, id: &str) -> Value {
    browser.goto(&format!("/runs/{id}")).await;
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    let deadline = std::time::Instant::now() + crate::support::browser::PATIENCE;
    loop {
        let phases = browser
            .js("return [...document.querySelectorAll('#timeline li')].map(li => li.dataset.phase)")
            .await;
        if phases.as_array().is_some_and(|p| p.len() >= 7) || std::time::Instant::now() > deadline {
            return phases;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[sqlx::test]
async fn reworded_runner_lines_leave_the_timeline_as_it_was(db: PgPool) {
    let service = TestService::start(db.clone(), &[]).await;
    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12",
                    "code": "def lambda_handler(event, context):\n    return 1\n"}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let expected = json!([
        "queued",
        "claimed",
        "creating",
        "invoking",
        "returned",
        "cleaned up",
        "finished"
    ]);

    let browser = Browser::open(&service.url).await;
    browser.goto("/runs").await;
    browser.sign_in(ADMIN_TOKEN).await;
    assert_eq!(timeline(&browser, &id).await, expected);

    // Every runner line says something else now; their phases stay.
    let reworded = sqlx::query(
        "UPDATE run_logs SET message = 'step ' || seq || ' happened' WHERE run_id = $1 AND source = 'runner'",
    )
    .bind(uuid::Uuid::parse_str(&id).unwrap())
    .execute(&db)
    .await
    .unwrap();
    assert!(reworded.rows_affected() >= 6);
    browser.goto("/runs").await;
    assert_eq!(
        timeline(&browser, &id).await,
        expected,
        "the timeline is read from the phases"
    );
    // The log's lines are drawn after the timeline that is read from them.
    browser.wait_text("#log", |log| log.contains("step 2 happened")).await;
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}
