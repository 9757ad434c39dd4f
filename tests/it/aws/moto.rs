//! Against an independent AWS endpoint: `moto_server` (PyPI moto[server], from the test
//! venv) with IAM's managed policies loaded and Lambda answering without Docker. The
//! project reaches it with its own key and its secret from key storage; the execution role
//! is created once and reused, custom-code functions are created, invoked and deleted
//! (their log groups made with a short retention), an existing function is invoked with
//! moto's canned answer, and a missing function is reported as such.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use crate::aws::iam_policy::{actions_of, book_policy};
use crate::support::service::TestService;
use crate::support::{function_of, kept_function, venv};

/// A moto server on a free port, recording every request it is sent; killed when dropped.
pub struct Moto {
    pub url: String,
    recording: std::path::PathBuf,
    _process: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// What the test's own clients of moto use (keys other than the project's, so the
    /// recording tells the service's calls from the test's).
    fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_iam::config::SharedCredentialsProvider::new(
                aws_sdk_iam::config::Credentials::new("test", "test", None, None, "test"),
            ))
            .endpoint_url(&self.url)
            .build()
    }
}

pub async fn moto() -> Moto {
    let port = crate::support::free_port();
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("requests.jsonl");
    let process = tokio::process::Command::new(venv().join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .env("MOTO_ENABLE_RECORDING", "true")
        .env("MOTO_RECORDER_FILEPATH", &recording)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moto_server runs (scripts/test installs moto[server] into the venv)");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(format!("{url}/moto-api/")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Lambda answers Invoke without running code (moto needs Docker for that).
    let configured = http
        .post(format!("{url}/moto-api/config"))
        .json(&json!({"lambda": {"use_docker": false}}))
        .send()
        .await
        .expect("moto answers");
    assert!(configured.status().is_success());
    Moto {
        url,
        recording,
        _process: process,
        _dir: dir,
    }
}

#[sqlx::test]
async fn custom_code_on_moto_creates_the_execution_role_once_and_cleans_up(db: PgPool) {
    let moto = moto().await;
    // The project reaches moto with its own key, its secret from key storage.
    // The sweeper runs every second, so its calls are among those checked below.
    let service = TestService::start(db, &["--sweep-seconds", "1"]).await;
    assert_eq!(service.put("/v1/projects/aws-team", "").await, 201);
    assert_eq!(service.put("/v1/keys/aws-team/secret", "moto-secret-key").await, 201);
    let settings = json!({"project.aws.endpoint_url": moto.url, "project.aws.access_key": "AKIDMOTOTEAM",
        "project.aws.secret_key_path": "aws-team/secret"});
    assert_eq!(service.put_json("/v1/projects/aws-team/settings", &settings).await, 200);
    let step = json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "def lambda_handler(e, c):\n    return 1\n"});

    let (first, log) = service.run_successfully("aws-team", step.clone()).await;
    assert!(
        log.iter()
            .any(|l| l.starts_with("created execution role lambda-steps-execution")),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("deleted function lambda-steps-")),
        "{log:#?}"
    );
    // Its log group was made beforehand with a short retention, so it does not pile up.
    let group = format!("/aws/lambda/{}", function_of(&first));
    assert!(
        log.contains(&format!("log group {group} keeps its lines 1 day(s)")),
        "{log:#?}"
    );
    let moto_logs = aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config());
    let groups = moto_logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    let retention: Vec<_> = groups.log_groups().iter().map(|g| g.retention_in_days()).collect();
    assert_eq!(retention, [Some(1)]);

    let (_, log) = service.run_successfully("aws-team", step).await;
    assert!(
        !log.iter().any(|l| l.contains("execution role")),
        "the role is reused: {log:#?}"
    );

    let iam = aws_sdk_iam::Client::new(&moto.sdk_config());
    let attached = iam
        .list_attached_role_policies()
        .role_name("lambda-steps-execution")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_name())
        .collect();
    assert_eq!(names, ["AWSLambdaBasicExecutionRole"]);
    let moto_lambda = crate::support::client(&moto.url);
    let left = moto_lambda.list_functions().send().await.unwrap();
    assert!(left.functions().is_empty(), "every custom-code function was deleted");
    // The project's functions live on moto itself, not on the service's default Lambda.
    let mut kept_step = json!({"type": "lambda_custom_code", "runtime": "python3.12", "keep_function": true});
    kept_step["code"] = json!("def lambda_handler(e, c):\n    return 1\n");
    let (kept, _) = service.run_successfully("aws-team", kept_step).await;
    let on_moto = moto_lambda.list_functions().send().await.unwrap();
    let names: Vec<_> = on_moto.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, [function_of(&kept)]);

    // An existing function, invoked through the project; moto answers what it was told to.
    let told = reqwest::Client::new()
        .post(format!("{}/moto-api/static/lambda-simple/response", moto.url))
        .json(&json!({"results": [r#"{"canned": 42}"#], "region": "us-east-1"}))
        .send()
        .await
        .unwrap();
    assert!(told.status().is_success());
    let invoke = json!({"type": "lambda_invoke", "function_name": names[0]});
    let (invoked, _) = service.run_successfully("aws-team", invoke).await;
    assert_eq!(invoked["result"]["payload"], json!({"canned": 42}));

    // Asked of moto through the project: a missing function is reported, nothing invoked.
    let missing = service
        .run_in(
            "aws-team",
            json!({"type": "lambda_invoke", "function_name": "not-on-moto"}),
        )
        .await;
    crate::support::assert_refused_as_not_found(&missing);

    // Every call the service made to moto, sweeper included, is allowed by the book's
    // IAM policy.
    let mut called = BTreeSet::new();
    for _ in 0..100 {
        called = actions_of(&moto.recording, "AKIDMOTOTEAM");
        if called.contains("lambda:ListFunctions") && called.contains("logs:DescribeLogGroups") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(called.contains("logs:DescribeLogGroups"), "the sweeper ran: {called:?}");
    let allowed = book_policy();
    let missing: Vec<_> = called.difference(&allowed).collect();
    assert!(
        missing.is_empty(),
        "the book's policy lacks {missing:?} (called: {called:?})"
    );
    service.stop().await;
}

/// The body of the one CreateFunction request moto recorded, as JSON.
fn recorded_create_function(recording: &std::path::Path) -> serde_json::Value {
    use base64::Engine as _;
    let text = std::fs::read_to_string(recording).unwrap_or_default();
    let created: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a recorded request"))
        .filter(|r| {
            r["method"] == "POST"
                && r["url"]
                    .as_str()
                    .is_some_and(|u| u.trim_end_matches('/').ends_with("/2015-03-31/functions"))
        })
        .collect();
    assert_eq!(created.len(), 1, "one CreateFunction: {created:#?}");
    let body = created[0]["body"].as_str().unwrap();
    let body = if created[0]["body_encoded"] == true {
        base64::engine::general_purpose::STANDARD.decode(body).unwrap()
    } else {
        body.as_bytes().to_vec()
    };
    serde_json::from_slice(&body).expect("CreateFunction's body is JSON")
}

#[sqlx::test]
async fn custom_code_on_moto_uploads_its_packages_inside_the_zip_with_description_and_tags(db: PgPool) {
    use base64::Engine as _;
    let moto = moto().await;
    // The project's Lambda is moto, so packages are installed as for AWS (manylinux wheels).
    let service = TestService::start(db, &[]).await;
    assert_eq!(service.put("/v1/projects/aws-team", "").await, 201);
    assert_eq!(service.put("/v1/keys/aws-team/secret", "moto-secret-key").await, 201);
    let settings = json!({"project.aws.endpoint_url": moto.url, "project.aws.access_key": "AKIDMOTOTEAM",
        "project.aws.secret_key_path": "aws-team/secret"});
    assert_eq!(service.put_json("/v1/projects/aws-team/settings", &settings).await, 200);
    let step = json!({"type": "lambda_custom_code", "runtime": "python3.12",
        "code": "import six\n\ndef lambda_handler(e, c):\n    return six.__version__\n",
        "packages": ["six==1.16.0"], "description": "restart worker", "tags": {"team": "sre"},
        "keep_function": true});
    let (run, log) = service.run_successfully("aws-team", step).await;
    assert!(
        log.iter()
            .any(|l| l.starts_with("packages installed in ") && l.contains("Lambda, Python 3.12 on x86_64")),
        "{log:#?}"
    );

    let created = recorded_create_function(&moto.recording);
    assert_eq!(created["Description"], "restart worker");
    assert_eq!(created["Tags"]["team"], "sre");
    assert!(
        created["Tags"]["lambda-steps:run-id"].is_string(),
        "{}",
        created["Tags"]
    );
    let zip = base64::engine::general_purpose::STANDARD
        .decode(created["Code"]["ZipFile"].as_str().unwrap())
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let names: BTreeSet<String> = archive.file_names().map(str::to_string).collect();
    assert!(names.contains("lambda_function.py"), "{names:?}");
    assert!(names.contains("six.py"), "the package beside the code: {names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("six-1.16.0.dist-info/")),
        "{names:?}"
    );
    let mut six = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("six.py").unwrap(), &mut six).unwrap();
    assert!(six.contains("__version__ = \"1.16.0\""));

    // What moto kept: the description and tags on the function it created.
    let on_moto = kept_function(&crate::support::client(&moto.url), &run).await;
    assert_eq!(on_moto.description.as_deref(), Some("restart worker"));
    assert_eq!(on_moto.tags.get("team").map(String::as_str), Some("sre"));
    service.stop().await;
}
