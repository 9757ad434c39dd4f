//! Signed callers only, through real clients: the Rust SDK (Lambda and CloudWatch Logs),
//! boto3 and the AWS CLI succeed with the engine's key; with no signature, another key id,
//! a wrong secret or a date outside 15 minutes each gets AWS's 403 and error type, as the
//! client reports it. A request naming no operation (IAM's GetRole, as the runner probes for
//! IAM) is answered 404 signed or not.

use std::time::{Duration, SystemTime};

use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_async::time::StaticTimeSource;
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::support::{TestEngine, data_dir, run_python_check, venv};

/// What a refused call came back with: HTTP status, error type, message.
type Answer = (u16, String, String);

fn answer<E: ProvideErrorMetadata + std::fmt::Debug>(error: &SdkError<E, HttpResponse>) -> Answer {
    let service = error
        .as_service_error()
        .unwrap_or_else(|| panic!("not an answer of the engine: {error:?}"));
    (
        error.raw_response().map_or(0, |r| r.status().as_u16()),
        service.code().unwrap_or_default().to_string(),
        service.message().unwrap_or_default().to_string(),
    )
}

/// ListFunctions and DescribeLogGroups signed with `credentials` in `region` at `now`: what
/// each answered (Ok: none).
async fn both_apis(
    engine: &TestEngine,
    credentials: Credentials,
    region: &str,
    now: SystemTime,
) -> [Option<Answer>; 2] {
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .credentials_provider(credentials.clone())
            .time_source(StaticTimeSource::new(now))
            .endpoint_url(&engine.url)
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .build(),
    );
    let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_cloudwatchlogs::config::Region::new(region.to_string()))
            .credentials_provider(credentials)
            .time_source(StaticTimeSource::new(now))
            .endpoint_url(&engine.url)
            .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled())
            .build(),
    );
    let listed = lambda.list_functions().send().await;
    let described = logs.describe_log_groups().send().await;
    [listed.err().map(|e| answer(&e)), described.err().map(|e| answer(&e))]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_sdk_is_answered_with_the_engines_key_and_refused_as_aws_refuses_without_it() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let key = engine.credentials();
    let now = SystemTime::now();

    for region in ["us-east-1", "eu-west-3"] {
        assert_eq!(
            both_apis(&engine, key.clone(), region, now).await,
            [None, None],
            "signed with the key in {region}"
        );
    }
    // Clocks a few minutes apart are within the window.
    let skewed = now - Duration::from_secs(10 * 60);
    assert_eq!(both_apis(&engine, key.clone(), "us-east-1", skewed).await, [None, None]);

    let secret = key.secret_access_key();
    let id = key.access_key_id();
    let unknown = Credentials::new("AKIDSOMEONEELSE12345", secret, None, None, "t");
    let wrong_secret = Credentials::new(id, "not-the-engines-secret", None, None, "t");
    let with_token = Credentials::new(id, secret, Some("a-session-token".into()), None, "t");
    let refused: [(&str, Credentials, SystemTime, &str, &str); 5] = [
        (
            "another key id",
            unknown,
            now,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        (
            "a session token",
            with_token,
            now,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        (
            "a wrong secret",
            wrong_secret,
            now,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        ),
        (
            "a date 20 minutes old",
            key.clone(),
            now - Duration::from_secs(20 * 60),
            "InvalidSignatureException",
            "Signature expired: ",
        ),
        (
            "a date 20 minutes ahead",
            key.clone(),
            now + Duration::from_secs(20 * 60),
            "InvalidSignatureException",
            "Signature not yet current: ",
        ),
    ];
    for (what, credentials, at, code, message) in refused {
        for (api, answered) in ["Lambda", "CloudWatch Logs"]
            .into_iter()
            .zip(both_apis(&engine, credentials.clone(), "us-east-1", at).await)
        {
            let (status, got_code, got_message) =
                answered.unwrap_or_else(|| panic!("{api} answered a call with {what}"));
            assert_eq!((status, got_code.as_str()), (403, code), "{api}, {what}: {got_message}");
            assert!(got_message.starts_with(message), "{api}, {what}: {got_message}");
        }
    }
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_request_is_refused_in_each_apis_error_shape_and_a_probe_for_iam_is_not_found() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let http = reqwest::Client::new();

    let lambda = http
        .get(format!("{}/2015-03-31/functions/", engine.url))
        .send()
        .await
        .unwrap();
    assert_eq!(lambda.status().as_u16(), 403);
    assert_eq!(
        lambda.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    let body: serde_json::Value = lambda.json().await.unwrap();
    assert_eq!(body["Message"], "Missing Authentication Token", "{body}");

    let logs = http
        .post(&engine.url)
        .header("x-amz-target", "Logs_20140328.DescribeLogGroups")
        .header("content-type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(logs.status().as_u16(), 403);
    let body: serde_json::Value = serde_json::from_str(&logs.text().await.unwrap()).unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException", "{body}");

    // Not SigV4 at all.
    let bearer = http
        .get(format!("{}/2015-03-31/functions/", engine.url))
        .bearer_auth("a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status().as_u16(), 400);
    assert_eq!(bearer.headers()["x-amzn-errortype"], "IncompleteSignatureException");

    // The runner's IAM probe (query protocol, no X-Amz-Target) learns there is no IAM here.
    let iam = http
        .post(&engine.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=GetRole&Version=2010-05-08&RoleName=lambda-steps-execution")
        .send()
        .await
        .unwrap();
    assert_eq!(iam.status().as_u16(), 404);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_is_answered_with_the_engines_key_and_refused_as_aws_refuses_without_it() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let [(_, id), (_, secret)] = engine.key_env();
    run_python_check(
        "boto3_signatures.py",
        &[engine.url.as_ref(), id.as_ref(), secret.as_ref()],
        "boto3 signatures: ok",
    )
    .await;
    engine.stop().await;
}

/// A refused CLI call: what is wrong, the environment, minutes the clock is off, extra
/// arguments, and the error type the CLI must name.
type CliCase<'a> = (&'a str, &'a [(&'a str, &'a str)], i64, &'a [&'a str], &'a str);

/// The AWS CLI of the test venv: its exit status, stdout and stderr. `minutes_off` moves
/// the clock it signs with (the real CLI's entry point, with botocore's clock moved).
async fn aws_cli(engine: &TestEngine, env: &[(&str, &str)], minutes_off: i64, args: &[&str]) -> (bool, String, String) {
    let venv = venv();
    let moved_clock = format!(
        "import datetime, sys, botocore.auth\n\
         now = botocore.auth.get_current_datetime\n\
         botocore.auth.get_current_datetime = lambda: now() + datetime.timedelta(minutes={minutes_off})\n\
         from awscli.clidriver import main\n\
         sys.exit(main())\n"
    );
    let out = tokio::process::Command::new(venv.join("bin/python"))
        .args(["-c", &moved_clock])
        .args(args)
        .args([
            "--endpoint-url",
            &engine.url,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("the AWS CLI runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aws_cli_is_answered_with_the_engines_key_and_refused_as_aws_refuses_without_it() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let [(_, id), (_, secret)] = engine.key_env();
    let key = [
        ("AWS_ACCESS_KEY_ID", id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    let lambda = ["lambda", "list-functions"];
    let logs = ["logs", "describe-log-groups"];

    for call in [lambda, logs] {
        let (ok, stdout, stderr) = aws_cli(&engine, &key, 0, &call).await;
        assert!(ok, "{call:?}: {stderr}");
        assert!(stdout.contains('{'), "{call:?}: {stdout}");
    }
    // The key from the data directory's file, as the book has it (engine/aws-cli.md).
    let file = dir.path().join("engine-credentials").display().to_string();
    let mut from_file = std::process::Command::new(venv().join("bin/aws"));
    from_file
        .args([
            "lambda",
            "list-functions",
            "--endpoint-url",
            &engine.url,
            "--region",
            "us-east-1",
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", &file);
    let out = from_file.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let unknown = [
        ("AWS_ACCESS_KEY_ID", "AKIDSOMEONEELSE12345"),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    let wrong = [
        ("AWS_ACCESS_KEY_ID", id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", "not-the-engines-secret"),
    ];
    let cases: [CliCase; 4] = [
        (
            "no signature",
            &key,
            0,
            &["--no-sign-request"],
            "MissingAuthenticationTokenException",
        ),
        ("another key id", &unknown, 0, &[], "UnrecognizedClientException"),
        ("a wrong secret", &wrong, 0, &[], "InvalidSignatureException"),
        ("a date 20 minutes old", &key, -20, &[], "InvalidSignatureException"),
    ];
    for (what, env, minutes_off, extra, code) in cases {
        for (call, operation) in [(lambda, "ListFunctions"), (logs, "DescribeLogGroups")] {
            let args: Vec<&str> = call.iter().chain(extra).copied().collect();
            let (ok, _, stderr) = aws_cli(&engine, env, minutes_off, &args).await;
            assert!(!ok, "{call:?} with {what} succeeded");
            let said = format!("An error occurred ({code}) when calling the {operation} operation");
            assert!(stderr.contains(&said), "{call:?} with {what}: {stderr}");
        }
    }
    engine.stop().await;
}
