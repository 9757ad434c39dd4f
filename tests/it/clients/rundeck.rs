//! The Rundeck plugin as Rundeck loads it: the zip `integrations/rundeck/build` makes has
//! the script-plugin layout and a `plugin.yaml` Rundeck accepts (read with PyYAML, a YAML
//! 1.1 parser like Rundeck's SnakeYAML), and its script, run with the environment Rundeck
//! gives a script plugin (`RD_CONFIG_*`) against a real service, runs both steps, fails
//! the step when the function fails, and prints Rundeck's data lines.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, TestService};

const NAME: &str = "lambda-steps-rundeck-plugin";

/// Builds the zip with the project's own script into `dir`; answers its path.
fn build_zip(dir: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/rundeck/build");
    let output = std::process::Command::new(script).arg(dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let path = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert_eq!(path, dir.join(format!("{NAME}.zip")));
    path
}

/// Every file of the zip: name -> (unix mode, content).
fn entries(zip_path: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip_path).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            (file.name().to_string(), (file.unix_mode().unwrap_or(0), content))
        })
        .collect()
}

/// YAML as Rundeck reads it, turned into JSON by PyYAML from the test venv.
fn yaml_to_json(yaml: &[u8]) -> Value {
    let mut python = std::process::Command::new(crate::support::venv().join("bin/python"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin), default=str))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut python.stdin.take().unwrap(), yaml).unwrap();
    let output = python.wait_with_output().unwrap();
    assert!(output.status.success(), "plugin.yaml is not YAML");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_plugin_zip_has_the_layout_and_metadata_rundeck_loads() {
    let dir = tempfile::tempdir().unwrap();
    let files = entries(&build_zip(dir.path()));
    // Rundeck looks for NAME/plugin.yaml and NAME/contents/ in NAME.zip.
    for name in files.keys() {
        assert!(name.starts_with(&format!("{NAME}/")), "{name} is outside {NAME}/");
    }
    assert!(files.contains_key(&format!("{NAME}/contents/")), "{:?}", files.keys());
    let (_, yaml) = &files[&format!("{NAME}/plugin.yaml")];
    let meta = yaml_to_json(yaml);

    assert_eq!(meta["name"], NAME, "the name matches the zip");
    assert!(meta["version"].is_string(), "{}", meta["version"]);
    let plugin_version = meta["rundeckPluginVersion"].to_string();
    assert!(
        ["1.0", "1.1", "1.2", "2.0"].contains(&plugin_version.trim_matches('"')),
        "{plugin_version}"
    );
    assert!(meta["date"].is_string(), "Rundeck reads the date as a string");

    let providers = meta["providers"].as_array().unwrap();
    let names: BTreeSet<&str> = providers.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["lambda-steps-invoke", "lambda-steps-custom-code"])
    );
    let property_types = [
        "String",
        "Boolean",
        "Integer",
        "Long",
        "Select",
        "FreeSelect",
        "Options",
    ];
    for provider in providers {
        let name = provider["name"].as_str().unwrap();
        assert_eq!(provider["service"], "WorkflowStep", "{name}");
        assert_eq!(provider["plugin-type"], "script", "{name}");
        let script = format!("{NAME}/contents/{}", provider["script-file"].as_str().unwrap());
        let (mode, content) = files.get(&script).unwrap_or_else(|| panic!("{name}: no {script}"));
        assert_eq!(mode & 0o111, 0o111, "{script} is executable");
        assert!(content.starts_with(b"#!"), "{script} has a #! line");
        for property in provider["config"].as_array().unwrap() {
            let property_name = property["name"].as_str().unwrap();
            assert!(
                property_name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{property_name} becomes RD_CONFIG_{}",
                property_name.to_uppercase()
            );
            let kind = property["type"].as_str().unwrap();
            assert!(property_types.contains(&kind), "{name}.{property_name}: {kind}");
            if kind == "Select" {
                let values: Vec<&str> = property["values"].as_str().unwrap().split(',').collect();
                let default = property["default"].as_str().unwrap();
                assert!(
                    values.contains(&default),
                    "{name}.{property_name}: {default} in {values:?}"
                );
            }
            for key in ["default", "values"] {
                assert!(
                    property[key].is_null() || property[key].is_string(),
                    "{name}.{property_name}.{key} is read as a string"
                );
            }
        }
    }

    let config = |provider: &str| -> BTreeMap<String, Value> {
        let provider = providers.iter().find(|p| p["name"] == provider).unwrap();
        provider["config"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_string(), p.clone()))
            .collect()
    };
    let invoke = config("lambda-steps-invoke");
    let custom = config("lambda-steps-custom-code");
    for field in [
        "url",
        "token",
        "project",
        "function_name",
        "payload",
        "invocation_type",
        "qualifier",
        "client_context",
    ] {
        assert!(invoke.contains_key(field), "Invoke has {field}");
    }
    for field in [
        "url",
        "token",
        "project",
        "role_arn",
        "runtime",
        "code",
        "handler",
        "delete_function",
        "description",
        "tags",
        "payload",
        "timeout_seconds",
        "memory_mb",
        "packages",
    ] {
        assert!(custom.contains_key(field), "Custom Code has {field}");
    }
    for token in [&invoke["token"], &custom["token"]] {
        let options = &token["renderingOptions"];
        assert_eq!(options["selectionAccessor"], "STORAGE_PATH");
        assert_eq!(options["valueConversion"], "STORAGE_PATH_AUTOMATIC_READ");
        assert_eq!(options["storage-path-root"], "keys");
    }
    assert_eq!(invoke["invocation_type"]["values"], "Request,Event");
    assert_eq!(custom["code"]["renderingOptions"]["displayType"], "CODE");
    assert_eq!(custom["delete_function"]["type"], "Boolean");
    assert_eq!(custom["delete_function"]["default"], "true");
    let runtimes: Vec<&str> = lambda_rules::KNOWN_RUNTIMES
        .iter()
        .copied()
        .filter(|r| !r.starts_with("provided"))
        .collect();
    assert_eq!(
        custom["runtime"]["values"],
        runtimes.join(","),
        "the runtimes custom code takes"
    );
}

