//! The escape suite: project A's code (Python, and again in Node.js) tries to reach project
//! B's running function, the service and the host, one named case per attempt (`cases.rs`);
//! every case must fail for the attacker on the default settings, and a control run with
//! the host's network and no sandbox must see the leaks, proving the suite can see one.

mod archives;
mod cases;
mod host;
mod outside;
mod resources;
mod scene;
mod target;

use sqlx::PgPool;

use cases::{CASES, Case};
use scene::{Observations, Scene};
use target::Target;

/// Seconds B holds: long enough for every attack of the default run to happen meanwhile.
const HOLD_SECONDS: u64 = 100;

/// The control's attacker connects to every port listening on the host's loopback, the
/// default run's canary listeners among them: run together, each would count the other's
/// connections as its own leak. One scene at a time. (Tests that add an address to the
/// host meanwhile need no turn: the engine closes it in live environments too.)
static ONE_SCENE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[sqlx::test]
async fn on_the_default_settings_every_case_holds(db: PgPool) {
    let _alone = ONE_SCENE_AT_A_TIME.lock().await;
    every_case_holds(Scene::start(db, &[], HOLD_SECONDS).await).await;
}

/// The same, with `lambda-steps serve` run as an ordinary user (CI runs as root): no uid
/// per environment, no cgroups; user namespaces keep the environments apart.
#[sqlx::test]
async fn with_the_service_run_as_an_ordinary_user_every_case_holds(db: PgPool) {
    let _alone = ONE_SCENE_AT_A_TIME.lock().await;
    let service = Target::process_as(db, crate::support::ordinary_user()).await;
    every_case_holds(Scene::start_on(service, HOLD_SECONDS).await).await;
}

/// The same against a service running elsewhere, which the `target::EXTERNAL` variables
/// name: tests/container/run runs it against the container, on docker-compose.yml's
/// settings (`cargo test --test it in_the_named_service -- --ignored`).
#[tokio::test]
#[ignore = "needs a running service named by LAMBDA_STEPS_ESCAPE_*: tests/container/run runs it"]
async fn in_the_named_service_every_case_holds() {
    let _alone = ONE_SCENE_AT_A_TIME.lock().await;
    every_case_holds(Scene::start_on(Target::external(), HOLD_SECONDS).await).await;
}

/// Every attempt of the table against `scene`, from inside (Python and Node.js), from the
/// test's own process and by exhausting resources; panics naming each leak.
async fn every_case_holds(scene: Scene) {
    let mut observed: Vec<(&str, Observations)> = Vec::new();
    for (runtime, attacker) in [("python3.12", "python"), ("nodejs20.x", "node")] {
        let (mut observations, everything) = scene.attack_from_inside(runtime).await;
        observations.insert("secret.b_in_answers".into(), secret_found(&everything, &scene.secret));
        observed.push((attacker, observations));
    }
    let mut from_the_test = outside::unsigned(&scene.service.engine_url, &scene.b_function).await;
    from_the_test.insert(
        "api.outside_boto3_unknown_key".into(),
        outside::boto3_unknown_key(&scene.service.engine_url, &scene.b_function).await,
    );
    from_the_test.extend(archives::upload_each(&scene.service.engine_client).await);
    let (mut exhausted, b_running_throughout) = resources::exhaust(&scene).await;
    assert!(
        b_running_throughout && scene.b_is_running().await,
        "B ended before A's attacks did: raise HOLD_SECONDS"
    );
    resources::fold_in_b(&mut exhausted, &scene.b_answer().await);
    observed[0].1.extend(exhausted);
    observed.push(("test", from_the_test));
    scene.stop().await;

    let verdicts = judge(&observed, |_| true);
    let leaks: Vec<&String> = verdicts.iter().filter_map(|(_, leak)| leak.as_ref()).collect();
    eprintln!(
        "escape suite: {} of {} attempts held",
        verdicts.len() - leaks.len(),
        cases::attempts_count()
    );
    assert!(
        leaks.is_empty(),
        "cases that leaked:\n{}",
        leaks.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
    );
}

#[sqlx::test]
async fn the_control_run_without_containment_sees_the_leaks(db: PgPool) {
    let _alone = ONE_SCENE_AT_A_TIME.lock().await;
    let scene = Scene::start(db, &["--network", "host", "--isolation", "none"], 40).await;
    let (mut observations, everything) = scene.attack_from_inside("python3.12").await;
    observations.insert("secret.b_in_answers".into(), secret_found(&everything, &scene.secret));
    scene.stop().await;

    let verdicts = judge(&[("python", observations)], |case| case.control_leaks);
    let unseen: Vec<&String> = verdicts
        .iter()
        .filter(|(_, leak)| leak.is_none())
        .map(|(name, _)| name)
        .collect();
    assert!(unseen.is_empty(), "the control run saw no leak in: {unseen:?}");
}

/// Whether B's secret shows anywhere in `text`, as the `secret.b_in_answers` case observes it.
fn secret_found(text: &str, secret: &str) -> serde_json::Value {
    match text.contains(secret) {
        true => serde_json::json!([{"found": "B's secret is in what the attacker got back"}]),
        false => serde_json::json!([]),
    }
}

/// Each attempt of the table, named `attacker case`, with why it leaked (naming the case)
/// or `None` when it held; a case missing from the observations is a leak too (untried).
fn judge(observed: &[(&str, Observations)], judged: impl Fn(&Case) -> bool) -> Vec<(String, Option<String>)> {
    let mut verdicts = Vec::new();
    for case in CASES.iter().filter(|case| judged(case)) {
        for attacker in cases::runtimes(case.from) {
            let Some((_, observations)) = observed.iter().find(|(who, _)| who == attacker) else {
                continue;
            };
            let name = format!("{attacker} {}", case.name);
            let leak = match observations.get(case.name) {
                Some(seen) => cases::leak(case.expected, seen),
                None => Some("not tried".to_string()),
            };
            let outcome = match &leak {
                Some(why) => format!("LEAKED {}", why.chars().take(300).collect::<String>()),
                None => "held".to_string(),
            };
            eprintln!("{name:<45} {outcome}");
            let leak = leak.map(|why| format!("{name} ({}; expected {:?}): {why}", case.attempt, case.expected));
            verdicts.push((name, leak));
        }
    }
    verdicts
}

#[test]
fn the_table_names_each_case_once() {
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), CASES.len());
}
