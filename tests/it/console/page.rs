//! The page as the server sends it: at `/` and at every page path a browser asks for, with
//! a strict Content-Security-Policy; assets by content hash, cached for good; unknown API
//! paths still the JSON 404; the page with all its assets within 500 KB.

use sqlx::PgPool;

use lambda_steps::http::console::{ASSETS, CONTENT_SECURITY_POLICY};

use crate::support::service::TestService;

#[sqlx::test]
async fn the_page_and_its_assets_carry_a_strict_policy_and_cache_by_content(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let http = reqwest::Client::new();
    for path in ["/", "/runs", "/runs/0b7a3c55-0000-4000-8000-000000000000"] {
        let page = http
            .get(format!("{}{path}", service.url))
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 200, "{path}");
        let headers = page.headers().clone();
        assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-cache");
        let html = page.text().await.unwrap();
        assert!(html.contains(&format!("/assets/{}/app.js", ASSETS.version)), "{html}");
        assert!(!html.contains("<style") && !html.contains(" style="), "no inline style");
        assert!(!html.contains("<script>"), "no inline script");
    }
    for directive in [
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "default-src 'none'",
    ] {
        assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
    }
    assert!(
        !CONTENT_SECURITY_POLICY.contains("unsafe"),
        "no unsafe-inline, no unsafe-eval"
    );

    let asset = http
        .get(format!("{}/assets/{}/app.js", service.url, ASSETS.version))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status().as_u16(), 200);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let stale = http
        .get(format!("{}/assets/0000000000000000/app.js", service.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stale.status().as_u16(),
        404,
        "another version's URL is not this content"
    );

    // The API's JSON 404 stays, for a browser too, and for a non-browser anywhere.
    for (path, accept) in [
        ("/v1/nothing", "text/html"),
        ("/v1/nothing", "application/json"),
        ("/elsewhere", "application/json"),
    ] {
        let answer = http
            .get(format!("{}{path}", service.url))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 404, "{path} {accept}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path} {accept}");
    }
    service.stop().await;
}

#[test]
fn the_page_with_all_its_assets_is_within_500_kb() {
    let total = ASSETS.total_bytes();
    println!("console page and assets: {total} bytes ({} files)", ASSETS.files.len());
    assert!(total <= 500 * 1024, "{total} bytes");
}
