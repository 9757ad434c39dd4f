//! A custom-code step's `packages`, `description` and `tags` through a real serve and the
//! engine: packages installed from PyPI and npm, imported by the function, installed once
//! per list and then found in the cache; a package that cannot be installed fails the run
//! before any function exists; description and tags land on the function; bad values are
//! refused at the edge naming the field.

use serde_json::json;
use sqlx::PgPool;

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

    let first = service.run(python.clone()).await;
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(
        first["result"]["payload"],
        json!({"six": "1.16.0", "text": "str", "bundled": true})
    );
    let log = service.log(first["id"].as_str().unwrap()).await;
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
    let name = format!("lambda-steps-{}", first["id"].as_str().unwrap().replace('-', ""));
    let function = service
        .engine
        .client
        .get_function()
        .function_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        function.configuration().and_then(|c| c.description()),
        Some("restart worker")
    );
    let tags = function.tags().cloned().unwrap_or_default();
    assert_eq!(tags.get("team").map(String::as_str), Some("sre"));
    assert_eq!(tags.get("cost-center").map(String::as_str), Some("ops 7"));
    assert!(tags.contains_key("lambda-steps:run-id"), "{tags:?}");
    let arn = function.configuration().and_then(|c| c.function_arn()).unwrap();
    let listed = service.engine.client.list_tags().resource(arn).send().await.unwrap();
    assert_eq!(
        listed.tags().cloned().unwrap_or_default(),
        tags,
        "ListTags says the same"
    );

    let mut again = python.clone();
    again["keep_function"] = json!(false);
    let second = service.run(again).await;
    assert_eq!(second["status"], "succeeded", "{second}");
    assert_eq!(second["result"]["payload"]["bundled"], true, "{second}");
    let log = service.log(second["id"].as_str().unwrap()).await;
    assert!(
        log.iter().any(|l| l.starts_with("packages found in the cache in ")),
        "the second run with the same list reuses the cache: {log:#?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("packages installed in ")), "{log:#?}");

    let node = service
        .run(
            json!({"type": "lambda_custom_code", "runtime": "nodejs20.x", "code": IS_NUMBER,
            "packages": ["is-number@7.0.0"]}),
        )
        .await;
    assert_eq!(node["status"], "succeeded", "{node}");
    assert_eq!(node["result"]["payload"], json!({"five": true, "word": false}));
    let log = service.log(node["id"].as_str().unwrap()).await;
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
