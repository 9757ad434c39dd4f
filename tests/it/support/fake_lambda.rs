//! A Lambda endpoint for fault tests that knows the truth: each event carries `n`; it
//! counts how often each `n` was invoked and remembers which it answered, after a random
//! delay so that many Invokes are in flight when the fault strikes. Reading the
//! configuration of a function named `slow-config...` takes 1.5 s, and so does an Invoke
//! of one named `slow-answer...`: windows for a test to strike in.

use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use serde_json::json;

#[derive(Default)]
pub struct FakeLambda {
    invoked: Mutex<HashMap<i64, usize>>,
    answered: Mutex<HashSet<i64>>,
}

impl FakeLambda {
    /// Serves it; answers its URL. Each Invoke is answered after `delay_ms` (a range).
    pub async fn start(delay_ms: std::ops::Range<u64>) -> (String, Arc<Self>) {
        let lambda = Arc::new(Self::default());
        let router = axum::Router::new()
            .route(
                "/2015-03-31/functions/{name}/configuration",
                axum::routing::get(|Path(name): Path<String>| async move {
                    // A window between a run's claim and its Invoke, for tests to strike in.
                    if name.starts_with("slow-config") {
                        tokio::time::sleep(Duration::from_millis(1500)).await;
                    }
                    axum::Json(json!({"FunctionName": name, "Timeout": 10}))
                }),
            )
            .route(
                "/2015-03-31/functions/{name}/invocations",
                axum::routing::post(
                    move |State(lambda): State<Arc<Self>>, Path(name): Path<String>, body: axum::body::Bytes| {
                        let delay = if name.starts_with("slow-answer") {
                            Duration::from_millis(1500)
                        } else {
                            Duration::from_millis(rand::random_range(delay_ms.clone()))
                        };
                        async move {
                            let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                            let n = event["n"].as_i64().unwrap_or(-1);
                            *lambda.invoked.lock().entry(n).or_default() += 1;
                            tokio::time::sleep(delay).await;
                            lambda.answered.lock().insert(n);
                            ([("x-amz-executed-version", "$LATEST")], r#"{"ok": true}"#)
                        }
                    },
                ),
            )
            .with_state(lambda.clone());
        (crate::support::fake_endpoint(router).await, lambda)
    }

    /// How often the event `n` was invoked.
    pub fn invocations(&self, n: i64) -> usize {
        self.invoked.lock().get(&n).copied().unwrap_or(0)
    }

    /// Whether an answer to `n` was sent back.
    pub fn answered(&self, n: i64) -> bool {
        self.answered.lock().contains(&n)
    }

    /// How many distinct events were invoked.
    pub fn invoked_count(&self) -> usize {
        self.invoked.lock().len()
    }
}

/// What became of each run, by the event `n` it carried.
#[derive(Debug, Default)]
pub struct Outcomes {
    pub succeeded: usize,
    pub outcome_unknown: usize,
    /// Runs given back to the queue at least once (their log says why).
    pub requeued: usize,
    pub other: Vec<String>,
}

/// Reads every run of the database and checks it against what the Lambda saw: each
/// ended, none invoked twice, every answered one `succeeded`, and `outcome_unknown` only
/// where the Invoke went out and no answer came back.
pub async fn check_outcomes(db: &sqlx::PgPool, lambda: &FakeLambda) -> Outcomes {
    let runs: Vec<(uuid::Uuid, String, i64, Option<serde_json::Value>, bool, bool)> = sqlx::query_as(
        "SELECT id, status, (step->'payload'->>'n')::bigint, error,
                coalesce(result->'payload' = '{\"ok\": true}'::jsonb, false),
                EXISTS (SELECT 1 FROM run_logs l WHERE l.run_id = runs.id AND l.message LIKE '%queued again%')
         FROM runs",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let mut outcomes = Outcomes::default();
    for (id, status, n, error, answer_stored, requeued) in runs {
        let invocations = lambda.invocations(n);
        assert!(invocations <= 1, "run {id} (n = {n}) was invoked {invocations} times");
        outcomes.requeued += usize::from(requeued);
        let code = error.as_ref().and_then(|e| e["code"].as_str()).unwrap_or_default();
        match (status.as_str(), code) {
            ("succeeded", _) => {
                assert!(
                    answer_stored,
                    "run {id} (n = {n}) succeeded without Lambda's answer: {error:?}"
                );
                outcomes.succeeded += 1;
            }
            ("failed", "outcome_unknown") => {
                assert!(
                    invocations == 1 && !lambda.answered(n),
                    "run {id} (n = {n}) ended outcome_unknown but Lambda {}",
                    if lambda.answered(n) {
                        "answered it"
                    } else {
                        "never got it"
                    }
                );
                outcomes.outcome_unknown += 1;
            }
            _ => outcomes.other.push(format!("run {id} (n = {n}): {status} {error:?}")),
        }
        if lambda.answered(n) {
            assert_eq!(
                status, "succeeded",
                "run {id} (n = {n}): Lambda answered it, yet: {error:?}"
            );
        }
    }
    outcomes
}

/// Waits until no run of the database is queued or running.
pub async fn wait_all_ended(db: &sqlx::PgPool, within: Duration) {
    let started = std::time::Instant::now();
    loop {
        let open: Result<i64, _> =
            sqlx::query_scalar("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')")
                .fetch_one(db)
                .await;
        if open.as_ref().is_ok_and(|n| *n == 0) {
            return;
        }
        assert!(started.elapsed() < within, "runs still open after {within:?}: {open:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
