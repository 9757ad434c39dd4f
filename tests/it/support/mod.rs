//! Test support: an embedded engine on a free port with its own data directory, an
//! aws-sdk-lambda client pointed at it and signing with the engine's key, zips built in memory, free ports, fake AWS endpoints
//! and the code blocks of the book's pages (docs/src/) and the README.

pub mod browser;
pub mod fake_lambda;
pub mod gems;
pub mod otlp;
pub mod pg_cluster;
pub mod service;
pub mod service_client;

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use base64::Engine as _;
use lambda_engine::Engine;
use lambda_engine::EngineSettings;
use tokio_util::sync::CancellationToken;

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves a fake AWS endpoint in the background; answers its URL.
pub async fn fake_endpoint(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// A page of the book, `docs/src/{page}` (e.g. `guide/curl.md`), as written.
pub fn book_page(page: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src").join(page);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("the book's page {}: {e}", path.display()))
}

/// The first `language` code block of the book's `page` after the text `after` (a
/// `<!-- book-test:NAME -->` marker, or a sentence of the page).
pub fn book_code(page: &str, after: &str, language: &str) -> String {
    code_after(&book_page(page), after, language)
        .unwrap_or_else(|| panic!("docs/src/{page} has a {language} block after {after:?}"))
}

/// The first `language` code block of `markdown` after the text `after`.
pub fn code_after(markdown: &str, after: &str, language: &str) -> Option<String> {
    markdown
        .split(after)
        .nth(1)
        .and_then(|rest| rest.split(&format!("```{language}\n")).nth(1))
        .and_then(|code| code.split("```").next())
        .map(str::to_string)
}

/// A running engine and a client for it.
pub struct TestEngine {
    pub client: Client,
    pub url: String,
    pub engine: Engine,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl TestEngine {
    /// Starts an engine on `data_dir` with extra `lambda-local` flags.
    pub async fn start(data_dir: &Path, flags: &[&str]) -> Self {
        let engine = Engine::start(engine_settings(data_dir, flags)).expect("engine starts");
        Self::serve(engine).await
    }

    /// Starts an engine as `start` does, and answers what it wrote to the service log while
    /// starting (its start is synchronous, so a subscriber of this thread sees all of it).
    pub async fn start_logged(data_dir: &Path, flags: &[&str]) -> (Self, String) {
        let log = CapturedLog::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .finish();
        let engine = tracing::subscriber::with_default(subscriber, || {
            Engine::start(engine_settings(data_dir, flags)).expect("engine starts")
        });
        (Self::serve(engine).await, log.text())
    }

    /// An engine that runs durable functions (AWS's durable execution SDK for Python is in
    /// the runtimes' SDKs), on `data_dir`.
    pub async fn start_durable(data_dir: &Path) -> Self {
        let runtimes = runtimes_dir().display().to_string();
        Self::start(data_dir, &["--runtimes-dir", &runtimes]).await
    }

    async fn serve(engine: Engine) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn({
            let (engine, shutdown) = (engine.clone(), shutdown.clone());
            async move { engine.serve(listener, shutdown).await.expect("engine serves") }
        });
        Self {
            client: signed_client(&url, engine_credentials(&engine)),
            url,
            engine,
            shutdown,
            task,
        }
    }

    /// The engine's access key, as the SDKs take it.
    pub fn credentials(&self) -> Credentials {
        engine_credentials(&self.engine)
    }

    /// A CloudWatch Logs client for this engine, SDK retries off.
    pub fn logs_client(&self) -> aws_sdk_cloudwatchlogs::Client {
        logs_client(&self.url, self.credentials())
    }

    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` of the engine's key, for a process
    /// (the AWS CLI, boto3) that signs with it.
    pub fn key_env(&self) -> [(&'static str, String); 2] {
        let key = self.engine.key();
        [
            ("AWS_ACCESS_KEY_ID", key.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", key.secret_access_key.expose().to_string()),
        ]
    }

    /// Runs the Python script `tests/{script}` with the engine's URL, access key id and
    /// secret, then `args`, as a user of the engine would; answers what it printed, which
    /// must have the line `ok_line`.
    pub async fn run_python(&self, script: &str, args: &[&str], ok_line: &str) -> String {
        let [(_, id), (_, secret)] = self.key_env();
        let key = [self.url.as_str(), id.as_str(), secret.as_str()];
        let all: Vec<&std::ffi::OsStr> = key.iter().chain(args).map(std::ffi::OsStr::new).collect();
        run_python_check(script, &all, ok_line).await
    }

    /// Stops the server and every environment.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

fn engine_settings(data_dir: &Path, flags: &[&str]) -> EngineSettings {
    let mut args = vec!["--data-dir".to_string(), data_dir.display().to_string()];
    args.extend(flags.iter().map(|f| f.to_string()));
    EngineSettings::from_args(args)
}

/// What a tracing subscriber wrote, kept in memory.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> CapturedLog {
        self.clone()
    }
}

/// The access key of `engine`, as the SDKs take it.
pub fn engine_credentials(engine: &Engine) -> Credentials {
    let key = engine.key();
    Credentials::new(&key.access_key_id, key.secret_access_key.expose(), None, None, "engine")
}

/// A Lambda client for an endpoint that does not check signatures (moto), SDK retries off.
pub fn client(url: &str) -> Client {
    signed_client(url, Credentials::new("AKIDTEST", "secret", None, None, "test"))
}

/// A Lambda client for `url` signing with `credentials`, with SDK retries off, so each test
/// sees the raw answer.
pub fn signed_client(url: &str, credentials: Credentials) -> Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(url)
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                .operation_timeout(std::time::Duration::from_secs(120))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// A zip of `(name, content)` files; names ending in `bootstrap` are executable.
pub fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        let mode = if name.ends_with("bootstrap") { 0o755 } else { 0o644 };
        let options = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        out.start_file(*name, options).unwrap();
        out.write_all(content.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// Creates a function from source files.
pub async fn create(client: &Client, name: &str, runtime: &str, handler: &str, files: &[(&str, &str)]) {
    create_with(client, name, runtime, handler, files, 10, 256).await;
}

pub async fn create_with(
    client: &Client,
    name: &str,
    runtime: &str,
    handler: &str,
    files: &[(&str, &str)],
    timeout: i32,
    memory: i32,
) {
    create_request(client, name, runtime, handler, zip(files))
        .timeout(timeout)
        .memory_size(memory)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {name}: {:?}", e.into_service_error()));
}

/// Whether Lambda says the function does not exist (ResourceNotFoundException; any other
/// failure is not an answer, and panics).
pub async fn function_is_gone(client: &Client, name: &str) -> bool {
    match client.get_function().function_name(name).send().await {
        Ok(_) => false,
        Err(e) => match e.as_service_error() {
            Some(service) if service.is_resource_not_found_exception() => true,
            _ => panic!("GetFunction {name}: {}", aws_sdk_lambda::error::DisplayErrorContext(&e)),
        },
    }
}

/// A CreateFunction call with `zip_bytes` as the code, ready to send or to adjust.
pub fn create_request(
    client: &Client,
    name: &str,
    runtime: &str,
    handler: &str,
    zip_bytes: Vec<u8>,
) -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder {
    client
        .create_function()
        .function_name(name)
        .runtime(runtime.into())
        .role("arn:aws:iam::000000000000:role/test")
        .handler(handler)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(Blob::new(zip_bytes))
                .build(),
        )
}

/// What a synchronous invoke answered.
#[derive(Debug)]
pub struct Invoked {
    pub status: i32,
    pub function_error: Option<String>,
    pub executed_version: Option<String>,
    pub payload: serde_json::Value,
    pub log: String,
}

/// Invokes with a JSON payload and the log tail.
pub async fn invoke(client: &Client, name: &str, payload: serde_json::Value) -> Invoked {
    invoke_qualified(client, name, None, payload).await
}

pub async fn invoke_qualified(
    client: &Client,
    name: &str,
    qualifier: Option<&str>,
    payload: serde_json::Value,
) -> Invoked {
    let out = client
        .invoke()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_string))
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("invoke {name}: {:?}", e.into_service_error()));
    let bytes = out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    Invoked {
        status: out.status_code(),
        function_error: out.function_error().map(str::to_string),
        executed_version: out.executed_version().map(str::to_string),
        payload: serde_json::from_slice(&bytes).unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into()),
        log: decode_tail(out.log_result()),
    }
}

pub fn decode_tail(tail: Option<&str>) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(tail.unwrap_or_default())
        .expect("log tail is base64");
    String::from_utf8_lossy(&bytes).to_string()
}

/// The venv holding boto3, awslambdaric and ministack; created by `scripts/test`.
pub fn venv() -> PathBuf {
    let venv = default_venv();
    assert!(
        venv.join("bin/python").exists(),
        "no test venv at {}: run scripts/test, which creates it (python3 -m venv; pip install -r tests/requirements.txt)",
        venv.display()
    );
    venv
}

/// Runs `tests/{script}` with the venv's Python and `args`; asserts it exits 0 and prints
/// `ok_line` (each script's last line says what it checked), and returns its stdout.
pub async fn run_python_check(script: &str, args: &[&std::ffi::OsStr], ok_line: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(script);
    let out = tokio::process::Command::new(venv().join("bin/python"))
        .arg(&path)
        .args(args)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed\n{stdout}\n{stderr}");
    assert!(stdout.contains(ok_line), "{script} did not say {ok_line:?}\n{stdout}");
    stdout
}

/// Where scripts/deps.sh puts the venv: under /opt as root (user code then runs as
/// `nobody`, who must be able to run it), else `.venv` in the checkout.
fn default_venv() -> PathBuf {
    if let Some(venv) = std::env::var_os("LAMBDA_STEPS_TEST_VENV") {
        return venv.into();
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return "/opt/lambda-steps-test-venv".into();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv")
}

/// A fresh data directory for one test.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A finished run that failed because Lambda has no such function (`lambda_error`,
/// `ResourceNotFoundException: ...`).
pub fn assert_refused_as_not_found(run: &serde_json::Value) {
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "lambda_error", "{run}");
    let message = run["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("ResourceNotFoundException"), "{run}");
}

/// The name of the function a custom-code run creates: `lambda-steps-` and the run's id
/// without dashes.
pub fn function_of(run: &serde_json::Value) -> String {
    let id = run["id"].as_str().unwrap_or_else(|| panic!("a run: {run}"));
    format!("lambda-steps-{}", id.replace('-', ""))
}

/// What Lambda keeps of the function a run with `keep_function` left behind.
pub struct KeptFunction {
    pub arn: String,
    pub description: Option<String>,
    pub tags: std::collections::HashMap<String, String>,
}

/// GetFunction of the function `run` created, on the Lambda `lambda` reaches.
pub async fn kept_function(lambda: &Client, run: &serde_json::Value) -> KeptFunction {
    let name = function_of(run);
    let function = lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetFunction {name}: {:?}", e.into_service_error()));
    let configuration = function.configuration().expect("a function's configuration");
    KeptFunction {
        arn: configuration.function_arn().expect("a function's ARN").to_string(),
        description: configuration.description().map(str::to_string),
        tags: function.tags().cloned().unwrap_or_default(),
    }
}

/// A CloudWatch Logs client for the engine at `url` signing with `credentials`, SDK
/// retries off.
pub fn logs_client(url: &str, credentials: Credentials) -> aws_sdk_cloudwatchlogs::Client {
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(url)
        .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(config)
}

/// The runtimes' AWS SDKs, installed once for the whole suite by `lambda-steps runtimes
/// install`'s own code (scripts/deps.sh installs them first, so this is a check that
/// finds them there). Kept where the sandbox user can read them: under /opt as root.
pub fn runtimes_dir() -> PathBuf {
    static INSTALLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = match std::env::var_os("LAMBDA_STEPS_TEST_RUNTIMES_DIR") {
                Some(dir) => PathBuf::from(dir),
                // SAFETY: geteuid has no preconditions.
                None if unsafe { libc::geteuid() } == 0 => "/opt/lambda-steps-runtimes".into(),
                None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".runtimes"),
            };
            let said = lambda_engine::sdk::install_for_host(&dir, None)
                .unwrap_or_else(|e| panic!("installing the runtimes' AWS SDKs into {}: {e:#}", dir.display()));
            eprintln!("runtimes' AWS SDKs in {}: {}", dir.display(), said.join("; "));
            dir
        })
        .clone()
}

