//! A run with 100,000 log lines opens in a browser in under 2 s: its first lines visible and
//! its last line reached by scrolling to the end (the page fetches only the chunks in view). The lines go in through the store, as
//! the log writer puts them, after the real lines of a real (failed) run.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

use lambda_steps::domain::run::{LogLevel, LogSource};
use lambda_steps::store::logs::{NewLogLine, insert_batch};

use crate::support::browser::Browser;
use crate::support::service::{ADMIN_TOKEN, TestService};

const LINES: i64 = 100_000;

#[sqlx::test]
async fn a_run_with_100_000_log_lines_opens_and_scrolls_to_its_end_in_under_2_s(db: PgPool) {
    let service = TestService::start(db.clone(), &[]).await;
    let run = service
        .run(json!({"type": "lambda_invoke", "function_name": "no-such-function"}))
        .await;
    let id = run["id"].as_str().unwrap().to_string();
    let run_id = uuid::Uuid::parse_str(&id).unwrap();
    let (_, page) = service.get(&format!("/v1/runs/{id}/logs?limit=5000")).await;
    let before = page["items"].as_array().unwrap().len() as i64;
    let first_seq = page["next_after"].as_i64().unwrap() + 1;
    let now = chrono::Utc::now();
    for chunk in (0..LINES).collect::<Vec<_>>().chunks(10_000) {
        let lines: Vec<NewLogLine> = chunk
            .iter()
            .map(|i| NewLogLine {
                run_id,
                seq: first_seq + i,
                time: now,
                level: LogLevel::Info,
                source: LogSource::Function,
                phase: None,
                message: format!("long log line {i}: the quick brown fox jumps over the lazy dog"),
                held_by: None,
            })
            .collect();
        insert_batch(&db, &lines).await.unwrap();
    }
    let total = before + LINES;

    let browser = Browser::open(&service.url).await;
    browser.goto("/runs").await;
    browser.sign_in(ADMIN_TOKEN).await;

    let started = Instant::now();
    browser.goto(&format!("/runs/{id}")).await;
    browser.wait_for("#log .log-row:not(.pending)").await;
    let first_visible = started.elapsed();
    assert!(browser.text("#log").await.contains("long log line 0:") || before > 0);
    let last = format!("#L{total}:not(.pending)");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !browser.has(&last).await {
        browser
            .js("const log = document.getElementById('log'); log.scrollTop = log.scrollHeight; return null")
            .await;
        assert!(Instant::now() < deadline, "never reached line {total}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let end_reached = started.elapsed();
    assert!(
        browser
            .text(&last)
            .await
            .contains(&format!("long log line {}:", LINES - 1)),
        "the last row is the last line"
    );
    let rows = browser
        .js("return document.querySelectorAll('#log .log-row').length")
        .await;
    println!(
        "100,000-line log: first lines visible after {} ms, last line reached after {} ms, {rows} rows in the page",
        first_visible.as_millis(),
        end_reached.as_millis()
    );
    assert!(
        rows.as_u64().unwrap() < 200,
        "only the rows in view are in the page: {rows}"
    );
    assert!(end_reached < Duration::from_secs(2), "{end_reached:?}");

    // A line's link: reload at #L50000 and that line is in view, marked.
    browser.goto(&format!("/runs/{id}#L50000")).await;
    browser.wait_for("#L50000.hit-line").await;
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}
