//! The new-run form and saved steps in a browser: the API's 422 shown beside the field its
//! path names (and no run created), readable in light and dark mode; a valid Invoke and a
//! valid Custom Code submit opening the run's page, the run finishing; the code editor (Tab
//! indents, Escape then Tab leaves, the gutter follows scrolling, a runnable handler per
//! runtime); a step saved from the form, listed, and run with another payload. With
//! `UPDATE_SCREENSHOTS=1` the last test writes the book's screenshots under `docs/src/images/`
//! (1,280 × 800); without it, it still walks the same pages.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;

use fantoccini::wd::WebDriverCompatibleCommand;

use crate::support::browser::{Browser, PATIENCE};
use crate::support::create;
use crate::support::service::{ADMIN_TOKEN, TestService};

/// What the browser logs for a 422 answer the page shows in its own words.
const REFUSED: &str = "the server responded with a status of 422";

const GREETER: &str =
    "def handler(event, context):\n    print('greeting', event.get('who'))\n    return {'hello': event.get('who')}\n";
const TICKS: &str = "import time\ndef lambda_handler(event, context):\n    for i in range(60):\n        print('tick', i, 'checking disk usage on', event['host'], flush=True)\n        time.sleep(0.5)\n    return 'done'\n";
const FAILS: &str = "def lambda_handler(event, context):\n    print('restarting', event['service'])\n    raise RuntimeError('service ' + event['service'] + ' did not come back within 30 s')\n";

