//! Replay against an AWS-like "production" endpoint: runs there fail or answer, and are
//! replayed on the real service's embedded engine (a real `serve` process), with the code
//! fetched from `Code.Location`; the difference through the API, the CLI and the console.

mod api;
mod cli;
mod production;
mod side_effects;

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::runtimes_dir;
use crate::support::service::{ADMIN_TOKEN, ServeProcess, authorized};
pub use production::{Deployment, Production};

/// The service with its embedded engine (and the runtimes' SDKs), and a production
/// endpoint its `default` project invokes.
pub struct Stage {
    pub service: ServeProcess,
    pub production: Production,
    pub http: reqwest::Client,
    _work: tempfile::TempDir,
}

impl Stage {
    pub async fn start(db: &PgPool) -> Self {
        Self::start_with(db, &[]).await
    }

    /// The same, with extra `serve` flags.
    pub async fn start_with(db: &PgPool, flags: &[&str]) -> Self {
        let work = tempfile::tempdir().unwrap();
        let runtimes = runtimes_dir().display().to_string();
        let env = [
            ("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN),
            ("LAMBDA_STEPS_RUNTIMES_DIR", runtimes.as_str()),
        ];
        let service = ServeProcess::start(db, work.path(), flags, &env).await;
        let production = Production::start(work.path()).await;
        let http = authorized(ADMIN_TOKEN);
        let stage = Self {
            service,
            production,
            http,
            _work: work,
        };
        stage
            .settings(json!({"project.aws.endpoint_url": stage.production.url}))
            .await;
        stage
    }

    /// Replaces the default project's settings.
    pub async fn settings(&self, settings: Value) {
        let set = self
            .http
            .put(format!("{}/v1/projects/default/settings", self.service.api))
            .json(&settings)
            .send()
            .await
            .unwrap();
        assert_eq!(set.status().as_u16(), 200, "{}", set.text().await.unwrap());
    }

    /// Invokes a production function through the service; answers the finished run.
    pub async fn invoke(&self, function: &str, payload: Value, client_context: Option<Value>) -> Value {
        let mut step = json!({"type": "lambda_invoke", "function_name": function, "payload": payload});
        if let Some(context) = client_context {
            step["client_context"] = context;
        }
        self.service.run(step).await
    }

    /// `POST /v1/runs/{id}/replay`: the status and body.
    pub async fn ask_replay(&self, id: &str, body: Value) -> (u16, Value) {
        let answer = self
            .http
            .post(format!("{}/v1/runs/{id}/replay", self.service.api))
            .json(&body)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap())
    }

    /// Replays a run and waits for the replay to finish; answers it.
    pub async fn replay(&self, id: &str, body: Value) -> Value {
        let (status, replay) = self.ask_replay(id, body).await;
        assert_eq!(status, 202, "{replay}");
        assert_eq!(replay["replay_of"], id, "{replay}");
        self.finished(replay["id"].as_str().unwrap()).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let answer = self
            .http
            .get(format!("{}{path}", self.service.api))
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap())
    }

    /// Waits until a run is finished; answers it.
    pub async fn finished(&self, id: &str) -> Value {
        for _ in 0..1200 {
            let (_, run) = self.get(&format!("/v1/runs/{id}")).await;
            if !matches!(run["status"].as_str(), Some("queued" | "running")) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("run {id} did not finish in 120 s");
    }

    /// The difference of a replay.
    pub async fn diff(&self, id: &str) -> Value {
        let (status, diff) = self.get(&format!("/v1/runs/{id}/replay-diff")).await;
        assert_eq!(status, 200, "{diff}");
        diff
    }

    /// Every log message of a run.
    pub async fn log(&self, id: &str) -> Vec<String> {
        self.service.log(id).await
    }
}

/// A Python function that fails on production, printing first; it uses the client context.
pub const FAILING_PYTHON: &str = r#"import json

def lambda_handler(event, context):
    print("checking order", event["order"])
    tenant = context.client_context.custom["tenant"]
    raise ValueError(f"order {event['order']} refused for {tenant}")
"#;

/// A Node.js function that fails on production, printing first.
pub const FAILING_NODE: &str = r#"exports.handler = async (event) => {
  console.log("charging", event.order);
  throw new TypeError(`card declined for order ${event.order}`);
};
"#;

pub fn python(files: &'static [(&'static str, &'static str)]) -> Deployment<'static> {
    Deployment {
        layers: &[],
        runtime: "python3.12",
        handler: "lambda_function.lambda_handler",
        files,
        environment: &[],
        timeout: 10,
        memory: 256,
    }
}
