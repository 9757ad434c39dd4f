//! The README's engine walkthrough, run as written: its shell block (between the
//! `readme-test:engine` markers) against a real `lambda-steps lambda-local` process,
//! with the AWS CLI from the test venv.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::support::venv;

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_aws_cli_walkthrough_works_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split("<!-- readme-test:engine -->")
        .nth(1)
        .and_then(|rest| rest.split("```bash\n").nth(1))
        .and_then(|code| code.split("```").next())
        .expect("README has a readme-test:engine bash block");

    let work = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut engine = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"))
        .args(["lambda-local", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(work.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let script = block.replace("127.0.0.1:9001", &format!("127.0.0.1:{port}"));
    let path = format!(
        "{}:{}",
        venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(work.path())
        .env("PATH", path)
        .output()
        .await
        .unwrap();
    let _ = engine.kill().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "README block failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("hello world"),
        "the function's print shows in the log tail:\n{stdout}"
    );
    assert!(stdout.contains("REPORT RequestId:"), "{stdout}");
    assert!(
        stdout.contains(r#"{"greeting": "hello world"}"#),
        "the result is printed:\n{stdout}"
    );
}
