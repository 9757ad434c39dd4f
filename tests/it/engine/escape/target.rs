//! The service the suite attacks, in one of three places: in this test process (its engine
//! runs as the test's user: root in CI), a `lambda-steps serve` process run as an ordinary
//! user (no uid per environment: user namespaces keep environments apart), or a service
//! running elsewhere, named by environment variables (the container, from
//! tests/container/run). Each answers the same calls; the scene does not know which it has.

use std::path::PathBuf;

use serde_json::Value;
use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, ServeProcess, TestService, authorized, log_messages};
use crate::support::{TestEngine, runtimes_dir, service_client, signed_client, venv};

/// The variables that point the suite at a service elsewhere: its URL, its admin token,
/// its engine's URL and key, and the host path of its data directory (where B's code is
/// looked for).
pub const EXTERNAL: [&str; 6] = [
    "LAMBDA_STEPS_ESCAPE_SERVICE_URL",
    "LAMBDA_STEPS_ESCAPE_ADMIN_TOKEN",
    "LAMBDA_STEPS_ESCAPE_ENGINE_URL",
    "LAMBDA_STEPS_ESCAPE_ENGINE_ACCESS_KEY_ID",
    "LAMBDA_STEPS_ESCAPE_ENGINE_SECRET_ACCESS_KEY",
    "LAMBDA_STEPS_ESCAPE_DATA_DIR",
];

pub struct Target {
    pub url: String,
    pub http: reqwest::Client,
    pub engine_url: String,
    pub engine_client: aws_sdk_lambda::Client,
    /// The service's data directory as this host sees it (the engine's is the same).
    pub data_dir: PathBuf,
    held: Held,
}

enum Held {
    InProcess(TestService),
    Process(ServeProcess, tempfile::TempDir),
    External,
}

impl Target {
    /// The service in this process, its engine started with `engine_flags`.
    pub async fn in_process(db: PgPool, engine_flags: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let data_dir = data.path().canonicalize().unwrap();
        let engine = TestEngine::start(&data_dir.join("engine"), engine_flags).await;
        let service = TestService::start_with_engine(db, engine, data, &[]).await;
        Self {
            url: service.url.clone(),
            http: authorized(ADMIN_TOKEN),
            engine_url: service.engine.url.clone(),
            engine_client: service.engine.client.clone(),
            data_dir,
            held: Held::InProcess(service),
        }
    }

    /// `lambda-steps serve` with its defaults, as `user` (`None`: as this test's user).
    pub async fn process_as(db: PgPool, user: Option<(u32, u32)>) -> Self {
        let work = tempfile::Builder::new()
            .prefix("lambda-steps-escape-")
            .tempdir()
            .unwrap();
        let pip = venv().join("bin/pip").display().to_string();
        let runtimes = runtimes_dir().display().to_string();
        // The database role stays the test's: a URL without one would mean the OS user's.
        let role = db.connect_options().get_username().to_string();
        let process = ServeProcess::start_as(
            &db,
            work.path(),
            user,
            &["--poll-ms", "200", "--pip", &pip],
            &[
                ("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN),
                ("LAMBDA_STEPS_RUNTIMES_DIR", &runtimes),
                ("PGUSER", &role),
            ],
        )
        .await;
        Self {
            url: process.api.clone(),
            http: authorized(ADMIN_TOKEN),
            engine_url: process.engine.clone(),
            engine_client: signed_client(&process.engine, process.engine_credentials()),
            data_dir: process.data_dir.canonicalize().unwrap(),
            held: Held::Process(process, work),
        }
    }

    /// The service the `EXTERNAL` variables name; panics naming what is missing.
    pub fn external() -> Self {
        let [url, token, engine_url, key_id, secret, data_dir] = EXTERNAL.map(|name| {
            std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (tests/container/run sets every one)"))
        });
        let credentials = aws_sdk_lambda::config::Credentials::new(key_id, secret, None, None, "external");
        Self {
            http: authorized(&token),
            engine_client: signed_client(&engine_url, credentials),
            url,
            engine_url,
            data_dir: data_dir.into(),
            held: Held::External,
        }
    }

    pub async fn submit(&self, project: &str, step: Value) -> (u16, Value) {
        service_client::submit(&self.http, &self.url, project, &step, None).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn put(&self, path: &str) -> u16 {
        let request = self.http.put(format!("{}{path}", self.url)).body("");
        request.send().await.unwrap().status().as_u16()
    }

    pub async fn log(&self, id: &str) -> Vec<String> {
        log_messages(&self.http, &self.url, id).await
    }

    /// Stops what the suite started; a service elsewhere stays as it was.
    pub async fn stop(self) {
        match self.held {
            Held::InProcess(service) => service.stop().await,
            Held::Process(mut process, work) => {
                let _ = process.child.kill().await;
                drop(work);
            }
            Held::External => {}
        }
    }
}
