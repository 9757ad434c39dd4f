//! The binary as a client: the real `lambda-steps` executable against a real service. Its
//! exit status is the run's outcome (0 succeeded, 1 failed, 3 timed out, 4 cancelled, 6
//! refused or unreachable), it prints the function's lines and result, and a stream cut
//! mid-event resumes with no line shown twice.

use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::free_port;
use crate::support::service::{ADMIN_TOKEN, TestService};

/// The client binary with the service's URL and token in its environment, run in an
/// empty directory (so no `admin-token` file is found by accident).
pub fn cli(url: &str, token: &str, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"));
    command
        .args(args)
        .env("LAMBDA_STEPS_URL", url)
        .env("LAMBDA_STEPS_TOKEN", token)
        .env_remove("LAMBDA_STEPS_DATA_DIR")
        .env_remove("LAMBDA_STEPS_PROJECT")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs the client to its end: (exit status, stdout, stderr).
pub async fn run_cli(url: &str, token: &str, args: &[&str]) -> (i32, String, String) {
    let output = tokio::time::timeout(Duration::from_secs(90), cli(url, token, args).output())
        .await
        .expect("the client ends")
        .unwrap();
    split(output)
}

/// `run` of a Python handler file as the admin, with more arguments; answers (exit
/// status, stdout, stderr).
async fn run_python(url: &str, code: &str, more: &[&str]) -> (i32, String, String) {
    let mut args = vec!["run", "--runtime", "python3.12", "--code", code];
    args.extend_from_slice(more);
    run_cli(url, ADMIN_TOKEN, &args).await
}

fn split(output: Output) -> (i32, String, String) {
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A Python handler in a file of its own.
fn code_file(source: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".py").tempfile().unwrap();
    std::fs::write(file.path(), source).unwrap();
    file
}

const HELLO: &str = "def lambda_handler(event, context):\n    print('hello', event['name'])\n    return {'greeting': 'hello ' + event['name']}\n";

#[sqlx::test]
async fn run_exits_with_the_outcome_and_prints_the_functions_lines(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let url = service.url.as_str();
    let hello = code_file(HELLO);
    let hello = hello.path().to_str().unwrap();

    let (status, out, err) = run_python(url, hello, &["--payload", r#"{"name": "sre"}"#]).await;
    assert_eq!(status, 0, "{out}\n{err}");
    assert!(out.lines().any(|l| l == "hello sre"), "the function's line:\n{out}");
    assert!(out.contains(r#""greeting": "hello sre""#), "the result:\n{out}");
    assert!(err.contains("succeeded"), "{err}");

    let (status, out, err) = run_python(url, hello, &["--quiet", "--payload", r#"{"name": "q"}"#]).await;
    assert_eq!((status, out.as_str()), (0, "{\"greeting\":\"hello q\"}\n"), "{err}");

    let boom = code_file("def lambda_handler(event, context):\n    raise ValueError('boom')\n");
    let (status, out, err) = run_python(url, boom.path().to_str().unwrap(), &[]).await;
    assert_eq!(status, 1, "a raising function fails the command:\n{out}\n{err}");
    assert!(err.contains("failed: ValueError: boom"), "the error is shown:\n{err}");

    let slow = code_file("import time\ndef lambda_handler(event, context):\n    time.sleep(30)\n");
    let (status, out, err) = run_python(url, slow.path().to_str().unwrap(), &["--timeout-seconds", "1"]).await;
    assert_eq!(status, 3, "past its timeout:\n{out}\n{err}");

    let (status, out, err) = run_python(url, hello, &["--json", "--payload", r#"{"name": "json"}"#]).await;
    assert_eq!(status, 0, "{err}");
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {l:?}")))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"submitted"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"finished"), "{kinds:?}");
    assert!(kinds.contains(&"status"), "{kinds:?}");
    assert!(events.iter().any(|e| e["entry"]["message"] == "hello json"), "{out}");
    assert_eq!(events.last().unwrap()["run"]["status"], "succeeded");
    service.stop().await;
}

#[sqlx::test]
async fn logs_follow_exits_4_when_the_run_it_watches_is_cancelled(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let url = service.url.as_str();
    let slow = code_file(
        "import time\ndef lambda_handler(event, context):\n    print('started', flush=True)\n    time.sleep(60)\n",
    );
    let no_follow = ["--no-follow", "--timeout-seconds", "120"];
    let (status, out, err) = run_python(url, slow.path().to_str().unwrap(), &no_follow).await;
    assert_eq!(status, 0, "{err}");
    let id = out.trim().to_string();
    assert_eq!(id.len(), 36, "--no-follow prints the run's id: {out:?}");

    let watcher = cli(url, ADMIN_TOKEN, &["logs", &id, "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if service.log(&id).await.iter().any(|l| l.starts_with("invoking ")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, out, err) = run_cli(url, ADMIN_TOKEN, &["cancel", &id]).await;
    assert_eq!(status, 0, "{out}\n{err}");
    let watched = tokio::time::timeout(Duration::from_secs(60), watcher.wait_with_output())
        .await
        .expect("logs --follow ends with the run")
        .unwrap();
    let (status, out, err) = split(watched);
    assert_eq!(status, 4, "cancelled:\n{out}\n{err}");
    assert!(out.contains("invoking lambda-steps-"), "the log was followed:\n{out}");

    // The log of a finished run, without --follow, and the run in the project's list.
    let (status, log, err) = run_cli(url, ADMIN_TOKEN, &["logs", &id]).await;
    assert_eq!(status, 0, "{err}");
    assert_eq!(log, out, "logs prints what logs --follow printed");
    let (status, list, err) = run_cli(url, ADMIN_TOKEN, &["runs", "--status", "cancelled"]).await;
    assert_eq!(status, 0, "{err}");
    let row = list
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("runs lists it:\n{list}"));
    assert!(
        row.contains("cancelled") && row.contains("custom code python3.12"),
        "{row}"
    );
    service.stop().await;
}

/// A command the client refuses or the service refuses: its exit status and what its
/// stderr says.
struct Refusal<'a> {
    case: &'a str,
    url: &'a str,
    token: &'a str,
    args: &'a [&'a str],
    status: i32,
    says: &'a [&'a str],
}

#[sqlx::test]
async fn refusals_exit_6_and_say_which(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let url = service.url.as_str();
    let hello = code_file(HELLO);
    let hello = hello.path().to_str().unwrap();

    let stopped = format!("http://127.0.0.1:{}", free_port());
    let run_hello = ["run", "--runtime", "python3.12", "--code", hello];
    let cases = [
        Refusal {
            case: "a runtime the service does not take",
            url,
            token: ADMIN_TOKEN,
            args: &["run", "--runtime", "java8", "--code", hello],
            status: 6,
            says: &["422", "(field: step.runtime)"],
        },
        Refusal {
            case: "a token the service does not know",
            url,
            token: "not-a-token",
            args: &run_hello,
            status: 6,
            says: &["rejected the token"],
        },
        Refusal {
            case: "no service at the URL",
            url: &stopped,
            token: ADMIN_TOKEN,
            args: &run_hello,
            status: 6,
            says: &["could not reach the service at", &stopped],
        },
        Refusal {
            case: "a URL without its scheme is a usage error, with the fix (it panicked once)",
            url,
            token: ADMIN_TOKEN,
            args: &["runs", "--url", "localhost:8080"],
            status: 2,
            says: &["--url \"localhost:8080\"", "http://localhost:8080"],
        },
        Refusal {
            case: "a URL of another scheme, from LAMBDA_STEPS_URL, is a usage error",
            url: "ftp://127.0.0.1:8080",
            token: ADMIN_TOKEN,
            args: &run_hello,
            status: 2,
            says: &["is not an http(s) URL"],
        },
        Refusal {
            case: "a payload that is not JSON: a local mistake is a usage error",
            url,
            token: ADMIN_TOKEN,
            args: &["run", "--function", "f", "--payload", "{not json"],
            status: 2,
            says: &[],
        },
        Refusal {
            case: "--function and --saved together: clap's usage error",
            url,
            token: ADMIN_TOKEN,
            args: &["run", "--function", "f", "--saved", "s"],
            status: 2,
            says: &[],
        },
    ];
    for Refusal {
        case,
        url,
        token,
        args,
        status: expected,
        says,
    } in cases
    {
        let (status, _, err) = run_cli(url, token, args).await;
        assert_eq!(status, expected, "{case}:\n{err}");
        for words in says {
            assert!(err.contains(words), "{case}: stderr does not say {words:?}:\n{err}");
        }
        assert!(!err.contains(token), "{case}: the token is not shown:\n{err}");
        assert!(!err.contains("panicked"), "{case}: an answer, not a panic:\n{err}");
    }
    service.stop().await;
}

/// A TCP proxy to `upstream` that cuts the first SSE stream in the middle of its third
/// `log` event; answers its URL, how many event streams were asked for, and how many it cut.
/// (The client may reuse one connection for its POST and its stream, so it watches bytes,
/// not connections.)
async fn cutting_proxy(upstream: String) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (streams, cuts) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (asked, cut) = (streams.clone(), cuts.clone());
    tokio::spawn(async move {
        loop {
            let (client, _) = listener.accept().await.unwrap();
            let server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let asked = asked.clone();
            let requests = tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                loop {
                    let n = client_read.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 || server_write.write_all(&buffer[..n]).await.is_err() {
                        return;
                    }
                    let text = String::from_utf8_lossy(&buffer[..n]);
                    asked.fetch_add(text.matches("/events").count(), Ordering::SeqCst);
                }
            });
            let cut = cut.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let mut answered = Vec::new();
                loop {
                    let n = server_read.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    let start = answered.len();
                    answered.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&answered).into_owned();
                    let third = text.match_indices("event: log").nth(2).map(|(at, _)| at);
                    if let Some(at) = third.filter(|_| cut.load(Ordering::SeqCst) == 0) {
                        let until = (at + "event: log\nid".len()).min(answered.len());
                        if until > start {
                            let _ = client_write.write_all(&answered[start..until]).await;
                        }
                        cut.fetch_add(1, Ordering::SeqCst);
                        break; // both directions of this connection drop here
                    }
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
                requests.abort();
            });
        }
    });
    (url, streams, cuts)
}

#[sqlx::test]
async fn a_dropped_stream_resumes_without_repeating_a_line(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let (proxy, streams, cuts) = cutting_proxy(service.url.trim_start_matches("http://").to_string()).await;
    let chatty = code_file(
        "import time\ndef lambda_handler(event, context):\n    for i in range(8):\n        print('line', i, flush=True)\n        time.sleep(0.05)\n    return 'done'\n",
    );
    let (status, out, err) = run_python(&proxy, chatty.path().to_str().unwrap(), &[]).await;
    assert_eq!(status, 0, "{out}\n{err}");
    assert_eq!(cuts.load(Ordering::SeqCst), 1, "the proxy cut the stream");
    assert!(streams.load(Ordering::SeqCst) >= 2, "the client connected again");
    assert!(err.contains("resuming after line"), "{err}");
    let id = err.split_whitespace().nth(1).unwrap();
    let log = service.log(id).await;
    let printed: Vec<&str> = out.lines().collect();
    assert_eq!(printed, log, "every line once, in order");
    assert!(printed.contains(&"line 7"));
    service.stop().await;
}

/// Starts `run` of a function that sleeps, waits until it is invoked, and interrupts the
/// client with SIGINT (Ctrl-C); answers (exit status, stderr, run id).
async fn interrupt_while_running(service: &TestService, extra: &[&str]) -> (i32, String, String) {
    let slow = code_file("import time\ndef lambda_handler(event, context):\n    time.sleep(60)\n");
    let mut args = vec!["run", "--runtime", "python3.12", "--timeout-seconds", "120", "--code"];
    args.push(slow.path().to_str().unwrap());
    args.extend_from_slice(extra);
    let mut child = cli(&service.url, ADMIN_TOKEN, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut stderr, &mut first)
        .await
        .unwrap();
    let id = first.split_whitespace().nth(1).unwrap_or_default().to_string();
    for _ in 0..600 {
        if service.log(&id).await.iter().any(|l| l.starts_with("invoking ")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGINT) };
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .unwrap()
        .unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).await.unwrap();
    (status.code().unwrap_or(-1), first + &rest, id)
}

#[sqlx::test]
async fn ctrl_c_leaves_the_run_going_or_cancels_it_when_asked(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let (status, err, id) = interrupt_while_running(&service, &[]).await;
    assert_eq!(status, 130, "{err}");
    assert!(
        err.contains(&format!("lambda-steps logs {id} --follow")),
        "says how to attach again:\n{err}"
    );
    let (_, run) = service.get(&format!("/v1/runs/{id}")).await;
    assert_eq!(run["status"], "running", "the run goes on");
    service.post(&format!("/v1/runs/{id}/cancel")).await;

    let (status, err, id) = interrupt_while_running(&service, &["--cancel-on-interrupt"]).await;
    assert_eq!(status, 4, "cancelled, and followed to its end:\n{err}");
    let run = service.wait_finished(&id).await;
    assert_eq!(run["status"], "cancelled");
    service.stop().await;
}
