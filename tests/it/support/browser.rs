//! The browser harness for the web console: Debian's headless Chromium driven through its
//! chromedriver (started per test on a free port, in its own process group so nothing
//! outlives the test) with fantoccini. Every test ends with `finish`, which asserts the
//! browser console logged no errors and the token is in no URL, localStorage or cookie.

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::free_port;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page has to show what a test waits for: a bound, not a timing; the whole
/// suite runs at once on two cores, the escape suite's fork bomb and memory hog among it.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Browser {
    pub client: Client,
    /// The service's base URL, `http://127.0.0.1:PORT`.
    pub base: String,
    /// Where downloads land.
    pub downloads: tempfile::TempDir,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (1,280 × 900) for the service at `base`.
    pub async fn open(base: &str) -> Self {
        Self::open_sized(base, 1280, 900).await
    }

    pub async fn open_sized(base: &str, width: u32, height: u32) -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: the console's browser tests need Debian's chromium and chromium-driver (scripts/test installs them: scripts/deps.sh ensure_browser)"
            );
        }
        let port = free_port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{webdriver}/status")).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {webdriver} in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                },
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--no-default-browser-check",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .expect("a Chromium session starts");
        if width < 500 {
            // Chromium's window is never narrower than 500 px: a phone's viewport is emulated.
            let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": true});
            client
                .issue_cmd(Cdp("Emulation.setDeviceMetricsOverride", metrics))
                .await
                .expect("chromedriver emulates a phone's viewport");
        }
        Self {
            client,
            base: base.to_string(),
            downloads,
            driver,
            _profile: profile,
        }
    }

    /// Opens `path` of the service (`/`, `/runs/ID`).
    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    /// Signs in on the page shown (which must be the sign-in form) and waits for the console.
    pub async fn sign_in(&self, token: &str) {
        self.type_token(token).await;
        self.wait_for("#sign-out").await;
    }

    /// Types a token in the sign-in field and presses Enter.
    pub async fn type_token(&self, token: &str) {
        let field = self.wait_for("#token").await;
        field.clear().await.unwrap();
        field.send_keys(&format!("{token}\u{E007}")).await.unwrap();
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .every(Duration::from_millis(25))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page in {PATIENCE:?}: {e}"))
    }

    /// Whether an element matches `css` now.
    pub async fn has(&self, css: &str) -> bool {
        self.js(&format!("return document.querySelector({}) !== null", json!(css)))
            .await
            .as_bool()
            .unwrap()
    }

    /// The text of the first element matching `css`, or "" when none does.
    pub async fn text(&self, css: &str) -> String {
        self.js(&format!(
            "return document.querySelector({})?.textContent ?? ''",
            json!(css)
        ))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits until the text of `css` satisfies `ok`; answers it.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text(css).await;
            if ok(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} still reads {text:?} after {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Runs `script` (a function body) in the page; answers what it returns.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Clicks the first element matching `css`, found again when the page drew it anew
    /// between finding and clicking (a live run's cards are redrawn as its state arrives).
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.wait_for(css).await.click().await {
                Ok(()) => return,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("clicking {css}: {e}"),
            }
        }
    }

    /// Types `text` into the field matching `css`: emptied and typed again when the page
    /// drew the field anew meanwhile (the console keeps a draft across redraws).
    pub async fn type_into(&self, css: &str, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let field = self.wait_for(css).await;
            let typed = match field.clear().await {
                Ok(()) => field.send_keys(text).await,
                Err(e) => Err(e),
            };
            match typed {
                Ok(()) => return,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("typing into {css}: {e}"),
            }
        }
    }

    /// The page's URL, path and query (and fragment).
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        let mut path = url.path().to_string();
        if let Some(query) = url.query() {
            path = format!("{path}?{query}");
        }
        if let Some(fragment) = url.fragment() {
            path = format!("{path}#{fragment}");
        }
        path
    }

    /// Waits until the page's URL (path, query and fragment) is `expected`.
    pub async fn wait_path(&self, expected: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let path = self.path().await;
            if path == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the URL is still {path}, not {expected}, after {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// Waits for a finished download named `name`; answers its content.
    pub async fn downloaded(&self, name: &str) -> String {
        let path = self.downloads.path().join(name);
        let deadline = Instant::now() + PATIENCE;
        while !path.exists() {
            assert!(Instant::now() < deadline, "no download {name} in {PATIENCE:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        std::fs::read_to_string(path).unwrap()
    }

    /// What the browser console logged since the last call: (level, message).
    pub async fn console(&self) -> Vec<(String, String)> {
        let entries = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("chromedriver answers the browser log");
        entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or_default().to_string(),
                    e["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Fails when `token` is in the URL, localStorage or a cookie (it must be in
    /// sessionStorage only).
    pub async fn assert_token_kept_secret(&self, token: &str) {
        let url = self.client.current_url().await.unwrap().to_string();
        assert!(!url.contains(token), "the token is in the URL {url}");
        let kept = self
            .js("return {local: JSON.stringify(Object.entries(localStorage)), cookie: document.cookie, history: history.length}")
            .await;
        let local = kept["local"].as_str().unwrap_or_default();
        assert!(!local.contains(token), "the token is in localStorage: {local}");
        let cookie = kept["cookie"].as_str().unwrap_or_default();
        assert!(!cookie.contains(token), "the token is in a cookie: {cookie}");
    }

    /// Ends the test's browser: no console errors (but those whose message contains one of
    /// `expected`, such as the 401 of a wrong token), the token kept secret, the session closed.
    pub async fn finish(mut self, token: &str, expected: &[&str]) {
        self.assert_token_kept_secret(token).await;
        let errors: Vec<_> = self
            .console()
            .await
            .into_iter()
            .filter(|(level, message)| level == "SEVERE" && !expected.iter().any(|e| message.contains(e)))
            .collect();
        assert!(errors.is_empty(), "the browser console logged errors: {errors:#?}");
        let _ = self.client.clone().close().await;
        kill_group(&self.driver);
        let _ = self.driver.wait().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&self.driver);
    }
}

/// Kills chromedriver and the Chromium it started (its process group).
fn kill_group(driver: &tokio::process::Child) {
    if let Some(pid) = driver.id() {
        // SAFETY: kill has no memory preconditions; the group is the one spawned above.
        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    }
}

/// chromedriver's `POST /session/{id}/se/log` with `{"type": "browser"}`: the console
/// messages collected by `goog:loggingPrefs` (fantoccini has no command for it).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`: one Chrome DevTools Protocol command.
#[derive(Debug)]
struct Cdp(&'static str, Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"cmd": self.0, "params": self.1}).to_string()),
        )
    }
}
