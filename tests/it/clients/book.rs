//! The book's walkthroughs, run as written: the shell blocks of its pages (after the
//! `<!-- book-test:NAME -->` markers) against real `lambda-steps` processes, with the AWS CLI
//! from the test venv; and the README's one curl run, which must be the book's.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sqlx::PgPool;

use crate::support::service::ServeProcess;
use crate::support::{book_code, book_page, code_after, free_port, runtimes_dir, venv};

/// The first bash block of the book's `page` after `<!-- book-test:{name} -->`.
fn book_block(page: &str, name: &str) -> String {
    book_code(page, &format!("<!-- book-test:{name} -->"), "bash")
}

async fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {port}");
}

/// Runs a block with bash -euo pipefail, the venv's tools first on PATH; answers stdout.
/// `log` is a service log to show if the block fails.
async fn run_block(script: &str, dir: &Path, log: Option<&Path>) -> String {
    // The venv's tools, and this build's `lambda-steps` (the CLI walkthrough calls it).
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_lambda-steps")).parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        venv().join("bin").display(),
        binary_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(dir)
            .env("PATH", path)
            .output(),
    )
    .await
    .expect("the book's block finishes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let service_log = log.and_then(|l| std::fs::read_to_string(l).ok()).unwrap_or_default();
    assert!(
        out.status.success(),
        "the book's block failed:\n{stdout}\n{}\nservice log:\n{service_log}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn the_books_aws_cli_walkthrough_works_as_written() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut engine = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"))
        .args(["lambda-local", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        // Where the block finds the engine's key, as it says.
        .arg(work.path().join("lambda-steps-data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for_port(port).await;
    let stdout = run_block(
        &book_block("engine/aws-cli.md", "engine").replace("127.0.0.1:9001", &format!("127.0.0.1:{port}")),
        work.path(),
        None,
    )
    .await;
    let _ = engine.kill().await;
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

#[sqlx::test]
async fn the_books_curl_walkthrough_works_as_written(db: PgPool) {
    let work = tempfile::tempdir().unwrap();
    let mut service = ServeProcess::start(&db, work.path(), &[], &[]).await;
    let (api, log) = (
        service.api.trim_start_matches("http://").to_string(),
        service.log.clone(),
    );
    let script = book_block("guide/curl.md", "runner").replace("127.0.0.1:8080", &api);
    let stdout = run_block(&script, work.path(), Some(&log)).await;
    let access = book_block("guide/access.md", "access").replace("127.0.0.1:8080", &api);
    let access_out = run_block(&access, work.path(), Some(&log)).await;
    for expected in [
        "\"source\":\"project\"",
        "\"role\":\"runner\"",
        "restarting worker-3",
        "event: end",
    ] {
        assert!(access_out.contains(expected), "{expected} missing from:\n{access_out}");
    }
    assert!(
        !access_out.contains("wJalrXUtnFEMI"),
        "the secret key came back:\n{access_out}"
    );
    let cli = book_block("guide/cli.md", "cli").replace("127.0.0.1:8080", &api);
    let cli_out = run_block(&cli, work.path(), Some(&log)).await;
    for expected in ["\nhello sre\n", "\n{\"greeting\":\"hello cli\"}\n", "succeeded"] {
        assert!(cli_out.contains(expected), "{expected} missing from:\n{cli_out}");
    }
    let _ = service.child.kill().await;
    for expected in [
        "\"message\":\"queued lambda_custom_code step\"",
        "\"message\":\"hello sre\"",
        "\"message\":\"run succeeded\"",
        "event: end",
        "\"status\": \"succeeded\"",
        "\"greeting\": \"hello sre\"",
    ] {
        assert!(stdout.contains(expected), "{expected} missing from:\n{stdout}");
    }
}

#[sqlx::test]
async fn the_books_runbook_lists_ec2_instances_on_moto_as_written(db: PgPool) {
    let work = tempfile::tempdir().unwrap();
    let runtimes = runtimes_dir();
    let mut service = ServeProcess::start(
        &db,
        work.path(),
        &[],
        &[("LAMBDA_STEPS_RUNTIMES_DIR", runtimes.to_str().unwrap())],
    )
    .await;
    let moto = free_port();
    let script = book_block("engine/credentials.md", "runbook")
        .replace("127.0.0.1:8080", service.api.trim_start_matches("http://"))
        .replace("-p 5000", &format!("-p {moto}"))
        .replace("127.0.0.1:5000", &format!("127.0.0.1:{moto}"));
    let stdout = run_block(&script, work.path(), Some(&service.log)).await;
    let _ = service.child.kill().await;
    assert!(
        stdout.contains("running as arn:aws:sts::123456789012:assumed-role/runbook/lambda-steps-"),
        "{stdout}"
    );
    let running = stdout
        .lines()
        .filter(|l| l.starts_with("i-") && l.ends_with(" running"))
        .count();
    assert_eq!(running, 2, "{stdout}");
    assert!(stdout.contains("\"instances\": 2"), "{stdout}");
}

/// The README shows one curl run; the test above runs the book's, so the README's must be it.
#[test]
fn the_readmes_curl_run_is_the_books_tested_walkthrough() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let shown =
        code_after(&readme, "## One run with curl", "bash").expect("README has a bash block after its curl heading");
    assert_eq!(
        shown,
        book_block("guide/curl.md", "runner"),
        "README.md's curl run differs from docs/src/guide/curl.md's"
    );
}

/// Every page under `docs/src/` is listed in `SUMMARY.md` (mdBook leaves an unlisted page out
/// of the book without a word), and every `page.md#heading` link names a heading of its page
/// (mdbook-linkcheck2, which `scripts/test` runs, checks the page but not the heading).
#[test]
fn every_page_of_the_book_is_in_its_summary_and_every_heading_link_exists() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src");
    let mut pages = Vec::new();
    markdown_files(&src, &src, &mut pages);
    let summary = book_page("SUMMARY.md");
    let unlisted: Vec<_> = pages
        .iter()
        .filter(|p| p.as_str() != "SUMMARY.md" && !summary.contains(&format!("]({p})")))
        .collect();
    assert!(
        unlisted.is_empty(),
        "pages missing from docs/src/SUMMARY.md: {unlisted:?}"
    );
    let mut broken = Vec::new();
    for page in &pages {
        for link in links(&book_page(page)) {
            let Some((path, heading)) = link.split_once('#') else {
                continue;
            };
            if path.contains("://") || !(path.is_empty() || path.ends_with(".md")) {
                continue;
            }
            let target = if path.is_empty() {
                page.clone()
            } else {
                let dir = Path::new(page).parent().unwrap();
                normalize(&dir.join(path))
            };
            if !pages.contains(&target) || !heading_ids(&book_page(&target)).contains(&heading.to_string()) {
                broken.push(format!("{page}: {link}"));
            }
        }
    }
    assert!(broken.is_empty(), "links to headings that do not exist: {broken:?}");
}

/// The `.md` files under `dir`, as paths relative to `root` with `/` between folders.
fn markdown_files(root: &Path, dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(root, &path, found);
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
        }
    }
}

/// `a/../b.md` as `b.md`.
fn normalize(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().to_string()),
            _ => {}
        }
    }
    parts.join("/")
}

/// The lines of `markdown` outside fenced code blocks.
fn prose(markdown: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    markdown.lines().filter(move |line| {
        if line.starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The targets of the inline links `[text](target)` of `markdown`'s prose.
fn links(markdown: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose(markdown) {
        for (i, _) in line.match_indices("](") {
            let rest = &line[i + 2..];
            if let Some(end) = rest.find(')') {
                found.push(rest[..end].to_string());
            }
        }
    }
    found
}

/// The ids mdBook gives the headings of `markdown`: lower case, letters, digits, `-` and `_`
/// kept, spaces as `-`, the rest dropped.
fn heading_ids(markdown: &str) -> Vec<String> {
    prose(markdown)
        .filter(|line| line.starts_with('#'))
        .map(|line| {
            line.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}