/// Runs with these ids, running on attempt 1 and held by `worker` for an hour, written
/// straight into the table: for tests of what happens to many runs at once.
pub async fn insert_running_runs(db: &sqlx::PgPool, ids: &[uuid::Uuid], worker: &str) {
    sqlx::query(
        "INSERT INTO runs (id, project, status, step, attempt, worker, lease_expires_at)
         SELECT id, 'default', 'running', '{}', 1, $2, now() + interval '1 hour' FROM unnest($1::uuid[]) AS id",
    )
    .bind(ids)
    .bind(worker)
    .execute(db)
    .await
    .unwrap();
}

/// The ordinary user a test runs a service as when the test runs as root, to prove what
/// holds without root (scripts/deps.sh creates it).
pub const ORDINARY_USER: &str = "lambda-steps-test";

/// `ORDINARY_USER`'s uid and gid when this test runs as root; `None` when it does not (the
/// test's own user is an ordinary one already).
pub fn ordinary_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new(ORDINARY_USER).unwrap();
    // SAFETY: getpwnam reads the user database; the entry is copied out at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !entry.is_null(),
        "no user {ORDINARY_USER}: scripts/deps.sh creates it (ensure_ordinary_user)"
    );
    // SAFETY: a non-null entry getpwnam just returned.
    Some(unsafe { ((*entry).pw_uid, (*entry).pw_gid) })
}
