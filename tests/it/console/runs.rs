//! The runs list and a run's page, in a browser, for runs the real service ran on its engine:
//! a finished run listed with its status, kind and target, and its page showing what the
//! function printed, its status and its result; a run that prints every 500 ms showing its
//! first lines while the API still says `running`; cancel and re-run; a reader offered
//! neither.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::browser::Browser;
use crate::support::service::{ADMIN_TOKEN, TestService};

const HELLO: &str = "def lambda_handler(event, context):\n    print('hello from the console test')\n    print('\\x1b[31mred\\x1b[0m and plain')\n    return {'answer': 42, 'echo': event}\n";
const TICKS: &str = "import time\ndef lambda_handler(event, context):\n    for i in range(event.get('ticks', 12)):\n        print('tick', i, flush=True)\n        time.sleep(0.5)\n    return 'done'\n";

fn python(code: &str, payload: Value) -> Value {
    json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code, "payload": payload, "timeout_seconds": 60})
}

/// Waits until a row of the log view holds `text`; answers the row's text.
async fn wait_log_line(browser: &Browser, text: &str) -> String {
    let script = format!(
        "return [...document.querySelectorAll('#log .log-row')].map(r => r.textContent).find(t => t.includes({})) ?? ''",
        json!(text)
    );
    let deadline = std::time::Instant::now() + crate::support::browser::PATIENCE;
    loop {
        let found = browser.js(&script).await;
        if let Some(row) = found.as_str().filter(|r| !r.is_empty()) {
            return row.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no log line with {text:?}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[sqlx::test]
async fn a_finished_run_is_listed_and_its_page_shows_its_output_status_and_result(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let run = service.run(python(HELLO, json!({"who": "console"}))).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let id = run["id"].as_str().unwrap();

    let browser = Browser::open(&service.url).await;
    browser.goto("/runs").await;
    browser.sign_in(ADMIN_TOKEN).await;
    let row = format!("tr[data-run='{id}']");
    browser.wait_for(&row).await;
    assert_eq!(browser.text(&format!("{row} .badge")).await, "succeeded");
    let cells = browser
        .js(&format!(
            "return [...document.querySelectorAll(\"{row} td\")].map(c => c.textContent)"
        ))
        .await;
    assert_eq!(cells[1], "Custom code", "{cells}");
    assert_eq!(cells[2], "python3.12", "{cells}");
    assert!(cells[4].as_str().unwrap().ends_with('s'), "a duration: {cells}");
    browser
        .screenshot(&std::env::temp_dir().join("lambda-steps-console/runs-list.png"))
        .await;

    browser.click(&format!("{row} a")).await;
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    assert_eq!(browser.path().await, format!("/runs/{id}"));
    let printed = wait_log_line(&browser, "hello from the console test").await;
    assert!(
        printed.starts_with(char::is_numeric),
        "a line number first: {printed:?}"
    );
    // ANSI colours become a span with a class, the codes themselves gone.
    let red = browser.text("#log .log-row .ansi-fg-1").await;
    assert_eq!(red, "red");
    assert!(!browser.text("#log").await.contains('\x1b'));
    // Runner and function lines are told apart.
    assert!(browser.has("#log .log-row.runner").await && browser.has("#log .log-row.function").await);
    let result = browser.wait_text("#result-payload", |t| !t.is_empty()).await;
    let shown: Value = serde_json::from_str(&result).unwrap();
    assert_eq!(shown, json!({"answer": 42, "echo": {"who": "console"}}));
    browser
        .wait_text("#report", |t| t.contains("Billed") && t.contains("Memory"))
        .await;
    let phases = browser
        .js("return [...document.querySelectorAll('#timeline li')].map(li => li.dataset.phase)")
        .await;
    assert_eq!(
        phases,
        json!([
            "queued",
            "claimed",
            "creating",
            "invoking",
            "returned",
            "cleaned up",
            "finished"
        ])
    );
    assert!(
        browser
            .text("#step")
            .await
            .contains("print('hello from the console test')")
    );
    // Search keeps the matching lines, with their own line numbers.
    let search = browser.wait_for("#log-search").await;
    search.send_keys("HELLO from").await.unwrap();
    browser.wait_text("#log-count", |t| t == "1 matching line").await;
    let rows = browser
        .js("return [...document.querySelectorAll('#log .log-row')].map(r => r.textContent)")
        .await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert!(
        rows[0].as_str().unwrap().contains("hello from the console test"),
        "{rows}"
    );
    search.clear().await.unwrap();
    browser
        .screenshot(&std::env::temp_dir().join("lambda-steps-console/finished-run.png"))
        .await;
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn a_running_run_shows_its_first_lines_while_the_api_says_running_and_cancel_stops_it(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let (status, run) = service.submit("default", python(TICKS, json!({"ticks": 60}))).await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();

    let browser = Browser::open(&service.url).await;
    browser.goto(&format!("/runs/{id}")).await;
    browser.sign_in(ADMIN_TOKEN).await;
    assert_eq!(
        browser.path().await,
        format!("/runs/{id}"),
        "sign in keeps the page asked for"
    );
    wait_log_line(&browser, "tick 1").await;
    let (_, now) = service.get(&format!("/v1/runs/{id}")).await;
    assert_eq!(now["status"], "running", "the lines came while it ran: {now}");
    browser.wait_text("#run-status", |t| t == "running").await;
    browser
        .screenshot(&std::env::temp_dir().join("lambda-steps-console/live-run.png"))
        .await;

    browser.click("#cancel").await;
    browser.wait_text("#run-status", |t| t == "cancelled").await;
    let (_, after) = service.get(&format!("/v1/runs/{id}")).await;
    assert_eq!(after["status"], "cancelled", "{after}");
    assert!(!browser.has("#cancel").await, "no cancel for a finished run");
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn re_run_submits_the_same_step_as_a_new_run_and_shows_it(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let first = service.run(python(HELLO, json!({"n": 1}))).await;
    let id = first["id"].as_str().unwrap();

    let browser = Browser::open(&service.url).await;
    browser.goto(&format!("/runs/{id}")).await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    browser.click("#rerun").await;
    let deadline = std::time::Instant::now() + crate::support::browser::PATIENCE;
    let second = loop {
        let path = browser.path().await;
        if path != format!("/runs/{id}") {
            break path.trim_start_matches("/runs/").to_string();
        }
        assert!(std::time::Instant::now() < deadline, "re-run did not go to the new run");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    wait_log_line(&browser, "hello from the console test").await;
    let again = service.wait_finished(&second).await;
    assert_eq!(again["step"], first["step"], "the same step");
    assert_ne!(again["id"], first["id"]);
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn a_reader_sees_runs_but_no_run_cancel_or_re_run(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let run = service.run(python(HELLO, json!({}))).await;
    let id = run["id"].as_str().unwrap();
    let (status, token) = service
        .post_json(
            "/v1/tokens",
            json!({"name": "console reader", "role": "reader", "project": "default"}),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let reader = token["token"].as_str().unwrap();

    let browser = Browser::open(&service.url).await;
    browser.goto("/").await;
    browser.sign_in(reader).await;
    assert_eq!(browser.text("#who .role").await, "reader · default");
    browser.wait_for(&format!("tr[data-run='{id}']")).await;
    browser.goto(&format!("/runs/{id}")).await;
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    wait_log_line(&browser, "hello from the console test").await;
    for button in ["#rerun", "#cancel"] {
        assert!(!browser.has(button).await, "a reader is not offered {button}");
    }
    let nav = browser.text("#nav").await;
    assert_eq!(nav, "Runs", "a reader's nav: {nav}");
    browser.finish(reader, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn the_runs_list_filters_by_status_and_pages_newest_first(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let missing = json!({"type": "lambda_invoke", "function_name": "no-such-function"});
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(service.run(missing.clone()).await["id"].as_str().unwrap().to_string());
    }
    let succeeded = service.run(python(HELLO, json!({}))).await;
    let succeeded = succeeded["id"].as_str().unwrap();

    let browser = Browser::open(&service.url).await;
    browser.goto("/runs?project=default&status=failed&limit=2").await;
    browser.sign_in(ADMIN_TOKEN).await;
    let rows = "return [...document.querySelectorAll('tr[data-run]')].map(r => r.dataset.run)";
    browser.wait_for("tr[data-run]").await;
    assert_eq!(
        browser.js(rows).await,
        json!([ids[2], ids[1]]),
        "newest first, failed only"
    );
    browser.click("#next-page").await;
    browser.wait_for(&format!("tr[data-run='{}']", ids[0])).await;
    assert_eq!(browser.js(rows).await, json!([ids[0]]));
    assert!(!browser.has("#next-page").await, "the last page");
    assert!(browser.path().await.contains("cursor="), "the page is in the URL");

    // The status picker changes the URL and the list.
    browser
        .js("const s = document.getElementById('status'); s.value = 'succeeded'; s.dispatchEvent(new Event('change')); return null")
        .await;
    browser.wait_for(&format!("tr[data-run='{succeeded}']")).await;
    assert_eq!(browser.path().await, "/runs?project=default&status=succeeded&limit=2");
    assert_eq!(browser.js(rows).await, json!([succeeded]));
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn at_a_phones_width_the_list_updates_a_status_by_itself(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    // The browser starts first (seconds, on a busy machine), so the run is still running
    // when the list first shows it.
    let browser = Browser::open_sized(&service.url, 390, 844).await;
    let (status, run) = service.submit("default", python(TICKS, json!({"ticks": 10}))).await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();

    browser.goto("/runs").await;
    browser.sign_in(ADMIN_TOKEN).await;
    let badge = format!("tr[data-run='{id}'] .badge");
    browser.wait_text(&badge, |t| t == "running").await;
    // No reload, no navigation: the list polls, and the badge changes by itself.
    browser.wait_text(&badge, |t| t == "succeeded").await;
    assert_eq!(browser.js("return window.innerWidth").await, 390, "a phone's viewport");
    let fits = browser
        .js("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(fits, true, "the page is no wider than a phone's screen");
    browser.goto(&format!("/runs/{id}")).await;
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    let fits = browser
        .js("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(fits, true, "a run's page is no wider than a phone's screen");
    browser
        .screenshot(&std::env::temp_dir().join("lambda-steps-console/phone-run.png"))
        .await;
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn a_failed_run_pins_its_error_on_top_and_download_saves_its_whole_log(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let failing =
        "def lambda_handler(event, context):\n    print('about to fail')\n    raise ValueError('the input was bad')\n";
    let run = service.run(python(failing, json!({}))).await;
    assert_eq!(run["status"], "failed", "{run}");
    let id = run["id"].as_str().unwrap();

    let browser = Browser::open(&service.url).await;
    browser.goto(&format!("/runs/{id}")).await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.wait_text("#run-status", |t| t == "failed").await;
    let pinned = browser.wait_text("#run-error", |t| !t.is_empty()).await;
    assert!(
        pinned.contains("ValueError") && pinned.contains("the input was bad"),
        "{pinned}"
    );
    assert!(pinned.contains("lambda_function.py"), "the stack: {pinned}");
    // Pinned above the log: the first thing after the run's header.
    let above = browser
        .js("return document.getElementById('run-error').compareDocumentPosition(document.getElementById('log')) & Node.DOCUMENT_POSITION_FOLLOWING")
        .await;
    assert_ne!(above, 0, "the error comes before the log");
    wait_log_line(&browser, "about to fail").await;
    browser
        .screenshot(&std::env::temp_dir().join("lambda-steps-console/failed-run.png"))
        .await;

    // Download saves the whole log, every line the API holds, in order.
    browser.click("#download").await;
    let saved = browser.downloaded(&format!("run-{id}.log")).await;
    let (_, page) = service.get(&format!("/v1/runs/{id}/logs?limit=5000")).await;
    let expected: String = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {:<8} {}\n",
                e["time"].as_str().unwrap(),
                e["source"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(saved, expected);
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn the_live_log_resumes_after_the_service_drops_it_with_no_line_twice(db: PgPool) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = TestService::start_on(db.clone(), listener, &[]).await;
    let (status, run) = service.submit("default", python(TICKS, json!({"ticks": 8}))).await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();

    let browser = Browser::open(&service.url).await;
    browser.goto(&format!("/runs/{id}")).await;
    browser.sign_in(ADMIN_TOKEN).await;
    wait_log_line(&browser, "tick 1").await;
    // The service stops (its streams end; the run finishes during the drain) and comes back
    // on the same address: the page reconnects and asks only for what it has not seen.
    service.stop().await;
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let service = TestService::start_on(db, listener, &[]).await;
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    wait_log_line(&browser, "tick 7").await;
    let ticks = browser
        .js("return [...document.querySelectorAll('#log .log-row .msg')].map(m => m.textContent).filter(t => t.startsWith('tick '))")
        .await;
    let expected: Vec<String> = (0..8).map(|i| format!("tick {i}")).collect();
    assert_eq!(ticks, json!(expected), "each line once, in order");
    let rows = browser
        .js("return [...document.querySelectorAll('#log .log-row')].map(r => r.id)")
        .await;
    let logged = service.log(&id).await;
    assert_eq!(rows.as_array().unwrap().len(), logged.len(), "{rows}");
    // While the service was away the browser's reconnects were refused: that, and only that.
    browser.finish(ADMIN_TOKEN, &["net::ERR_CONNECTION_REFUSED"]).await;
    service.stop().await;
}
