//! A custom-code step's `packages`, `description` and `tags` through a real serve and the
//! engine: packages installed from PyPI and npm, imported by the function, installed once
//! per list and then found in the cache; a package that cannot be installed fails the run
//! before any function exists; description and tags land on the function; bad values are
//! refused at the edge naming the field.

use serde_json::json;
use sqlx::PgPool;

use crate::support::kept_function;
use crate::support::service::TestService;

/// Returns where `six` came from too: the host may have its own copy (Debian's python3-six),
/// and only the one in the function's code counts.
const SIX: &str = "import os\nimport six\n\ndef lambda_handler(event, context):\n    return {'six': six.__version__, 'text': six.text_type.__name__,\n            'bundled': os.path.dirname(six.__file__) == os.environ['LAMBDA_TASK_ROOT']}\n";
const IS_NUMBER: &str = "const isNumber = require('is-number');\nexports.handler = async (event) => ({ five: isNumber(5), word: isNumber('five') });\n";

#[sqlx::test]
async fn packages_are_installed_once_per_list_and_imported_by_the_function(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let python = json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": SIX,
        "packages": ["six==1.16.0"], "description": "restart worker", "tags": {"team": "sre", "cost-center": "ops 7"},
        "keep_function": true});

    let (first, log) = run_with_packages(&service, "first python run", python.clone()).await;
    assert_eq!(
        first["result"]["payload"],
        json!({"six": "1.16.0", "text": "str", "bundled": true})
    );
    assert!(
        log.iter()
            .any(|l| l == "preparing packages for python3.12: six==1.16.0"),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("packages installed in ")),
        "installed the first time: {log:#?}"
    );
    assert_eq!(
        first["step"]["packages"],
        json!(["six==1.16.0"]),
        "the run shows its step"
    );

    // Description and tags are on the function, beside the runner's own tags.
    let function = kept_function(&service.engine.client, &first).await;
    assert_eq!(function.description.as_deref(), Some("restart worker"));
    let tags = function.tags;
    assert_eq!(tags.get("team").map(String::as_str), Some("sre"));
    assert_eq!(tags.get("cost-center").map(String::as_str), Some("ops 7"));
    assert!(tags.contains_key("lambda-steps:run-id"), "{tags:?}");
    let listed = service
        .engine
        .client
        .list_tags()
        .resource(&function.arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.tags().cloned().unwrap_or_default(),
        tags,
        "ListTags says the same"
    );

    let mut again = python.clone();
    again["keep_function"] = json!(false);
    let (second, log) = run_with_packages(&service, "second python run", again).await;
    assert_eq!(second["result"]["payload"]["bundled"], true, "{second}");
    assert!(
        log.iter().any(|l| l.starts_with("packages found in the cache in ")),
        "the second run with the same list reuses the cache: {log:#?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("packages installed in ")), "{log:#?}");

    let node_step = json!({"type": "lambda_custom_code", "runtime": "nodejs20.x", "code": IS_NUMBER,
        "packages": ["is-number@7.0.0"]});
    let (node, log) = run_with_packages(&service, "node run", node_step).await;
    assert_eq!(node["result"]["payload"], json!({"five": true, "word": false}));
    assert!(log.iter().any(|l| l.starts_with("packages installed in ")), "{log:#?}");
    service.stop().await;
}

#[sqlx::test]
async fn a_package_that_cannot_be_installed_fails_the_run_naming_it_before_any_function(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let cases = [
        ("python3.12", SIX, "lambda-steps-no-such-package-0q7x==1.0"),
        ("nodejs20.x", IS_NUMBER, "lambda-steps-no-such-package-0q7x@1.0.0"),
    ];
    for (runtime, code, package) in cases {
        let run = service
            .run(json!({"type": "lambda_custom_code", "runtime": runtime, "code": code, "packages": [package]}))
            .await;
        assert_eq!(run["status"], "failed", "{run}");
        assert_eq!(run["error"]["code"], "package_install_failed", "{run}");
        let message = run["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("lambda-steps-no-such-package-0q7x"),
            "the installer's message names it: {message}"
        );
        let log = service.log(run["id"].as_str().unwrap()).await;
        assert!(
            !log.iter().any(|l| l.starts_with("creating function")),
            "{runtime}: no function was created: {log:#?}"
        );
    }
    let left = service.engine.client.list_functions().send().await.unwrap();
    assert!(left.functions().is_empty(), "no function is left behind");
    service.stop().await;
}

#[sqlx::test]
async fn packages_description_and_tags_are_refused_at_the_edge_naming_the_field(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let cases = [
        (
            json!({"packages": ["six", "--index-url=https://example.com/simple"]}),
            "step.packages[1]",
        ),
        (
            json!({"packages": ["six @ https://example.com/six.whl"]}),
            "step.packages[0]",
        ),
        (
            json!({"runtime": "nodejs20.x", "packages": ["github:user/repo"]}),
            "step.packages[0]",
        ),
        (json!({"description": "d".repeat(257)}), "step.description"),
        (
            json!({"tags": {"lambda-steps:run-id": "mine"}}),
            "step.tags.lambda-steps:run-id",
        ),
        (json!({"tags": {"team": "a;b"}}), "step.tags.team"),
    ];
    for (extra, field) in cases {
        let mut step = json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": SIX});
        step.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (status, body) = service.submit("default", step).await;
        assert_eq!(status, 422, "{field}: {body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (_, runs) = service.get("/v1/projects/default/runs").await;
    assert_eq!(runs["items"], json!([]), "no run was created");
    service.stop().await;
}

/// Required as a bundled gem: the engine puts `vendor/bundle` first on `GEM_PATH`, as Lambda does.
const HELLO_GEM: &str = "def lambda_handler(event:, context:)\n  vendor = Dir[File.join(ENV['LAMBDA_TASK_ROOT'], 'vendor/bundle/ruby/*')]\n  require 'hello_steps'\n  { 'hi' => HelloSteps.hi, 'dirs' => vendor.map { |d| File.basename(d) },\n    'bundled' => Gem.loaded_specs['hello_steps'].full_gem_path.start_with?(ENV['LAMBDA_TASK_ROOT']) }\nend\n";

#[sqlx::test]
async fn gems_are_installed_under_vendor_bundle_and_gems_with_native_extensions_are_refused(db: PgPool) {
    let source = crate::support::gems::GemSource::start().await;
    let gem = source.gem.display().to_string();
    let service = TestService::start(db, &["--gem", &gem]).await;
    let step = |packages: serde_json::Value| json!({"type": "lambda_custom_code", "runtime": "ruby3.3", "code": HELLO_GEM, "packages": packages});

    let run = service.run(step(json!(["hello_steps:1.2.0"]))).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["result"]["payload"],
        json!({"hi": "hi from a gem", "dirs": ["3.3.0"], "bundled": true}),
        "under vendor/bundle/ruby/3.3.0, where Lambda's ruby3.3 looks"
    );

    let native = service.run(step(json!(["hello_steps", "native_steps:0.1.0"]))).await;
    assert_eq!(native["status"], "failed", "{native}");
    assert_eq!(native["error"]["code"], "package_install_failed");
    let message = native["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("native_steps-0.1.0.gem has native extensions"),
        "{message}"
    );

    let missing = service.run(step(json!(["lambda_steps_no_such_gem"]))).await;
    assert_eq!(missing["error"]["code"], "package_install_failed", "{missing}");
    let message = missing["error"]["message"].as_str().unwrap();
    assert!(message.contains("lambda_steps_no_such_gem"), "{message}");
    let left = service.engine.client.list_functions().send().await.unwrap();
    assert!(left.functions().is_empty(), "no function is left behind");
    service.stop().await;
}

/// Runs a step with packages in the default project to its end and asserts that it
/// succeeded; answers the run and its log, and prints the log's package lines as `what`'s.
async fn run_with_packages(
    service: &TestService,
    what: &str,
    step: serde_json::Value,
) -> (serde_json::Value, Vec<String>) {
    let (run, log) = service.run_successfully("default", step).await;
    print_package_lines(what, &log);
    (run, log)
}

/// The install's figures, for `cargo test --test it runner::packages -- --nocapture`.
fn print_package_lines(what: &str, log: &[String]) {
    for line in log.iter().filter(|l| l.starts_with("packages ")) {
        println!("{what}: {line}");
    }
}

#[sqlx::test]
async fn on_the_embedded_engine_concurrent_runs_with_one_list_install_it_once_for_its_python(db: PgPool) {
    use crate::support::service::{ADMIN_TOKEN, ServeProcess};
    let work = tempfile::tempdir().unwrap();
    let pip = crate::support::venv().join("bin/pip");
    // `serve` with its own engine in-process: packages are installed for the engine's Python.
    let service = ServeProcess::start(
        &db,
        work.path(),
        &["--pip", pip.to_str().unwrap()],
        &[("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN)],
    )
    .await;
    let step = json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": SIX, "packages": ["six==1.16.0"]});
    let (first, second) = tokio::join!(service.run(step.clone()), service.run(step));
    let mut installs = Vec::new();
    for run in [&first, &second] {
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["result"]["payload"]["bundled"], true, "{run}");
        let log = service.log(run["id"].as_str().unwrap()).await;
        let lines: Vec<String> = log.into_iter().filter(|m| m.starts_with("packages ")).collect();
        print_package_lines("embedded engine", &lines);
        installs.extend(lines);
    }
    assert_eq!(installs.len(), 2, "{installs:#?}");
    assert_eq!(
        installs
            .iter()
            .filter(|l| l.starts_with("packages installed in "))
            .count(),
        1,
        "one install, the other run waited for it: {installs:#?}"
    );
    assert!(
        installs.iter().all(|l| l.contains("(the embedded engine, Python 3.")),
        "{installs:#?}"
    );
    let cache = work.path().join("lambda-steps-data/packages");
    let zips: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "zip"))
        .collect();
    assert_eq!(zips.len(), 1, "one cache entry under the data directory");
}