/// The field state of the control `css`: (aria-invalid, text of the error line it is
/// described by, whether that line is visible and in the same field as the control).
async fn field_error(browser: &Browser, css: &str) -> (Option<String>, String, bool) {
    let script = format!(
        "const c = document.querySelector({css});
         const ids = (c.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
         const line = ids.map(i => document.getElementById(i)).find(e => e && e.classList.contains('field-error'));
         return [c.getAttribute('aria-invalid'), line ? line.textContent : '',
                 Boolean(line && !line.hidden && line.closest('.field') === c.closest('.field'))];",
        css = json!(css)
    );
    let got = browser.js(&script).await;
    (
        got[0].as_str().map(str::to_string),
        got[1].as_str().unwrap().to_string(),
        got[2].as_bool().unwrap(),
    )
}

/// Waits until the control `css` shows an error line; answers its text.
async fn wait_field_error(browser: &Browser, css: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (invalid, text, beside) = field_error(browser, css).await;
        if !text.is_empty() {
            assert_eq!(invalid.as_deref(), Some("true"), "{css} is marked aria-invalid");
            assert!(beside, "{css}'s error is visible in its own field");
            return text;
        }
        assert!(Instant::now() < deadline, "no error beside {css}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Replaces what a text control holds by typing, as a person would.
async fn type_into(browser: &Browser, css: &str, text: &str) {
    let control = browser.wait_for(css).await;
    control.clear().await.unwrap();
    if !text.is_empty() {
        control.send_keys(text).await.unwrap();
    }
}

/// Sets a textarea's text at once (typing multi-line text into the code editor would
/// auto-indent it) and tells the page, as an edit does.
async fn set_text(browser: &Browser, css: &str, text: &str) {
    browser
        .js(&format!(
            "const c = document.querySelector({}); c.value = {}; c.dispatchEvent(new Event('input', {{bubbles: true}})); return null",
            json!(css),
            json!(text)
        ))
        .await;
}

/// The API's own answer to `step`: (status, message).
async fn api_verdict(service: &TestService, step: Value) -> (u16, String) {
    let (status, body) = service.submit("default", step).await;
    (
        status,
        body["error"]["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Waits until the page is a run's page; answers the run id.
async fn wait_run_page(browser: &Browser) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let path = browser.path().await;
        if let Some(id) = path.strip_prefix("/runs/") {
            return id.split(['#', '?']).next().unwrap().to_string();
        }
        if Instant::now() > deadline {
            let shown = browser
                .js("return [...document.querySelectorAll('.form-alert, .field-error')].map(e => e.textContent).join(' | ')")
                .await;
            panic!("still on {path}; the page says: {shown}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn open_form(service: &TestService) -> Browser {
    let browser = Browser::open(&service.url).await;
    browser.goto("/new?project=default").await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.wait_for("form.new-run").await;
    browser
}

#[sqlx::test]
async fn a_form_with_a_bad_field_shows_the_apis_message_beside_it_and_creates_no_run(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let browser = open_form(&service).await;

    // The payload is checked as it is typed.
    type_into(&browser, "form.new-run [name=payload]", "{\"host\": ").await;
    let typing = wait_field_error(&browser, "[name=payload]").await;
    assert!(typing.starts_with("Not valid JSON:"), "{typing}");
    browser
        .wait_for("[name=payload]")
        .await
        .send_keys("\"db1\"}")
        .await
        .unwrap();
    let (invalid, text, _) = field_error(&browser, "[name=payload]").await;
    assert_eq!((invalid, text.as_str()), (None, ""), "valid JSON clears the error");

    // Invoke: a function name Lambda would refuse, in the API's words beside it.
    type_into(&browser, "[name=function_name]", "not a function!").await;
    browser.click("form.new-run button[type=submit]").await;
    let (status, message) = api_verdict(
        &service,
        json!({"type": "lambda_invoke", "function_name": "not a function!", "payload": {"host": "db1"}}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(wait_field_error(&browser, "[name=function_name]").await, message);
    let focused = browser.js("return document.activeElement.name").await;
    assert_eq!(focused, "function_name", "the field at fault has the focus");

    // Custom code: a timeout out of range, then a reserved environment key.
    browser.click("input[value=lambda_custom_code]").await;
    type_into(&browser, "[name=timeout_seconds]", "0").await;
    browser.click("form.new-run button[type=submit]").await;
    let code = browser.js("return document.querySelector('[name=code]').value").await;
    let step = |timeout: u32, environment: Value| {
        json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code, "payload": {"host": "db1"},
               "timeout_seconds": timeout, "memory_mb": 128, "environment": environment})
    };
    let (_, message) = api_verdict(&service, step(0, json!({}))).await;
    assert_eq!(wait_field_error(&browser, "[name=timeout_seconds]").await, message);
    assert!(message.contains("between 1 and 900"), "{message}");
    // The Invoke fields are hidden, and their old error with them.
    assert!(
        !browser
            .js("return document.querySelector('[name=function_name]').checkVisibility()")
            .await
            .as_bool()
            .unwrap()
    );

    type_into(&browser, "[name=timeout_seconds]", "30").await;
    set_text(&browser, "[name=environment]", "STAGE=prod\nAWS_REGION=eu-west-1").await;
    browser.click("form.new-run button[type=submit]").await;
    let (_, message) = api_verdict(&service, step(30, json!({"STAGE": "prod", "AWS_REGION": "eu-west-1"}))).await;
    assert_eq!(wait_field_error(&browser, "[name=environment]").await, message);
    let (invalid, text, _) = field_error(&browser, "[name=timeout_seconds]").await;
    assert_eq!(
        (invalid, text.as_str()),
        (None, ""),
        "a new submit clears the old errors"
    );

    // A line that is not KEY=VALUE is caught before sending.
    set_text(&browser, "[name=environment]", "STAGE prod").await;
    browser.click("form.new-run button[type=submit]").await;
    assert_eq!(
        wait_field_error(&browser, "[name=environment]").await,
        "line 1: expected KEY=VALUE"
    );

    // A durable Ruby step: the API's refusal lands beside the checkbox.
    set_text(&browser, "[name=environment]", "").await;
    browser
        .js(
            "const r = document.querySelector('[name=runtime]'); r.value = 'ruby3.3';
             r.dispatchEvent(new Event('change', {bubbles: true})); return null",
        )
        .await;
    browser.click("[name=durable]").await;
    browser.click("form.new-run button[type=submit]").await;
    let durable = wait_field_error(&browser, "[name=durable]").await;
    assert!(durable.contains("durable functions do not support Ruby"), "{durable}");

    let (_, runs) = service.get("/v1/projects/default/runs").await;
    assert_eq!(runs["items"], json!([]), "no refused form created a run");

    // The error reads well in light and in dark mode (WCAG AA: contrast at least 4.5).
    for scheme in ["light", "dark"] {
        browser.client.issue_cmd(ColorScheme(scheme)).await.unwrap();
        let contrast = browser
            .js("const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
                 const lum = (c) => { const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                                      return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
                 const fg = lum(getComputedStyle(document.querySelector('.field-error:not([hidden])')).color);
                 const bg = lum(getComputedStyle(document.body).backgroundColor);
                 return [matchMedia('(prefers-color-scheme: dark)').matches, (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)];")
            .await;
        assert_eq!(contrast[0], scheme == "dark", "{scheme} mode is in force");
        println!(
            "{scheme} mode: a field error's contrast with the page is {:.2}",
            contrast[1].as_f64().unwrap()
        );
        assert!(
            contrast[1].as_f64().unwrap() >= 4.5,
            "{scheme}: the error's contrast is {}",
            contrast[1]
        );
    }
    browser.finish(ADMIN_TOKEN, &[REFUSED]).await;
    service.stop().await;
}

#[sqlx::test]
async fn a_valid_invoke_and_a_valid_custom_code_submit_open_the_run_page_and_the_run_finishes(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    create(
        &service.engine.client,
        "greeter",
        "python3.12",
        "app.handler",
        &[("app.py", GREETER)],
    )
    .await;
    let browser = open_form(&service).await;

    type_into(&browser, "[name=function_name]", "greeter").await;
    set_text(&browser, "[name=payload]", "{\"who\": \"the form\"}").await;
    browser.click("form.new-run button[type=submit]").await;
    let id = wait_run_page(&browser).await;
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    let (_, run) = service.get(&format!("/v1/runs/{id}")).await;
    assert_eq!(
        run["step"],
        json!({"type": "lambda_invoke", "function_name": "greeter", "payload": {"who": "the form"},
               "invocation_type": "RequestResponse", "qualifier": null, "client_context": null})
    );
    assert_eq!(run["result"]["payload"], json!({"hello": "the form"}));

    // Custom code: the editor starts with a runnable handler for the chosen runtime.
    browser.goto("/new?project=default").await;
    browser.click("input[value=lambda_custom_code]").await;
    let code = |b: &'static str| format!("return document.querySelector('[name=code]').{b}");
    assert!(
        browser
            .js(&code("value"))
            .await
            .as_str()
            .unwrap()
            .contains("def lambda_handler(event, context):")
    );
    for (runtime, starts) in [
        ("nodejs20.x", "export const handler = async (event, context) =>"),
        ("ruby3.3", "def lambda_handler(event:, context:)"),
        ("python3.12", "def lambda_handler(event, context):"),
    ] {
        browser
            .wait_for("[name=runtime]")
            .await
            .select_by_value(runtime)
            .await
            .unwrap();
        let value = browser.js(&code("value")).await;
        assert!(value.as_str().unwrap().contains(starts), "{runtime}: {value}");
    }

    // Tab indents and keeps the focus; Escape then Tab leaves the editor.
    let editor = browser.wait_for("[name=code]").await;
    browser.js("const c = document.querySelector('[name=code]'); c.focus(); c.setSelectionRange(c.value.length, c.value.length); return null").await;
    editor.send_keys("\u{E004}# tabbed in").await.unwrap();
    let value = browser.js(&code("value")).await;
    assert!(value.as_str().unwrap().ends_with("\n    # tabbed in"), "{value}");
    assert_eq!(browser.js("return document.activeElement.name").await, "code");
    // The gutter numbers every line and scrolls with the text.
    set_text(
        &browser,
        "[name=code]",
        &format!("{}{}", value.as_str().unwrap(), "\n".repeat(80)),
    )
    .await;
    let lines = browser.js(&code("value.split('\\n').length")).await;
    let gutter = browser
        .js("return document.querySelector('.code-gutter').textContent.trim().split('\\n').length")
        .await;
    assert_eq!(lines, gutter);
    browser
        .js("const c = document.querySelector('[name=code]'); c.scrollTop = 400; return null")
        .await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let at = browser.js("return [document.querySelector('[name=code]').scrollTop, document.querySelector('.code-gutter').scrollTop]").await;
        if at[0].as_f64().unwrap() > 0.0 && at[0] == at[1] {
            break;
        }
        assert!(Instant::now() < deadline, "the gutter did not follow: {at}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    editor.send_keys("\u{E00C}\u{E004}").await.unwrap();
    assert_ne!(
        browser.js("return document.activeElement.name").await,
        "code",
        "Escape, Tab leaves the editor"
    );

    set_text(&browser, "[name=payload]", "{\"n\": 7}").await;
    set_text(&browser, "[name=environment]", "GREETING=hi\n").await;
    browser.click("form.new-run button[type=submit]").await;
    let id = wait_run_page(&browser).await;
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    browser.wait_text("#log", |t| t.contains("got event: {\"n\": 7}")).await;
    let (_, run) = service.get(&format!("/v1/runs/{id}")).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"]["payload"], json!({"ok": true, "echo": {"n": 7}}));
    assert_eq!(run["step"]["environment"], json!({"GREETING": "hi"}));
    assert_eq!(
        (
            run["step"]["timeout_seconds"].as_u64(),
            run["step"]["memory_mb"].as_u64()
        ),
        (Some(30), Some(128))
    );
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn a_step_saved_from_the_form_is_listed_and_runs_with_another_payload(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let browser = open_form(&service).await;
    browser.click("input[value=lambda_custom_code]").await;
    set_text(&browser, "[name=payload]", "{\"host\": \"saved\"}").await;

    // A name the API refuses, beside the name field; then a good one.
    type_into(&browser, "[name=name]", "not a name").await;
    browser.click("form.new-run .save-step button").await;
    let answer = service
        .http
        .put(format!("{}/v1/projects/default/steps/not%20a%20name", service.url))
        .json(&json!({"step": {"type": "lambda_invoke", "function_name": "f"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 422);
    let refused = answer.json::<Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(wait_field_error(&browser, "[name=name]").await, refused);
    type_into(&browser, "[name=name]", "echo-host").await;
    browser.click("form.new-run .save-step button").await;
    browser
        .wait_text("form.new-run .form-status", |t| t.starts_with("Saved as echo-host."))
        .await;
    let (_, listed) = service.get("/v1/projects/default/steps").await;
    assert_eq!(listed["items"][0]["name"], "echo-host");
    assert_eq!(listed["items"][0]["step"]["payload"], json!({"host": "saved"}));

    // The list, and a run with another payload.
    browser.goto("/steps?project=default").await;
    let row = "tr[data-step='echo-host']";
    browser.wait_for(row).await;
    assert_eq!(browser.text(&format!("{row} td")).await, "Custom code");
    browser.click("tr.detail-row summary").await;
    set_text(&browser, "tr.detail-row [name=payload]", "{\"host\": \"another\"}").await;
    browser.click("tr.detail-row button[type=submit]").await;
    let id = wait_run_page(&browser).await;
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    let (_, run) = service.get(&format!("/v1/runs/{id}")).await;
    assert_eq!(
        run["result"]["payload"],
        json!({"ok": true, "echo": {"host": "another"}})
    );

    // Opened in the form again, it is the step as saved.
    browser.goto("/new?project=default&step=echo-host").await;
    browser.wait_text("form.new-run [name=payload]", |_| true).await;
    let deadline = Instant::now() + PATIENCE;
    // The form may be drawn again while the step loads: no field for a moment is "not yet".
    while browser
        .js("return (document.querySelector('[name=name]') || {}).value")
        .await
        != "echo-host"
    {
        assert!(Instant::now() < deadline, "the saved step did not load");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let payload = browser
        .js("return JSON.parse(document.querySelector('[name=payload]').value)")
        .await;
    assert_eq!(payload, json!({"host": "saved"}));
    assert!(
        browser
            .js("return document.querySelector('input[value=lambda_custom_code]').checked")
            .await
            .as_bool()
            .unwrap()
    );
    browser.finish(ADMIN_TOKEN, &[REFUSED]).await;
    service.stop().await;
}

/// Walks the pages the book shows (`guide/console.md`), and with `UPDATE_SCREENSHOTS=1` writes them
/// to `docs/src/images/`.
#[sqlx::test]
async fn the_books_screenshots_show_the_runs_a_live_run_a_failed_run_and_the_form(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let write = std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1");
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/images");
    let python = |code: &str, payload: Value| json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code, "payload": payload, "timeout_seconds": 60});
    create(
        &service.engine.client,
        "greeter",
        "python3.12",
        "app.handler",
        &[("app.py", GREETER)],
    )
    .await;
    let ok = service
        .run(json!({"type": "lambda_invoke", "function_name": "greeter", "payload": {"who": "ops"}}))
        .await;
    assert_eq!(ok["status"], "succeeded", "{ok}");
    let failed = service.run(python(FAILS, json!({"service": "billing-worker"}))).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let (_, live) = service.submit("default", python(TICKS, json!({"host": "db-1"}))).await;
    let live_id = live["id"].as_str().unwrap().to_string();

    let browser = Browser::open_sized(&service.url, 1280, 800).await;
    // The window's size counts the browser's own frame; the picture is the page: 1,280 × 800.
    let frame = browser
        .js("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]")
        .await;
    let (dw, dh) = (frame[0].as_u64().unwrap() as u32, frame[1].as_u64().unwrap() as u32);
    browser.client.set_window_size(1280 + dw, 800 + dh).await.unwrap();
    let shoot = |name: &'static str| {
        let path = docs.join(name);
        let browser = &browser;
        async move {
            if write {
                browser.screenshot(&path).await;
            }
        }
    };
    browser.goto("/runs?project=default").await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser
        .wait_for(&format!("tr[data-run='{live_id}'] [data-status=running]"))
        .await;
    shoot("console-runs.png").await;

    browser.goto(&format!("/runs/{live_id}")).await;
    browser.wait_text("#log", |t| t.contains("tick 3 ")).await;
    assert_eq!(browser.text("#run-status").await, "running");
    shoot("console-live-run.png").await;
    service.post(&format!("/v1/runs/{live_id}/cancel")).await;

    browser.goto(&format!("/runs/{}", failed["id"].as_str().unwrap())).await;
    browser
        .wait_text("#run-error", |t| t.contains("did not come back"))
        .await;
    shoot("console-failed-run.png").await;

    browser.goto("/new?project=default").await;
    browser.click("input[value=lambda_custom_code]").await;
    set_text(&browser, "[name=payload]", "{\"host\": \"db-1\"}").await;
    set_text(&browser, "[name=environment]", "STAGE=prod").await;
    browser.wait_for("[name=code]").await;
    shoot("console-new-run.png").await;
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}

/// chromedriver's DevTools passthrough: `Emulation.setEmulatedMedia` with
/// `prefers-color-scheme` set, as a reader's light or dark setting would.
#[derive(Debug)]
struct ColorScheme(&'static str);

impl WebDriverCompatibleCommand for ColorScheme {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let params = json!({"features": [{"name": "prefers-color-scheme", "value": self.0}]});
        let body = json!({"cmd": "Emulation.setEmulatedMedia", "params": params});
        (http::Method::POST, Some(body.to_string()))
    }
}
