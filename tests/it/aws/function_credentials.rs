//! What user code on the embedded engine gets for its own AWS calls, against moto (IAM,
//! STS, S3): with `function_endpoint_url` at moto and the project's keys in key storage, a
//! Python, a Node.js and a Ruby function each call STS as their execution role (assumed by
//! the engine with the project's keys) and write and read an S3 object; the project's
//! secret is nowhere the function, the run or the service's log shows. On the default
//! project with no settings `import boto3` works and the function gets no credentials;
//! without the SDK installed, the run's log names the command that installs it.

use serde_json::json;
use sqlx::PgPool;

use crate::aws::moto::moto;
use crate::support::runtimes_dir;
use crate::support::service::{ADMIN_TOKEN, ServeProcess, authorized};

const SECRET: &str = "project-secret-9f3Kq7Zx";
const ROLE: &str = "arn:aws:iam::123456789012:role/runbook";

const PYTHON: &str = r#"import os
import boto3
from botocore.config import Config

def lambda_handler(event, context):
    arn = boto3.client("sts").get_caller_identity()["Arn"]
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="runbook-python")
    s3.put_object(Bucket="runbook-python", Key="note", Body=b"from python")
    body = s3.get_object(Bucket="runbook-python", Key="note")["Body"].read().decode()
    return {"arn": arn, "body": body, "env": dict(os.environ)}
"#;

const NODE: &str = r#"import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";

export const handler = async () => {
  const { Arn } = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  const s3 = new S3Client({ forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: "runbook-node" }));
  await s3.send(new PutObjectCommand({ Bucket: "runbook-node", Key: "note", Body: "from node" }));
  const got = await s3.send(new GetObjectCommand({ Bucket: "runbook-node", Key: "note" }));
  return { arn: Arn, body: await got.Body.transformToString(), env: process.env };
};
"#;

// Debian's aws-sdk-core 3.168 predates AWS_ENDPOINT_URL, so the endpoint is passed along.
const RUBY: &str = r#"require 'aws-sdk-core'
require 'aws-sdk-s3'

def lambda_handler(event:, context:)
  endpoint = ENV['AWS_ENDPOINT_URL']
  arn = Aws::STS::Client.new(endpoint: endpoint).get_caller_identity.arn
  s3 = Aws::S3::Client.new(endpoint: endpoint, force_path_style: true)
  s3.create_bucket(bucket: 'runbook-ruby')
  s3.put_object(bucket: 'runbook-ruby', key: 'note', body: 'from ruby')
  { arn: arn, body: s3.get_object(bucket: 'runbook-ruby', key: 'note').body.read, env: ENV.to_h }
end
"#;

async fn start(db: &PgPool, work: &std::path::Path, runtimes: Option<&std::path::Path>) -> ServeProcess {
    // None: an empty directory, whatever this process's environment says.
    let runtimes = match runtimes {
        Some(dir) => dir.display().to_string(),
        None => {
            std::fs::create_dir_all(work.join("no-runtimes")).unwrap();
            work.join("no-runtimes").display().to_string()
        }
    };
    let env = [
        ("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN),
        ("LAMBDA_STEPS_RUNTIMES_DIR", &runtimes),
    ];
    ServeProcess::start(db, work, &[], &env).await
}

#[sqlx::test]
async fn each_runtime_calls_aws_as_its_execution_role_at_the_function_endpoint(db: PgPool) {
    let moto = moto().await;
    let work = tempfile::tempdir().unwrap();
    let service = start(&db, work.path(), Some(&runtimes_dir())).await;
    let http = authorized(ADMIN_TOKEN);
    let stored = http
        .put(format!("{}/v1/keys/aws/runbooks", service.api))
        .header("content-type", "text/plain")
        .body(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status().as_u16(), 201);
    let settings = json!({"project.aws.access_key": "AKIDRUNBOOKS", "project.aws.secret_key_path": "aws/runbooks",
        "project.aws.function_endpoint_url": moto.url});
    let set = http
        .put(format!("{}/v1/projects/default/settings", service.api))
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status().as_u16(), 200);

    for (runtime, code, bucket_text) in [
        ("python3.12", PYTHON, "from python"),
        ("nodejs20.x", NODE, "from node"),
        ("ruby3.3", RUBY, "from ruby"),
    ] {
        let step = json!({"type": "lambda_custom_code", "runtime": runtime, "code": code, "role_arn": ROLE, "timeout_seconds": 60});
        let run = service.run(step).await;
        let id = run["id"].as_str().unwrap();
        let log = service.log(id).await;
        assert_eq!(run["status"], "succeeded", "{runtime}: {run}\n{log:#?}");
        let answer = &run["result"]["payload"];
        let arn = answer["arn"].as_str().unwrap();
        assert!(
            arn.starts_with("arn:aws:sts::123456789012:assumed-role/runbook/lambda-steps-"),
            "{runtime}: {arn}"
        );
        assert_eq!(answer["body"], bucket_text, "{runtime}");
        let env = &answer["env"];
        assert_eq!(env["AWS_ENDPOINT_URL"], moto.url.as_str(), "{runtime}");
        let key_id = env["AWS_ACCESS_KEY_ID"].as_str().unwrap();
        assert!(key_id != "AKIDRUNBOOKS" && !key_id.is_empty(), "{runtime}: {key_id}");
        assert!(
            env["AWS_SESSION_TOKEN"].as_str().is_some_and(|t| !t.is_empty()),
            "{runtime}"
        );
        // Nor the engine's key: the engine runs every project's functions.
        let engine_key = service.engine_credentials();
        assert!(
            !env.to_string().contains(engine_key.access_key_id())
                && !env.to_string().contains(engine_key.secret_access_key()),
            "{runtime}"
        );
        // The project's secret: not in the environment, the answer, the run or its log.
        assert!(!run.to_string().contains(SECRET), "{runtime}: {run}");
        assert!(!log.iter().any(|l| l.contains(SECRET)), "{runtime}: {log:#?}");
    }

    // `function_credentials = none`: the endpoint still, credentials no more.
    let settings = json!({"project.aws.access_key": "AKIDRUNBOOKS", "project.aws.secret_key_path": "aws/runbooks",
        "project.aws.function_endpoint_url": moto.url, "project.aws.function_credentials": "none"});
    let set = http
        .put(format!("{}/v1/projects/default/settings", service.api))
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status().as_u16(), 200);
    let code = "import os\ndef lambda_handler(e, c):\n    return {k: v for k, v in os.environ.items() if k.startswith('AWS_')}\n";
    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code, "role_arn": ROLE}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let env = &run["result"]["payload"];
    assert_eq!(env["AWS_ENDPOINT_URL"], moto.url.as_str(), "{env}");
    assert!(
        env.get("AWS_ACCESS_KEY_ID").is_none() && env.get("AWS_SESSION_TOKEN").is_none(),
        "{env}"
    );

    let service_log = std::fs::read_to_string(&service.log).unwrap();
    assert!(!service_log.contains(SECRET), "{service_log}");
    assert!(
        service_log.contains("AWS SDKs offered to functions: python: aws-durable-execution-sdk-python 3.0.0, boto3 1.44.5, botocore 1.44.5 (pypi)"),
        "{service_log}"
    );
}

