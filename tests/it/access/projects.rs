//! Deleting a project: only an admin may, never while its runs are in flight, and then
//! nothing of it is left to read or to use (runs, logs, tokens, settings, saved steps).

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::{TestService, authorized};

#[sqlx::test]
async fn a_deleted_project_leaves_nothing_behind_and_is_refused_while_runs_are_in_flight(db: PgPool) {
    let service = TestService::start(db.clone(), &[]).await;
    let base = service.url.clone();
    let project_url = format!("{base}/v1/projects/gone");
    let created = service.http.put(&project_url).send().await.unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let token: serde_json::Value = service
        .http
        .post(format!("{base}/v1/tokens"))
        .json(&json!({"name": "gone's runner", "role": "runner", "project": "gone"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let runner = authorized(token["token"].as_str().unwrap());
    let settings = service
        .http
        .put(format!("{project_url}/settings"))
        .json(&json!({"project.aws.region": "eu-west-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status().as_u16(), 200);
    let saved = service
        .http
        .put(format!("{project_url}/steps/nightly"))
        .json(&json!({"step": {"type": "lambda_invoke", "function_name": "f", "invocation_type": "DryRun"}}))
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_success(), "{}", saved.status());
    let (_, run) = service
        .submit(
            "gone",
            json!({"type": "lambda_invoke", "function_name": "f", "invocation_type": "DryRun"}),
        )
        .await;
    let finished_id = run["id"].as_str().unwrap().to_string();
    service.wait_finished(&finished_id).await;

    // A run held by a worker elsewhere: the project cannot go while it is in flight.
    let held = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO runs (id, project, status, step, attempt, worker, lease_expires_at)
         VALUES ($1, 'gone', 'running', '{}', 1, 'elsewhere', now() + interval '1 hour')",
    )
    .bind(held)
    .execute(&db)
    .await
    .unwrap();
    assert_eq!(runner.delete(&project_url).send().await.unwrap().status().as_u16(), 403);
    let refused = service.http.delete(&project_url).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 409);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1 run(s) queued or running"),
        "{body}"
    );
    let still = service
        .http
        .get(format!("{base}/v1/runs/{finished_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status().as_u16(), 200, "a refused delete changes nothing");

    sqlx::query("UPDATE runs SET status = 'cancelled', finished_at = now(), worker = NULL, lease_expires_at = NULL WHERE id = $1")
        .bind(held)
        .execute(&db)
        .await
        .unwrap();
    let deleted = service.http.delete(&project_url).send().await.unwrap();
    assert_eq!(deleted.status().as_u16(), 204);

    for id in [finished_id.as_str(), &held.to_string()] {
        let gone = service.http.get(format!("{base}/v1/runs/{id}")).send().await.unwrap();
        assert_eq!(gone.status().as_u16(), 404, "run {id}");
    }
    let logs: i64 = sqlx::query_scalar("SELECT count(*) FROM run_logs")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(logs, 0, "the runs' logs went with them");
    assert_eq!(
        runner
            .get(format!("{base}/v1/whoami"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401,
        "the project's tokens went with it"
    );
    let (status, _) = service.get("/v1/projects/gone/settings").await;
    assert_eq!(status, 404);
    let (_, projects) = service.get("/v1/projects").await;
    assert!(
        !projects["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "gone"),
        "{projects}"
    );
    assert_eq!(
        service
            .http
            .delete(&project_url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    // The name is free again, and the project made with it starts empty.
    assert_eq!(
        service.http.put(&project_url).send().await.unwrap().status().as_u16(),
        201
    );
    let (_, steps) = service.get("/v1/projects/gone/steps").await;
    assert_eq!(steps["items"], json!([]), "{steps}");
}
