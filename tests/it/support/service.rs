//! Test support for the step runner: the real service (`lambda_steps::serve`) on a free
//! port, against a fresh Postgres database from `#[sqlx::test]` and an engine of its own.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::support::{TestEngine, free_port, service_client};

/// The bootstrap admin token of every test service.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// An HTTP client that sends `Authorization: Bearer <token>`.
pub fn authorized(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

pub struct TestService {
    pub url: String,
    pub http: reqwest::Client,
    pub engine: TestEngine,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _data: tempfile::TempDir,
}

impl TestService {
    /// The service talking to its own engine over HTTP, as with any Lambda endpoint.
    pub async fn start(db: PgPool, flags: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let engine = TestEngine::start(&data.path().join("engine"), &[]).await;
        Self::start_with_engine(db, engine, data, flags).await
    }

    /// The service with its engine on `--network host`, for tests whose functions signal
    /// them on the host's loopback, which no other network mode reaches.
    pub async fn start_on_host_network(db: PgPool, flags: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let engine = TestEngine::start(&data.path().join("engine"), &["--network", "host"]).await;
        Self::start_with_engine(db, engine, data, flags).await
    }

    /// The service on `listener` (a test that restarts it on the same address).
    pub async fn start_on(db: PgPool, listener: tokio::net::TcpListener, flags: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let engine = TestEngine::start(&data.path().join("engine"), &[]).await;
        Self::start_with_listener(db, engine, data, flags, listener).await
    }

    /// The service with an engine that runs durable functions (see
    /// `TestEngine::start_durable`).
    pub async fn start_durable(db: PgPool, flags: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let engine = TestEngine::start_durable(&data.path().join("engine")).await;
        Self::start_with_engine(db, engine, data, flags).await
    }

    pub async fn start_with_engine(db: PgPool, engine: TestEngine, data: tempfile::TempDir, flags: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_with_listener(db, engine, data, flags, listener).await
    }

    async fn start_with_listener(
        db: PgPool,
        engine: TestEngine,
        data: tempfile::TempDir,
        flags: &[&str],
        listener: tokio::net::TcpListener,
    ) -> Self {
        // The service talks to its engine unless the test points it elsewhere.
        let mut args = if flags.contains(&"--aws-endpoint-url") {
            Vec::new()
        } else {
            vec!["--aws-endpoint-url".to_string(), engine.url.clone()]
        };
        // It signs its calls to the engine with the engine's key, as a service pointed at a
        // `lambda-local` elsewhere does.
        if !flags.contains(&"--engine-access-key-id") {
            let key = engine.engine.key();
            args.extend([
                format!("--engine-access-key-id={}", key.access_key_id),
                format!("--engine-secret-access-key={}", key.secret_access_key.expose()),
            ]);
        }
        args.extend([
            "--data-dir".into(),
            data.path().display().to_string(),
            "--admin-token".into(),
            ADMIN_TOKEN.into(),
        ]);
        if !flags.contains(&"--poll-ms") {
            args.extend(["--poll-ms".into(), "200".into()]);
        }
        // Custom code's Python packages come through the test venv's pip, which is there
        // on every machine scripts/test prepares (a system pip3 may not be).
        if !flags.contains(&"--pip") {
            args.extend([
                "--pip".into(),
                crate::support::venv().join("bin/pip").display().to_string(),
            ]);
        }
        args.extend(flags.iter().map(|f| f.to_string()));
        let settings = lambda_steps::config::ServeSettings::from_args(args);
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(lambda_steps::serve(listener, settings, db, shutdown.clone()));
        Self {
            url,
            http: authorized(ADMIN_TOKEN),
            engine,
            shutdown,
            task,
            _data: data,
        }
    }

    /// Shuts the service down and fails the test when `serve()` returned an error, panicked
    /// or did not return within its drain bound.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(40), self.task).await;
        self.engine.stop().await;
        match ended {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("serve() returned an error: {e:#}"),
            Ok(Err(e)) => panic!("serve() panicked: {e}"),
            Err(_) => panic!("serve() did not return within 40 s of the shutdown"),
        }
    }

    /// Shuts the service down as `stop` does but leaves its engine running, for another
    /// service to take over (the engine's data must then live outside the service's own).
    pub async fn stop_keeping_engine(self) -> TestEngine {
        self.shutdown.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(40), self.task).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "serve() did not stop cleanly");
        self.engine
    }

    /// POSTs a step to a project; answers the status and body.
    pub async fn submit(&self, project: &str, step: Value) -> (u16, Value) {
        self.submit_with_key(project, step, None).await
    }

    pub async fn submit_with_key(&self, project: &str, step: Value, key: Option<&str>) -> (u16, Value) {
        service_client::submit(&self.http, &self.url, project, &step, key).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a JSON body; answers the status and body.
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

    /// PUTs a raw body (a secret, an empty body); answers the status.
    pub async fn put(&self, path: &str, body: impl Into<reqwest::Body>) -> u16 {
        let request = self.http.put(format!("{}{path}", self.url)).body(body);
        request.send().await.unwrap().status().as_u16()
    }

    /// PUTs a JSON body; answers the status.
    pub async fn put_json(&self, path: &str, body: &Value) -> u16 {
        let request = self.http.put(format!("{}{path}", self.url)).json(body);
        request.send().await.unwrap().status().as_u16()
    }

    pub async fn post(&self, path: &str) -> (u16, Value) {
        let response = self.http.post(format!("{}{path}", self.url)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Submits to the default project and waits for the run to finish; answers the
    /// finished run.
    pub async fn run(&self, step: Value) -> Value {
        self.run_in("default", step).await
    }

    /// Submits to `project` and waits for the run to finish; answers the finished run.
    pub async fn run_in(&self, project: &str, step: Value) -> Value {
        let (status, run) = self.submit(project, step).await;
        assert_eq!(status, 202, "{run}");
        self.wait_finished(run["id"].as_str().unwrap()).await
    }

    /// Runs a step in `project` to its end and asserts that it succeeded; answers the run
    /// and its log.
    pub async fn run_successfully(&self, project: &str, step: Value) -> (Value, Vec<String>) {
        let run = self.run_in(project, step).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let log = self.log(run["id"].as_str().unwrap()).await;
        (run, log)
    }

    pub async fn wait_finished(&self, id: &str) -> Value {
        self.wait_for(id, |run| !matches!(run["status"].as_str(), Some("queued" | "running")))
            .await
    }

    pub async fn wait_for(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..1200 {
            let (_, run) = self.get(&format!("/v1/runs/{id}")).await;
            if done(&run) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {id} did not get there in 60 s");
    }

    /// Every log message of a run, in order.
    pub async fn log(&self, id: &str) -> Vec<String> {
        log_messages(&self.http, &self.url, id).await
    }
}

/// Run `id`'s log messages, in order (its first 5,000 lines: more than a test prints).
pub async fn log_messages(http: &reqwest::Client, api: &str, id: &str) -> Vec<String> {
    log_entries(http, api, id)
        .await
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

/// A run's log entries (message, time, level, source...), its first 5,000.
pub async fn log_entries(http: &reqwest::Client, api: &str, id: &str) -> Vec<Value> {
    let response = http
        .get(format!("{api}/v1/runs/{id}/logs?limit=5000"))
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("run {id}'s log: {page}"))
        .clone()
}

/// The URL of the database a `#[sqlx::test]` pool points at, for a child process.
pub fn database_url(db: &PgPool) -> String {
    let name = db
        .connect_options()
        .get_database()
        .expect("test database name")
        .to_string();
    database_url_named(&name)
}

/// The URL of database `name` on DATABASE_URL's server (which need not exist yet).
pub fn database_url_named(name: &str) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set by scripts/test");
    let (server, _) = base.rsplit_once('/').expect("DATABASE_URL ends with /database");
    format!("{server}/{name}")
}

/// A real `lambda-steps serve` process on a test database, for what only a process shows
/// (its own log output, a SIGKILL). Its stdout goes to `log`.
pub struct ServeProcess {
    pub child: tokio::process::Child,
    pub api: String,
    /// Its embedded engine's Lambda API.
    pub engine: String,
    pub log: std::path::PathBuf,
    /// Its data directory (the engine's key is generated there).
    pub data_dir: std::path::PathBuf,
}

impl ServeProcess {
    /// Starts it with `work` as its working and data directory's parent, and waits until
    /// it answers HTTP.
    pub async fn start(db: &PgPool, work: &std::path::Path, flags: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_with_url(&database_url(db), work, flags, env).await
    }

    /// Starts it on the database at `url`, which need not exist yet; its stderr (where
    /// an error that ends it goes) follows its stdout in `log`.
    pub async fn start_with_url(url: &str, work: &std::path::Path, flags: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(url, work, None, flags, env).await
    }

    /// Starts it as `start` does, as the ordinary user `user` (uid, gid) when this test
    /// runs as root: `work` becomes that user's, and so does a copy of the binary (the
    /// build's may sit in root's private home). Without root it runs as this user.
    pub async fn start_as(
        db: &PgPool,
        work: &std::path::Path,
        user: Option<(u32, u32)>,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self::spawn(&database_url(db), work, user, flags, env).await
    }

    async fn spawn(
        url: &str,
        work: &std::path::Path,
        user: Option<(u32, u32)>,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let (api_port, engine_port) = (free_port(), free_port());
        let log = work.join("service.log");
        let data_dir = work.join("lambda-steps-data");
        let stdout = std::fs::File::create(&log).unwrap();
        let stderr = stdout.try_clone().unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"));
        if let Some((uid, gid)) = user {
            let binary = work.join("lambda-steps");
            std::fs::copy(env!("CARGO_BIN_EXE_lambda-steps"), &binary).unwrap();
            std::os::unix::fs::chown(work, Some(uid), Some(gid)).unwrap();
            std::os::unix::fs::chown(&log, Some(uid), Some(gid)).unwrap();
            command = tokio::process::Command::new(binary);
            command.uid(uid).gid(gid).env("HOME", work);
        }
        let mut child = command
            .args(["serve", "--listen", &format!("127.0.0.1:{api_port}")])
            .args(["--engine-listen", &format!("127.0.0.1:{engine_port}")])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(flags)
            .env("DATABASE_URL", url)
            .envs(env.iter().copied())
            .current_dir(work)
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let api = format!("http://127.0.0.1:{api_port}");
        for _ in 0..400 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the service exited at start ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            // Answering HTTP (not just a bound port) means the admin token file is written.
            if reqwest::get(format!("{api}/healthz"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                let engine = format!("http://127.0.0.1:{engine_port}");
                return Self {
                    child,
                    api,
                    engine,
                    log,
                    data_dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the service did not start:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// The access key of its embedded engine, from the data directory (generated there at
    /// its first start).
    pub fn engine_credentials(&self) -> aws_sdk_lambda::config::Credentials {
        let key = lambda_engine::auth::EngineKey::load(None, None, &self.data_dir).unwrap();
        aws_sdk_lambda::config::Credentials::new(
            &key.access_key_id,
            key.secret_access_key.expose(),
            None,
            None,
            "engine",
        )
    }

    /// Submits a step to the default project as the admin (the process must have been
    /// started with `LAMBDA_STEPS_ADMIN_TOKEN` = `ADMIN_TOKEN`); answers the run's id.
    pub async fn submit(&self, step: Value) -> String {
        let (status, run) = service_client::submit(&authorized(ADMIN_TOKEN), &self.api, "default", &step, None).await;
        assert_eq!(status, 202, "{run}");
        run["id"].as_str().unwrap().to_string()
    }

    /// A run's log messages.
    pub async fn log(&self, id: &str) -> Vec<String> {
        log_messages(&authorized(ADMIN_TOKEN), &self.api, id).await
    }

    /// Submits and waits until the run is over; answers the finished run.
    pub async fn run(&self, step: Value) -> Value {
        let url = format!("{}/v1/runs/{}", self.api, self.submit(step).await);
        let http = authorized(ADMIN_TOKEN);
        for _ in 0..1200 {
            let run: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
            if !matches!(run["status"].as_str(), Some("queued" | "running")) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{url} did not finish in 60 s");
    }
}