#[sqlx::test]
async fn import_boto3_works_on_the_default_project_with_no_settings(db: PgPool) {
    let work = tempfile::tempdir().unwrap();
    let service = start(&db, work.path(), Some(&runtimes_dir())).await;
    let code = "import os\nimport boto3\ndef lambda_handler(e, c):\n    boto3.client('sts')\n    return [boto3.__version__, sorted(k for k in os.environ if k.startswith('AWS_'))]\n";
    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let answer = &run["result"]["payload"];
    assert_eq!(answer[0], "1.44.5");
    let names: Vec<&str> = answer[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for absent in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(!names.contains(&absent), "{names:?}");
    }
}

#[sqlx::test]
async fn without_the_sdk_the_runs_log_names_the_command_that_installs_it(db: PgPool) {
    let work = tempfile::tempdir().unwrap();
    let service = start(&db, work.path(), None).await;
    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12",
            "code": "import boto3\ndef lambda_handler(e, c):\n    return 1\n"}))
        .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["result"]["error"]["type"], "Runtime.ImportModuleError", "{run}");
    let log = service.log(run["id"].as_str().unwrap()).await;
    assert!(
        log.iter()
            .any(|l| l.contains("`lambda-steps runtimes install` installs the AWS SDK")),
        "{log:#?}"
    );
    let service_log = std::fs::read_to_string(&service.log).unwrap();
    assert!(
        service_log.contains("python: none (run `lambda-steps runtimes install`)"),
        "{service_log}"
    );
}

#[sqlx::test]
async fn functions_made_through_the_engines_own_api_get_the_framework_settings(db: PgPool) {
    let moto = moto().await;
    let work = tempfile::tempdir().unwrap();
    let runtimes = runtimes_dir().display().to_string();
    // The framework: user code's calls go to moto, roles assumed with the default chain's
    // credentials (here the service's own environment).
    let env = [
        ("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN),
        ("LAMBDA_STEPS_RUNTIMES_DIR", runtimes.as_str()),
        ("LAMBDA_STEPS_AWS_FUNCTION_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIDFRAMEWORKCHAIN"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
    ];
    let service = ServeProcess::start(&db, work.path(), &[], &env).await;
    let engine_key = service.engine_credentials();
    let lambda = crate::support::signed_client(&service.engine, engine_key.clone());
    let code = "import os, boto3\ndef handler(e, c):\n    return [boto3.client('sts').get_caller_identity()['Arn'], dict(os.environ)]\n";
    crate::support::create_request(
        &lambda,
        "made-by-hand",
        "python3.12",
        "app.handler",
        crate::support::zip(&[("app.py", code)]),
    )
    .role("arn:aws:iam::123456789012:role/by-hand")
    .timeout(30)
    .send()
    .await
    .unwrap();
    let out = crate::support::invoke(&lambda, "made-by-hand", json!({})).await;
    assert_eq!(out.function_error, None, "{:?} {}", out.payload, out.log);
    assert_eq!(
        out.payload[0], "arn:aws:sts::123456789012:assumed-role/by-hand/made-by-hand",
        "{}",
        out.log
    );
    let env = &out.payload[1];
    assert_eq!(env["AWS_ENDPOINT_URL"], moto.url.as_str());
    assert!(!env.to_string().contains(SECRET), "{env}");
    assert_ne!(env["AWS_ACCESS_KEY_ID"], "AKIDFRAMEWORKCHAIN");
    // Nor the engine's own key, which answers for every function on it.
    assert_ne!(env["AWS_ACCESS_KEY_ID"], engine_key.access_key_id());
    assert!(!env.to_string().contains(engine_key.secret_access_key()), "{env}");
}
