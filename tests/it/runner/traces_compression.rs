//! `OTEL_EXPORTER_OTLP_COMPRESSION` (or its traces-only twin) set to `gzip` compresses each
//! export, over gRPC and over HTTP/protobuf alike, and the run's spans still arrive; one
//! the exporter cannot do (`zstd`) leaves traces off, said at start, and runs run.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

use super::traces::header_noting_lambda;
use crate::support::otlp::Collector;
use crate::support::service::{ADMIN_TOKEN, ServeProcess};

#[sqlx::test]
async fn an_exporter_told_to_compress_sends_gzip_over_either_protocol(db: PgPool) {
    let (fake_lambda, _) = header_noting_lambda().await;
    for (protocol, variable) in [
        ("grpc", "OTEL_EXPORTER_OTLP_COMPRESSION"),
        ("http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"),
    ] {
        let collector = Collector::start().await;
        let work = tempfile::tempdir().unwrap();
        let env = [
            ("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            (variable, "gzip"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ];
        let service = ServeProcess::start(&db, work.path(), &["--aws-endpoint-url", &fake_lambda], &env).await;
        let run = service
            .run(json!({"type": "lambda_invoke", "function_name": "noted"}))
            .await;
        assert_eq!(run["status"], "succeeded", "{protocol}: {run}");
        let id = run["id"].as_str().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !collector
            .spans()
            .iter()
            .any(|s| s.name == "run" && s.attributes.get("run.id").map(String::as_str) == Some(id))
        {
            assert!(
                Instant::now() < deadline,
                "{protocol}: the run's spans never came; exports: {:?}\n{}",
                collector.encodings(),
                std::fs::read_to_string(&service.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let encodings = collector.encodings();
        assert!(
            encodings.iter().all(|e| *e == format!("{protocol} gzip")),
            "{protocol}: every export compressed: {encodings:?}"
        );
    }
}

#[sqlx::test]
async fn a_compression_the_exporter_cannot_do_leaves_traces_off_and_the_service_running(db: PgPool) {
    let (fake_lambda, _) = header_noting_lambda().await;
    let collector = Collector::start().await;
    let work = tempfile::tempdir().unwrap();
    let env = [
        ("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.as_str()),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
    ];
    let service = ServeProcess::start(&db, work.path(), &["--aws-endpoint-url", &fake_lambda], &env).await;
    let run = service
        .run(json!({"type": "lambda_invoke", "function_name": "noted"}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["trace_id"].is_null(), "no trace, so none kept: {run}");
    let log = std::fs::read_to_string(&service.log).unwrap();
    assert!(
        log.contains("warning: traces are not exported") && log.contains("zstd"),
        "said at start:\n{log}"
    );
}
