//! The Ansible collection (`integrations/ansible`, lambda_steps.runner), built and installed
//! with ansible-galaxy, run by ansible-playbook against a real service: the project module
//! changes, then does not; a custom-code step's result is registered and asserted on; check
//! mode runs nothing; a failing function fails its task, and a play.

use std::path::Path;
use std::time::Duration;

use sqlx::PgPool;

use crate::clients::orchestrators::{built, root, run, venv};
use crate::support::book_code;
use crate::support::service::{ADMIN_TOKEN, TestService};

fn playbook(service: &TestService, path: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(venv().join("bin/ansible-playbook"));
    command
        .arg(path)
        .env("ANSIBLE_COLLECTIONS_PATH", &built().collections)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "False")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False")
        .env("LAMBDA_STEPS_URL", &service.url)
        .env("LAMBDA_STEPS_TOKEN", ADMIN_TOKEN);
    command
}

fn tests() -> std::path::PathBuf {
    root().join("integrations/ansible/tests")
}

#[tokio::test]
async fn the_modules_document_their_options_and_returns() {
    let mut doc = std::process::Command::new(venv().join("bin/ansible-doc"));
    doc.args(["--json", "lambda_steps.runner.run", "lambda_steps.runner.project"])
        .env("ANSIBLE_COLLECTIONS_PATH", &built().collections);
    let ran = run(doc, Duration::from_secs(120)).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let docs: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let names = |module: &str, part: &str| -> Vec<String> {
        let entry = &docs[module];
        let map = if part == "options" {
            &entry["doc"]["options"]
        } else {
            &entry[part]
        };
        map.as_object()
            .unwrap_or_else(|| panic!("{module} {part}: {entry}"))
            .keys()
            .cloned()
            .collect()
    };
    let run_options = names("lambda_steps.runner.run", "options");
    for option in ["url", "token", "project", "step", "wait"] {
        assert!(
            run_options.contains(&option.to_string()),
            "run documents {option}: {run_options:?}"
        );
    }
    let run_returns = names("lambda_steps.runner.run", "return");
    for field in ["run_id", "status", "result", "log"] {
        assert!(
            run_returns.contains(&field.to_string()),
            "run documents {field}: {run_returns:?}"
        );
    }
    let project_options = names("lambda_steps.runner.project", "options");
    for option in ["url", "token", "name", "settings", "state"] {
        assert!(
            project_options.contains(&option.to_string()),
            "project documents {option}: {project_options:?}"
        );
    }
}

#[sqlx::test]
async fn the_collections_modules_run_steps_and_keep_a_project_as_the_playbook_says(db: PgPool) {
    built();
    let service = TestService::start(db, &[]).await;

    let ran = run(playbook(&service, &tests().join("it.yml")), Duration::from_secs(300)).await;
    assert_eq!(
        ran.code, 0,
        "the playbook's asserts hold:\n{}\n{}",
        ran.stdout, ran.stderr
    );
    let recap = ran
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        recap.contains("failed=0") && recap.contains("ignored=2"),
        "{recap}\n{}",
        ran.stdout
    );

    // What the playbook did is what the service holds: the project it deleted is gone.
    let (status, _) = service.get("/v1/projects/ansible-it-gone/settings").await;
    assert_eq!(status, 404, "state: absent deleted the project");
    let (_, settings) = service.get("/v1/projects/ansible-it/settings").await;
    assert_eq!(settings["project.aws.region"]["value"], "eu-west-1", "{settings}");
    assert_eq!(settings["project.aws.region"]["source"], "project", "{settings}");
    assert_eq!(
        settings["project.aws.function_credentials"]["value"], "none",
        "{settings}"
    );
    // Two runs, neither from check mode: the step that succeeded and the one that failed.
    let (_, runs) = service.get("/v1/projects/ansible-it/runs").await;
    let statuses: Vec<&str> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "succeeded"], "{runs}");
    assert_eq!(runs["items"][1]["result"]["payload"]["restarted"], "w-1", "{runs}");

    let ran = run(
        playbook(&service, &tests().join("failing.yml")),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(
        ran.code, 2,
        "a failing step fails the play:\n{}\n{}",
        ran.stdout, ran.stderr
    );
    assert!(
        ran.stdout.contains("\"msg\": \"ValueError: bad input (run "),
        "the function's error in msg:\n{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains("reached after the failure"), "{}", ran.stdout);
    service.stop().await;
}

#[sqlx::test]
async fn the_books_example_playbook_runs(db: PgPool) {
    built();
    let service = TestService::start(db, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.yml");
    std::fs::write(
        &path,
        book_code("guide/ansible.md", "<!-- book-test:ansible -->", "yaml"),
    )
    .unwrap();
    let ran = run(playbook(&service, &path), Duration::from_secs(120)).await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("\"msg\": \"w-1\""), "{}", ran.stdout);
    let (_, settings) = service.get("/v1/projects/payments/settings").await;
    assert_eq!(settings["project.aws.region"]["value"], "eu-west-1", "{settings}");
    service.stop().await;
}
