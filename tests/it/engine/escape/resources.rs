//! Project A exhausting what it was given while project B runs: a fork bomb, a /tmp filler
//! and a memory hog, one run each, in turn. Each must end at A's own limit; what B could not
//! do meanwhile comes from B's own answer, folded in once B ends.

use serde_json::{Value, json};

use super::scene::{ATTACKER_PYTHON, Observations, Scene};

/// The function's MemorySize for the hog; the others get room enough that their own limit
/// (processes, EphemeralStorage), not memory, is what stops them.
const MEMORY_MB: u64 = 128;
const ROOMY_MEMORY_MB: u64 = 2048;
/// The EphemeralStorage every function gets by default.
const EPHEMERAL_STORAGE_MB: u64 = 512;

/// A's three runs; answers their observations without B's part, and whether B was still
/// running when each ended (else the attack did not happen while B ran).
pub async fn exhaust(scene: &Scene) -> (Observations, bool) {
    let mut observations = Observations::new();
    let mut b_running_throughout = true;
    let attempts = [
        (
            "res.fork_bomb",
            ROOMY_MEMORY_MB,
            json!({"kind": "fork_bomb", "cap": 5000, "seconds": 20, "hold_seconds": 6}),
        ),
        (
            "res.tmp_filler",
            ROOMY_MEMORY_MB,
            json!({"kind": "fill_tmp", "cap_mb": EPHEMERAL_STORAGE_MB + 256}),
        ),
        (
            "res.memory_hog",
            MEMORY_MB,
            json!({"kind": "memory_hog", "cap_mb": 1024}),
        ),
    ];
    for (case, memory_mb, mut attempt) in attempts {
        attempt["case"] = json!(case);
        let step = json!({
            "type": "lambda_custom_code",
            "runtime": "python3.12",
            "code": ATTACKER_PYTHON,
            "payload": {"attempts": [attempt]},
            "timeout_seconds": 60,
            "memory_mb": memory_mb,
        });
        let (run, log) = scene.run_in_a(step).await;
        b_running_throughout &= scene.b_is_running().await;
        let a = match run["result"]["payload"].get(case) {
            Some(answer) if run["status"] == "succeeded" => answer.clone(),
            // Killed before it could answer: how far it got is in its log.
            _ => json!({
                "stopped_by": format!("the run {}: {}", run["status"], run["error"]),
                "touched_mb": last_touched_mb(&log),
            }),
        };
        observations.insert(
            case.to_string(),
            json!({"a": a, "memory_mb": memory_mb, "ephemeral_storage_mb": EPHEMERAL_STORAGE_MB}),
        );
    }
    (observations, b_running_throughout)
}

/// The last `hog touched N MB` line of a run's log.
fn last_touched_mb(log: &[String]) -> Option<u64> {
    log.iter().rev().find_map(|line| {
        line.split("hog touched ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// Adds B's answer (what it could not do while A ran) to each resource case.
pub fn fold_in_b(observations: &mut Observations, b: &Value) {
    for case in ["res.fork_bomb", "res.tmp_filler", "res.memory_hog"] {
        if let Some(seen) = observations.get_mut(case) {
            seen["b"] = b.clone();
        }
    }
}