/// The zip unpacked as Rundeck does; answers the script's path.
fn unpack(zip_path: &Path, into: &Path) -> PathBuf {
    for (name, (mode, content)) in entries(zip_path) {
        let path = into.join(&name);
        if name.ends_with('/') {
            std::fs::create_dir_all(&path).unwrap();
        } else {
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777)).unwrap();
        }
    }
    into.join(NAME).join("contents/lambda-steps-step")
}

/// Runs the step script as Rundeck runs a WorkflowStep script plugin: the
/// `script-args`, and each config property as `RD_CONFIG_<NAME>`.
async fn step(script: &Path, kind: &str, config: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new("/bin/bash");
    command
        .arg(script)
        .arg(kind)
        .env("RD_CONFIG_CLI_PATH", env!("CARGO_BIN_EXE_lambda-steps"))
        .env("RD_JOB_ID", "1")
        .env("RD_JOB_EXECID", "42")
        .env_remove("LAMBDA_STEPS_TOKEN")
        .env_remove("LAMBDA_STEPS_URL")
        .kill_on_drop(true);
    for (name, value) in config {
        command.env(format!("RD_CONFIG_{}", name.to_uppercase()), value);
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(90), command.output())
        .await
        .unwrap()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[sqlx::test]
async fn the_plugins_steps_run_on_the_service_and_fail_when_the_function_does(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let script = unpack(&build_zip(dir.path()), dir.path());
    let common = [
        ("url", service.url.as_str()),
        ("token", ADMIN_TOKEN),
        ("project", "default"),
    ];

    crate::support::create(
        &service.engine.client,
        "greeter",
        "python3.12",
        "lambda_function.lambda_handler",
        &[(
            "lambda_function.py",
            "def lambda_handler(event, context):\n    print('greeting', event['who'])\n    return {'hi': event['who']}\n",
        )],
    )
    .await;
    let mut invoke = common.to_vec();
    invoke.extend([
        ("function_name", "greeter"),
        ("payload", r#"{"who": "rundeck"}"#),
        ("invocation_type", "Request"),
    ]);
    let (status, out, err) = step(&script, "invoke", &invoke).await;
    assert_eq!(status, 0, "{out}\n{err}");
    assert!(
        out.lines().any(|l| l == "greeting rundeck"),
        "the function's output in the step log:\n{out}"
    );
    for line in [
        "RUNDECK:DATA:function_name = greeter",
        "RUNDECK:DATA:function_invoked = true",
        "RUNDECK:DATA:function_created = false",
        r#"RUNDECK:DATA:payload = {"hi":"rundeck"}"#,
        "RUNDECK:DATA:status = succeeded",
    ] {
        assert!(out.lines().any(|l| l == line), "{line}:\n{out}");
    }

    let mut custom = common.to_vec();
    custom.extend([
        ("runtime", "python3.12"),
        (
            "code",
            "import six\n\ndef lambda_handler(event, context):\n    print('custom', event['n'])\n    return event['n'] * 2\n",
        ),
        ("payload", r#"{"n": 21}"#),
        ("delete_function", "true"),
        ("timeout_seconds", "30"),
        ("memory_mb", "128"),
        ("description", "restart worker"),
        ("tags", "team=sre, stage=test\nowner=ops"),
        ("packages", "six==1.16.0\n# a comment\n"),
    ]);
    let (status, out, err) = step(&script, "custom-code", &custom).await;
    assert_eq!(status, 0, "{out}\n{err}");
    assert!(out.lines().any(|l| l == "custom 21"), "{out}");
    for line in [
        "RUNDECK:DATA:function_created = true",
        "RUNDECK:DATA:function_invoked = true",
        "RUNDECK:DATA:function_deleted = true",
        "RUNDECK:DATA:payload = 42",
    ] {
        assert!(out.lines().any(|l| l == line), "{line}:\n{out}");
    }
    let name = out
        .lines()
        .find_map(|l| l.strip_prefix("RUNDECK:DATA:function_name = "))
        .unwrap_or_else(|| panic!("the created function's name:\n{out}"));
    assert!(name.starts_with("lambda-steps-"), "{name}");
    // The step the service ran has the Custom Code step's description, tags and packages.
    let run_id = out
        .lines()
        .find_map(|l| l.strip_prefix("RUNDECK:DATA:run_id = "))
        .unwrap();
    let (_, run) = service.get(&format!("/v1/runs/{run_id}")).await;
    assert_eq!(run["step"]["description"], "restart worker", "{run}");
    assert_eq!(
        run["step"]["tags"],
        serde_json::json!({"team": "sre", "stage": "test", "owner": "ops"})
    );
    assert_eq!(run["step"]["packages"], serde_json::json!(["six==1.16.0"]));

    let failing = [(
        "code",
        "def lambda_handler(event, context):\n    raise RuntimeError('no disk')\n",
    )];
    let custom: Vec<(&str, &str)> = custom
        .iter()
        .copied()
        .filter(|(k, _)| *k != "code" && *k != "description")
        .chain(failing)
        .collect();
    let (status, out, err) = step(&script, "custom-code", &custom).await;
    assert_eq!(status, 1, "a failing function fails the step:\n{out}\n{err}");
    assert!(
        out.lines()
            .any(|l| l == "RUNDECK:DATA:function_error = RuntimeError: no disk"),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "RUNDECK:DATA:status = failed"), "{out}");
    service.stop().await;
}
