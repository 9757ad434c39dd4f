//! The AWS SDK of each runtime, as `lambda-steps runtimes install` puts it: on the module
//! path after the function's own code (a bundled copy wins, as on AWS), for `require` and
//! for ES module `import` alike; an engine without it answers the language's own import error,
//! as does one whose sandbox user cannot read it (then it says so at start).

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::support::{TestEngine, create, data_dir, invoke, runtimes_dir};

#[tokio::test(flavor = "multi_thread")]
async fn each_runtime_finds_its_aws_sdk_after_the_functions_own_code() {
    let runtimes = runtimes_dir();
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--runtimes-dir", runtimes.to_str().unwrap()]).await;
    let c = &engine.client;

    let python = "import boto3, botocore\ndef handler(e, c):\n    return [boto3.__version__, botocore.__version__, boto3.__file__]\n";
    create(c, "py-sdk", "python3.12", "app.handler", &[("app.py", python)]).await;
    let out = invoke(c, "py-sdk", json!({})).await;
    assert_eq!(out.payload[0], "1.44.5", "{:?} {}", out.payload, out.log);
    assert_eq!(out.payload[1], "1.44.5", "{:?}", out.payload);

    // A function's own copy comes first, as /var/task comes before /var/runtime on AWS.
    let bundled = "import boto3\ndef handler(e, c):\n    return boto3.__version__\n";
    create(
        c,
        "py-bundled",
        "python3.12",
        "app.handler",
        &[("app.py", bundled), ("boto3/__init__.py", "__version__ = 'bundled'\n")],
    )
    .await;
    assert_eq!(invoke(c, "py-bundled", json!({})).await.payload, "bundled");

    let esm = "import { STSClient } from '@aws-sdk/client-sts';\nimport { S3Client } from '@aws-sdk/client-s3';\nexport const handler = async () => [typeof STSClient, typeof S3Client];\n";
    create(c, "node-esm", "nodejs20.x", "index.handler", &[("index.mjs", esm)]).await;
    let out = invoke(c, "node-esm", json!({})).await;
    assert_eq!(out.payload, json!(["function", "function"]), "{}", out.log);
    let cjs = "const { EC2Client } = require('@aws-sdk/client-ec2');\nconst pkg = require('@aws-sdk/client-sts/package.json');\nexports.handler = async () => [typeof EC2Client, pkg.version];\n";
    create(c, "node-cjs", "nodejs20.x", "index.handler", &[("index.js", cjs)]).await;
    let out = invoke(c, "node-cjs", json!({})).await;
    assert_eq!(out.payload, json!(["function", "3.1164.0"]), "{}", out.log);

    let ruby = "require 'aws-sdk-core'\nrequire 'aws-sdk-s3'\ndef handler(event:, context:)\n  [Aws::CORE_GEM_VERSION, Aws::STS::Client.name, Aws::S3::Client.name]\nend\n";
    create(c, "rb-sdk", "ruby3.3", "app.handler", &[("app.rb", ruby)]).await;
    let out = invoke(c, "rb-sdk", json!({})).await;
    assert_eq!(out.payload[1], "Aws::STS::Client", "{:?} {}", out.payload, out.log);
    assert_eq!(out.payload[2], "Aws::S3::Client", "{:?}", out.payload);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_sdk_a_function_gets_its_languages_own_import_error() {
    let dir = data_dir();
    let empty = tempfile::tempdir().unwrap();
    let engine = TestEngine::start(dir.path(), &["--runtimes-dir", empty.path().to_str().unwrap()]).await;
    let c = &engine.client;
    create(
        c,
        "no-sdk",
        "python3.12",
        "app.handler",
        &[("app.py", "import boto3\ndef handler(e, c):\n    return 1\n")],
    )
    .await;
    let out = invoke(c, "no-sdk", json!({})).await;
    assert_boto3_missing(&out.payload);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_bubblewrap_the_sdk_is_found_at_its_host_paths() {
    let runtimes = runtimes_dir();
    let dir = data_dir();
    let engine = TestEngine::start(
        dir.path(),
        &[
            "--sandbox",
            "none",
            "--network",
            "host",
            "--runtimes-dir",
            runtimes.to_str().unwrap(),
        ],
    )
    .await;
    let c = &engine.client;
    let python = "import boto3\ndef handler(e, c):\n    return boto3.__version__\n";
    create(c, "py-host", "python3.12", "app.handler", &[("app.py", python)]).await;
    assert_eq!(invoke(c, "py-host", json!({})).await.payload, "1.44.5");
    let esm =
        "import { STSClient } from '@aws-sdk/client-sts';\nexport const handler = async () => typeof STSClient;\n";
    create(c, "node-host", "nodejs20.x", "index.handler", &[("index.mjs", esm)]).await;
    let out = invoke(c, "node-host", json!({})).await;
    assert_eq!(out.payload, "function", "{}", out.log);
    engine.stop().await;
}

/// As root, user code and bubblewrap run as `nobody`, who cannot enter a private (0700)
/// directory: mounting an SDK from one failed every function with bwrap's "Can't find
/// source path". The engine now says so at start and leaves that SDK out.
#[tokio::test(flavor = "multi_thread")]
async fn an_sdk_the_sandbox_user_cannot_read_is_left_out_loudly_and_functions_still_run() {
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let runtimes = private.path().join("runtimes");
    std::fs::create_dir(&runtimes).unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(runtimes_dir().join("python"))
        .arg(&runtimes)
        .status()
        .unwrap();
    assert!(copied.success());
    let dir = data_dir();
    let (engine, log) = TestEngine::start_logged(dir.path(), &["--runtimes-dir", runtimes.to_str().unwrap()]).await;
    let c = &engine.client;
    let plain = "def handler(e, c):\n    return e\n";
    create(c, "plain", "python3.12", "app.handler", &[("app.py", plain)]).await;
    let out = invoke(c, "plain", json!({"ran": true})).await;
    assert_eq!(
        out.payload,
        json!({"ran": true}),
        "{}\nthe engine's start:\n{log}",
        out.log
    );
    let boto3 = "import boto3\ndef handler(e, c):\n    return boto3.__version__\n";
    create(c, "wants-boto3", "python3.12", "app.handler", &[("app.py", boto3)]).await;
    let out = invoke(c, "wants-boto3", json!({})).await;

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // The sandbox user is this user, who made the directory: nothing to leave out.
        assert!(!log.contains("cannot read"), "{log}");
        assert_eq!(out.payload, "1.44.5", "{}", out.log);
        engine.stop().await;
        return;
    }
    assert!(
        log.contains("bubblewrap=true"),
        "the case is bubblewrap's mount:\n{log}"
    );
    let closed = private.path().canonicalize().unwrap();
    for said in [
        "WARN".to_string(),
        format!(
            // Every environment's uid comes from the range (default first uid): none can.
            "the sandbox user (uid 1879048192) cannot read the runtimes' AWS SDKs in {}",
            runtimes.display()
        ),
        format!("it may not enter {} (mode 0700, owner uid 0)", closed.display()),
        "functions run without the AWS SDK of python".to_string(),
        "`lambda-steps runtimes install --runtimes-dir /opt/lambda-steps-runtimes`".to_string(),
        format!("`chmod o+x {}`", closed.display()),
        "python: none (installed, but the sandbox user cannot read it".to_string(),
    ] {
        assert!(log.contains(&said), "the engine's start says {said:?}:\n{log}");
    }
    assert_boto3_missing(&out.payload);
    engine.stop().await;
}

/// The answer of a function whose `import boto3` found no SDK: Lambda's own error.
fn assert_boto3_missing(payload: &serde_json::Value) {
    assert_eq!(payload["errorType"], "Runtime.ImportModuleError", "{payload:?}");
    assert_eq!(
        payload["errorMessage"],
        "Unable to import module 'app': No module named 'boto3'"
    );
}
