//! Signing in: one field and Enter; a wrong token shows the API's own message; a reload
//! keeps the session; sign out forgets it; the token stays in sessionStorage only.

use sqlx::PgPool;

use crate::support::browser::Browser;
use crate::support::service::{ADMIN_TOKEN, TestService};

#[sqlx::test]
async fn sign_in_with_enter_survives_a_reload_and_sign_out_forgets_it(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let browser = Browser::open(&service.url).await;
    browser.goto("/").await;

    // A wrong token: the API's message, word for word, and still the sign-in form.
    let refused = reqwest::Client::new()
        .get(format!("{}/v1/whoami", service.url))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let refused: serde_json::Value = refused.json().await.unwrap();
    let api_message = refused["error"]["message"].as_str().unwrap().to_string();
    browser.type_token("not-a-token").await;
    browser.wait_text("#sign-in-error", |t| t == api_message).await;
    assert!(!browser.has("#sign-out").await);

    browser.sign_in(ADMIN_TOKEN).await;
    browser.wait_path("/runs?project=default").await;
    assert_eq!(browser.text("#who .role").await, "admin");
    browser.assert_token_kept_secret(ADMIN_TOKEN).await;
    let stored = browser
        .js("return sessionStorage.getItem('lambda-steps.session')")
        .await;
    assert!(
        stored.as_str().unwrap().contains(ADMIN_TOKEN),
        "the session holds the token: {stored}"
    );

    browser.client.refresh().await.unwrap();
    browser.wait_for("#sign-out").await;
    browser.wait_path("/runs?project=default").await;

    browser.click("#sign-out").await;
    browser.wait_for("#token").await;
    let stored = browser.js("return sessionStorage.length").await;
    assert_eq!(stored, 0, "sign out forgets the session");
    browser.client.refresh().await.unwrap();
    browser.wait_for("#token").await;
    assert!(!browser.has("#sign-out").await);

    browser
        .finish(
            ADMIN_TOKEN,
            &["/v1/whoami - Failed to load resource: the server responded with a status of 401"],
        )
        .await;
    service.stop().await;
}
