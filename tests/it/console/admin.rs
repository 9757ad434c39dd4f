//! The admin pages in a browser: a reader (or runner) is offered neither the admin pages
//! nor, for a reader, the new-run form; an admin creates a project and a setting (the
//! API's 422 beside the field), stores a secret whose value is never displayed afterwards,
//! creates a token shown once and revokes one, and creates a webhook whose signing example,
//! run as shown, runs the step; at a phone's width the form and every admin page fit the
//! screen.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::browser::{Browser, PATIENCE};
use crate::support::service::{ADMIN_TOKEN, TestService, authorized};

const REFUSED: &str = "the server responded with a status of 422";
const ECHO: &str = "def lambda_handler(event, context):\n    print('hook says', event)\n    return event\n";

async fn new_token(service: &TestService, role: &str, project: &str) -> String {
    let (status, body) = service
        .post_json(
            "/v1/tokens",
            json!({"name": format!("{role} test"), "role": role, "project": project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_string()
}

async fn nav_labels(browser: &Browser) -> Vec<String> {
    let labels = browser
        .js("return [...document.querySelectorAll('#nav a')].map(a => a.textContent)")
        .await;
    serde_json::from_value(labels).unwrap()
}

async fn type_into(browser: &Browser, css: &str, text: &str) {
    let control = browser.wait_for(css).await;
    control.clear().await.unwrap();
    control.send_keys(text).await.unwrap();
}

/// The error line the control `css` is described by, once it shows.
async fn wait_field_error(browser: &Browser, css: &str) -> String {
    let script = format!(
        "const c = document.querySelector({});
         if (c.getAttribute('aria-invalid') !== 'true') return '';
         const ids = (c.getAttribute('aria-describedby') || '').split(' ');
         const line = ids.map(i => document.getElementById(i)).find(e => e && e.classList.contains('field-error') && !e.hidden);
         return line && line.closest('.field') === c.closest('.field') ? line.textContent : '';",
        json!(css)
    );
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(text) = browser.js(&script).await.as_str().filter(|t| !t.is_empty()) {
            return text.to_string();
        }
        assert!(Instant::now() < deadline, "no error beside {css}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Everything the page holds as text or in a control, to look for a secret in.
async fn everything_shown(browser: &Browser) -> String {
    browser
        .js("return document.documentElement.outerHTML + [...document.querySelectorAll('input, textarea')].map(c => c.value).join('\\n')")
        .await
        .as_str()
        .unwrap()
        .to_string()
}

#[sqlx::test]
async fn a_reader_sees_no_new_run_form_and_no_admin_pages(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let status = service
        .put_json(
            "/v1/projects/default/steps/nightly",
            &json!({"step": {"type": "lambda_invoke", "function_name": "f"}}),
        )
        .await;
    assert_eq!(status, 201);
    let reader = new_token(&service, "reader", "default").await;
    let runner = new_token(&service, "runner", "default").await;

    let browser = Browser::open(&service.url).await;
    browser.goto("/runs").await;
    browser.sign_in(&reader).await;
    let labels = nav_labels(&browser).await;
    assert_eq!(labels, ["Runs"], "a reader is offered only the runs");

    browser.goto("/new?project=default").await;
    browser
        .wait_text("main .notice", |t| t.contains("may not start runs"))
        .await;
    assert!(!browser.has("form").await, "no form for a reader");

    for page in [
        "/admin",
        "/admin/projects/default",
        "/admin/keys",
        "/admin/tokens",
        "/admin/webhooks",
    ] {
        browser.goto(page).await;
        browser
            .wait_text("main .notice", |t| t == "These pages need an admin token.")
            .await;
        assert!(
            !browser.has("main form, main .subnav, main input").await,
            "{page} shows nothing else"
        );
    }

    // Saved steps are readable when opened, but a reader may not run or change them.
    browser.goto("/steps?project=default").await;
    browser.wait_for("tr[data-step='nightly']").await;
    assert!(!browser.has("main form, main details, main a[href^='/new']").await);
    browser.finish(&reader, &[]).await;

    // A runner gets the form, not the admin pages.
    let browser = Browser::open(&service.url).await;
    browser.goto("/runs").await;
    browser.sign_in(&runner).await;
    let labels = nav_labels(&browser).await;
    assert_eq!(
        labels,
        ["Runs", "New run", "Saved steps"],
        "a runner is offered no admin page"
    );
    browser.goto("/admin/tokens").await;
    browser
        .wait_text("main .notice", |t| t == "These pages need an admin token.")
        .await;
    browser.finish(&runner, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn an_admin_creates_a_project_a_setting_a_secret_never_shown_again_and_a_token_shown_once(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let browser = Browser::open(&service.url).await;
    browser.goto("/admin").await;
    browser.sign_in(ADMIN_TOKEN).await;
    assert!(nav_labels(&browser).await.contains(&"Admin".to_string()));

    // Projects: a refused name in the API's words, then a good one.
    type_into(&browser, "[name=project]", "Not Valid").await;
    browser.click("main form button[type=submit]").await;
    let refused = reqwest::Client::new()
        .put(format!("{}/v1/projects/Not%20Valid", service.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        wait_field_error(&browser, "[name=project]").await,
        refused["error"]["message"]
    );
    type_into(&browser, "[name=project]", "payments").await;
    browser.click("main form button[type=submit]").await;
    browser.click("li[data-project='payments'] a").await;

    // Settings: values with their source; a bad one refused beside its field.
    let region = "[name='project.aws.region']";
    browser.wait_for(region).await;
    let (_, inherited) = service.get("/v1/projects/payments/settings").await;
    assert_eq!(
        browser
            .text(".field[data-setting='project.aws.endpoint_url'] .badge")
            .await,
        inherited["project.aws.endpoint_url"]["source"].as_str().unwrap(),
        "the source the API gives"
    );
    // Each field's hint is what the spec says of that setting, not a copy in the console.
    let (_, spec) = service.get("/openapi.json").await;
    let described =
        spec["components"]["schemas"]["ProjectSettings"]["properties"]["project.aws.endpoint_url"]["description"]
            .as_str()
            .unwrap()
            .replace('`', "");
    let hint = browser
        .text(".field[data-setting='project.aws.endpoint_url'] .field-hint")
        .await;
    assert!(hint.starts_with(&described), "{hint:?} is not {described:?}");
    type_into(&browser, region, "eu-west-1").await;
    type_into(&browser, "[name='project.aws.endpoint_url']", "ftp://nowhere").await;
    browser.click("main form.settings button[type=submit]").await;
    let message = wait_field_error(&browser, "[name='project.aws.endpoint_url']").await;
    let (status, refused) = service
        .http
        .put(format!("{}/v1/projects/payments/settings", service.url))
        .json(&json!({"project.aws.endpoint_url": "ftp://nowhere"}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 422);
    assert_eq!(message, refused.json::<Value>().await.unwrap()["error"]["message"]);
    browser
        .wait_for("[name='project.aws.endpoint_url']")
        .await
        .clear()
        .await
        .unwrap();
    type_into(
        &browser,
        "[name='project.aws.secret_key_path']",
        "payments/aws/secret_key",
    )
    .await;
    browser.click("main form.settings button[type=submit]").await;
    browser.wait_text("main .form-status", |t| t == "Saved.").await;
    assert_eq!(
        browser.text(".field[data-setting='project.aws.region'] .badge").await,
        "project"
    );
    let (_, settings) = service.get("/v1/projects/payments/settings").await;
    assert_eq!(
        settings["project.aws.region"],
        json!({"value": "eu-west-1", "source": "project"})
    );
    assert_eq!(
        settings["project.aws.secret_key_path"]["value"],
        "payments/aws/secret_key"
    );
    assert_eq!(
        settings["project.aws.endpoint_url"],
        inherited["project.aws.endpoint_url"]
    );

    // Key storage: stored, listed by its metadata, its value never on the page again.
    let secret = "wJalrXUtnFEMI-console-secret-K7MDENG";
    browser.goto("/admin/keys").await;
    type_into(&browser, "[name=path]", "payments/aws/secret_key").await;
    type_into(&browser, "[name=secret]", secret).await;
    browser.click("main form:not([role=search]) button[type=submit]").await;
    browser
        .wait_text("#key-stored", |t| t.starts_with("Stored payments/aws/secret_key"))
        .await;
    browser.wait_for("tr[data-key='payments/aws/secret_key']").await;
    assert!(
        !everything_shown(&browser).await.contains(secret),
        "the value is not shown after storing"
    );
    browser.goto("/admin/keys?prefix=payments/").await;
    browser.wait_for("tr[data-key='payments/aws/secret_key']").await;
    assert!(
        browser
            .text("tr[data-key='payments/aws/secret_key']")
            .await
            .contains(&format!("{} bytes", secret.len()))
    );
    assert!(!everything_shown(&browser).await.contains(secret));
    let (status, _) = service.get("/v1/keys/payments/aws/secret_key").await;
    assert_eq!(status, 200);
    browser.click("tr[data-key='payments/aws/secret_key'] button").await;
    browser
        .wait_text("tr[data-key='payments/aws/secret_key'] button", |t| {
            t.starts_with("Really delete")
        })
        .await;
    browser.click("tr[data-key='payments/aws/secret_key'] button").await;
    browser
        .wait_text("#keys-status", |t| t == "Deleted payments/aws/secret_key.")
        .await;
    let (status, _) = service.get("/v1/keys/payments/aws/secret_key").await;
    assert_eq!(status, 404, "deleted");

    // Tokens: shown once, with its warning; it works; revoked from the page, it stops.
    browser.goto("/admin/tokens").await;
    type_into(&browser, "[name=name]", "rundeck").await;
    browser
        .wait_for("[name=project]")
        .await
        .select_by_value("payments")
        .await
        .unwrap();
    browser.click("main form button[type=submit]").await;
    let shown = browser
        .wait_for("#new-token")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(
        browser
            .text("#new-token-warning")
            .await
            .contains("only time it is shown")
    );
    let whoami = authorized(&shown)
        .get(format!("{}/v1/whoami", service.url))
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status().as_u16(), 200);
    assert_eq!(
        whoami.json::<Value>().await.unwrap(),
        json!({"role": "runner", "project": "payments"})
    );
    browser.click("ul.made-tokens li button").await;
    browser.wait_text("ul.made-tokens li .badge", |t| t == "revoked").await;
    let whoami = authorized(&shown)
        .get(format!("{}/v1/whoami", service.url))
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status().as_u16(), 401, "revoked");
    browser.goto("/admin").await;
    browser.goto("/admin/tokens").await;
    browser.wait_for("main form").await;
    assert!(
        !everything_shown(&browser).await.contains(&shown),
        "the token is shown once"
    );
    browser.finish(ADMIN_TOKEN, &[REFUSED]).await;
    service.stop().await;
}

#[sqlx::test]
async fn an_admin_creates_a_webhook_and_its_signing_example_runs_the_step(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let step = json!({"step": {"type": "lambda_custom_code", "runtime": "python3.12", "code": ECHO}});
    assert_eq!(service.put_json("/v1/projects/default/steps/echo", &step).await, 201);
    let browser = Browser::open(&service.url).await;
    browser.goto("/admin/webhooks").await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.wait_for("[name=step] option[value=echo]").await;

    type_into(&browser, "[name=secret]", "too-short").await;
    browser.click("main form button[type=submit]").await;
    let (status, refused) = service
        .post_json(
            "/v1/projects/default/webhooks",
            json!({"step": "echo", "secret": "too-short"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        wait_field_error(&browser, "[name=secret]").await,
        refused["error"]["message"]
    );

    let secret = "a-long-shared-webhook-secret";
    type_into(&browser, "[name=secret]", secret).await;
    browser.click("main form button[type=submit]").await;
    let example = browser
        .wait_text("pre.signing-example", |t| t.contains("X-Lambda-Steps-Signature"))
        .await;
    let url = browser.text("code.hook-url").await;
    assert!(url.starts_with(&format!("{}/v1/hooks/", service.url)), "{url}");

    // The example, as a person would paste it, with their secret filled in.
    let script = example.replace("'the secret you set'", &format!("'{secret}'"));
    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)));
    let done = service.wait_finished(run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["payload"], json!({"host": "worker-3"}));
    browser.finish(ADMIN_TOKEN, &[REFUSED]).await;
    service.stop().await;
}

#[sqlx::test]
async fn at_a_phones_width_the_form_and_the_admin_pages_fit_the_screen(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let step = json!({"step": {"type": "lambda_custom_code", "runtime": "python3.12", "code": ECHO}});
    assert_eq!(
        service
            .put_json("/v1/projects/default/steps/a-rather-long-saved-step-name", &step)
            .await,
        201
    );
    let browser = Browser::open_sized(&service.url, 390, 844).await;
    browser.goto("/new?project=default").await;
    browser.sign_in(ADMIN_TOKEN).await;
    for (page, shows) in [
        ("/new?project=default", "form.new-run"),
        ("/steps?project=default", "tr[data-step]"),
        ("/admin", "li[data-project]"),
        ("/admin/projects/default", "form.settings"),
        ("/admin/keys", "main form"),
        ("/admin/tokens", "main form"),
        ("/admin/webhooks", "[name=step] option[value]"),
    ] {
        browser.goto(page).await;
        browser.wait_for(shows).await;
        if page.starts_with("/new") {
            browser.click("input[value=lambda_custom_code]").await;
        }
        let widths = browser
            .js("return [document.documentElement.scrollWidth, window.innerWidth]")
            .await;
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "{page} is wider than the screen: {widths}"
        );
    }
    browser.finish(ADMIN_TOKEN, &[]).await;
    service.stop().await;
}
