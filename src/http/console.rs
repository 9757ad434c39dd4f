//! The web console: `web/` compiled into the binary. The page (`web/index.html`) answers
//! `/` and every page path a browser asks for (a GET that accepts `text/html` outside
//! `/v1/`), so a run's URL can be shared; the router in `web/app.js` draws the page.
//! Assets live under `/assets/<version>/<name>`, where the version is a content hash of
//! the whole set: relative module imports keep working, and a changed file moves every URL
//! so `immutable` caching is safe. A strict Content-Security-Policy allows only this
//! service: no inline script or style, no eval, nothing from another host.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use sha2::Digest;

use crate::error::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Web;

/// Only this service: no inline code, no eval, no other host, never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The embedded files, the version in their URLs, and the page pointing at them.
pub struct Assets {
    pub version: String,
    pub files: BTreeMap<String, Cow<'static, [u8]>>,
    page: String,
}

/// Built once from the embedded files.
pub static ASSETS: LazyLock<Assets> = LazyLock::new(|| {
    let mut files = BTreeMap::new();
    let mut hash = sha2::Sha256::new();
    for name in Web::iter() {
        let file = Web::get(&name).expect("an embedded file listed by iter");
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(file.metadata.sha256_hash());
        files.insert(name.to_string(), file.data);
    }
    let version: String = hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
    let index = files.get("index.html").expect("web/index.html is embedded");
    let page = String::from_utf8_lossy(index).replace("/assets/", &format!("/assets/{version}/"));
    Assets { version, files, page }
});

impl Assets {
    /// Bytes of the page and everything it may load: the page budget's measure.
    pub fn total_bytes(&self) -> usize {
        self.page.len()
            + self
                .files
                .iter()
                .filter(|(n, _)| *n != "index.html")
                .map(|(_, d)| d.len())
                .sum::<usize>()
    }
}

/// `GET /assets/{version}/{*name}`: an embedded file, cached for good.
pub async fn asset(Path((version, name)): Path<(String, String)>) -> Response {
    let assets = &*ASSETS;
    match assets.files.get(&name) {
        Some(data) if version == assets.version && name != "index.html" => {
            let mut response = Response::new(Body::from(data.clone().into_owned()));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&name)));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            secure(response)
        }
        _ => ApiError::NotFound(format!("asset {version}/{name}")).into_response(),
    }
}

/// `GET /`: the console's page.
pub async fn page() -> Response {
    let mut response = Response::new(Body::from(ASSETS.page.clone()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(response)
}

/// The router's fallback: a browser asking for a page path gets the console, which shows
/// what the path names (or that it names nothing); anything else, and every unknown path
/// under `/v1/`, is the API's JSON 404.
pub async fn fallback(request: Request) -> Response {
    let path = request.uri().path();
    let wants_page = matches!(*request.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/v1/")
        && path != "/v1"
        && !path.starts_with("/assets/")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if wants_page {
        page().await
    } else {
        super::edge::no_route(request).await.into_response()
    }
}

/// The headers every console answer carries.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
