//! Live function output when a run ends from outside: a cancel mid-print keeps every line
//! printed before it; a replica killed mid-print leaves each line it had stored once; and
//! a replica paused past its lease (the run rescued meanwhile) that wakes up writes none of
//! the function's output into the settled run (before the fence it lost a line to a seq
//! taken by the rescue's own line, and appended the rest after the run had ended).

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, ServeProcess, TestService};

/// A function that prints `beat <i>` every 20 ms, forever, and after each print sends `i`
/// to the test's UDP port: a beat the test received was printed before it was received.
fn beating(port: u16) -> String {
    format!(
        "import socket, time\ndef lambda_handler(e, c):\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    i = 0\n    while True:\n        print('beat', i)\n        s.sendto(str(i).encode(), ('127.0.0.1', {port}))\n        i += 1\n        time.sleep(0.02)\n"
    )
}

/// Waits for at least `count` beats, then takes every one already here; answers the last.
async fn beats_received(socket: &tokio::net::UdpSocket, count: u32) -> u32 {
    let mut buffer = [0u8; 64];
    let mut last = 0;
    for _ in 0..count {
        let (n, _) = tokio::time::timeout(Duration::from_secs(60), socket.recv_from(&mut buffer))
            .await
            .expect("the function beats")
            .unwrap();
        last = last.max(std::str::from_utf8(&buffer[..n]).unwrap().parse().unwrap());
    }
    while let Ok((n, _)) = socket.try_recv_from(&mut buffer) {
        last = last.max(std::str::from_utf8(&buffer[..n]).unwrap().parse().unwrap());
    }
    last
}

/// The beat numbers in a log, in log order.
fn beats(log: &[String]) -> Vec<u32> {
    log.iter()
        .filter_map(|l| l.strip_prefix("beat ")?.parse().ok())
        .collect()
}

#[sqlx::test]
async fn a_function_cancelled_mid_print_keeps_every_line_printed_before_the_cancel(db: PgPool) {
    // The function signals this test on the host's loopback: only `--network host` reaches it.
    let service = TestService::start_on_host_network(db, &[]).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let (_, run) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": beating(port), "timeout_seconds": 60}),
        )
        .await;
    let id = run["id"].as_str().unwrap();
    let last_before_cancel = beats_received(&socket, 25).await;
    let (status, _) = service.post(&format!("/v1/runs/{id}/cancel")).await;
    assert_eq!(status, 202);
    let done = service.wait_finished(id).await;
    assert_eq!(done["status"], "cancelled", "{done}");

    let log = service.log(id).await;
    let kept = beats(&log);
    assert_eq!(
        kept,
        (0..kept.len() as u32).collect::<Vec<_>>(),
        "each beat once, in order: {log:#?}"
    );
    assert!(
        kept.len() as u32 > last_before_cancel,
        "beat {last_before_cancel} was printed before the cancel; the log kept {} beats",
        kept.len()
    );
    service.stop().await;
}

#[sqlx::test]
async fn a_replica_killed_mid_print_leaves_each_stored_line_once(db: PgPool) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let work = tempfile::tempdir().unwrap();
    let flags = ["--lease-seconds", "2", "--poll-ms", "100", "--network", "host"];
    let mut doomed = ServeProcess::start(&db, work.path(), &flags, &[("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let id = doomed
        .submit(json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": beating(port), "timeout_seconds": 300}))
        .await;
    beats_received(&socket, 25).await;
    // Until some beats are stored: the replica dies in the middle of following the log.
    let run: uuid::Uuid = id.parse().unwrap();
    let stored_beats = || async {
        let stored: i64 =
            sqlx::query_scalar("SELECT count(*) FROM run_logs WHERE run_id = $1 AND message LIKE 'beat %'")
                .bind(run)
                .fetch_one(&db)
                .await
                .unwrap();
        stored
    };
    for _ in 0..200 {
        if stored_beats().await >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.child.kill().await.unwrap(); // SIGKILL: no shutdown, no last read
    let stored_at_kill = stored_beats().await;
    assert!(stored_at_kill >= 10, "{stored_at_kill} beats stored before the kill");

    let survivor = TestService::start_on_host_network(db, &["--lease-seconds", "2"]).await;
    let rescued = survivor.wait_finished(&id).await;
    assert_eq!(rescued["error"]["code"], "outcome_unknown", "{rescued}");
    let log = survivor.log(&id).await;
    let kept = beats(&log);
    assert_eq!(
        kept,
        (0..kept.len() as u32).collect::<Vec<_>>(),
        "each beat once, in order: {log:#?}"
    );
    assert!(kept.len() as i64 >= stored_at_kill, "{log:#?}");
    let rescue = log
        .iter()
        .position(|l| l.contains("outcome unknown, not sent again"))
        .expect("the rescue is in the log");
    assert!(
        log.iter().position(|l| l.starts_with("beat ")).unwrap() < rescue,
        "the beats come before the rescue: {log:#?}"
    );
    // Nothing more is written to the settled run's log.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(survivor.log(&id).await, log);
    survivor.stop().await;
}

#[sqlx::test]
async fn a_replica_that_lost_its_lease_mid_print_writes_no_more_of_the_functions_output(db: PgPool) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let work = tempfile::tempdir().unwrap();
    let flags = ["--lease-seconds", "2", "--poll-ms", "100", "--network", "host"];
    let paused = ServeProcess::start(&db, work.path(), &flags, &[("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let id = paused
        .submit(json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": beating(port), "timeout_seconds": 300}))
        .await;
    beats_received(&socket, 25).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = paused.child.id().unwrap() as i32;
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let survivor = TestService::start_on_host_network(db, &["--lease-seconds", "2"]).await;
    let rescued = survivor.wait_finished(&id).await;
    assert_eq!(rescued["error"]["code"], "outcome_unknown", "{rescued}");
    let at_rescue = survivor.log(&id).await;
    // The paused replica wakes up, finds its lease gone, and stops following.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = survivor.log(&id).await;
    let kept = beats(&log);
    assert_eq!(
        kept,
        (0..kept.len() as u32).collect::<Vec<_>>(),
        "each beat once, in order: {log:#?}"
    );
    assert!(!kept.is_empty());
    assert_eq!(
        beats(&log),
        beats(&at_rescue),
        "no function line is written into a run another replica settled"
    );
    survivor.stop().await;
    drop(paused);
}
