//! `lambda-steps replay RUN`: replays a finished run on the service's embedded engine,
//! follows the replay live, prints what differs, and exits 0 when the outcomes match
//! (status, error type and message, result payload) and 1 when they do not.

use serde_json::{Value, json};

use super::exit::Outcome;
use super::output::{Mode, Printer};
use super::{Client, Connection, Failure, follow, report};

/// Replay a finished run on the embedded engine and show what differs.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The run to replay.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// What the replayed function gets for its AWS calls: `none` (no credentials) or
    /// `role` (its execution role, assumed with the project's credentials).
    #[arg(long, default_value = "none", value_parser = ["none", "role"])]
    pub credentials: String,
    /// Where the replayed function's AWS calls go (`AWS_ENDPOINT_URL`), e.g. moto.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Replay the function's current code when the version that ran is gone.
    #[arg(long)]
    pub accept_current_code: bool,
    /// JSON lines: each log entry, then `{"event": "difference", ...}`.
    #[arg(long)]
    pub json: bool,
}

const HELP: &str = "\
Exit status:
  0  the replay's outcome matches the original's (status, error type and message, result)
  1  the outcomes differ
  6  the service refused the replay (the run is not replayable, or its code is gone),
     rejected the token, or could not be reached
  130  interrupted: Ctrl-C stopped following; the replay goes on";

pub async fn main(args: ReplayArgs) -> Outcome {
    let client = match Client::new(&args.connection) {
        Ok(client) => client,
        Err(failure) => return report(&failure),
    };
    let body = json!({
        "credentials": args.credentials,
        "endpoint_url": args.endpoint_url,
        "accept_current_code": args.accept_current_code,
    });
    let replay = match client.replay(&args.run, &body).await {
        Ok(replay) => replay,
        Err(failure) => return report(&failure),
    };
    let Some(id) = replay["id"].as_str().map(str::to_string) else {
        return report(&Failure::Unreadable {
            url: client.base().to_string(),
            why: "the replay has no id".into(),
        });
    };
    let mut printer = Printer::new(Mode::of(args.json, false));
    if !args.json {
        eprintln!("replay {id} of run {} queued on the embedded engine", args.run);
    }
    let followed = tokio::select! {
        followed = follow::follow(&client, &id, &mut printer) => followed,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("stopped following replay {id}; it goes on. Its difference: lambda-steps logs {id} --follow, then GET /v1/runs/{id}/replay-diff");
            return Outcome::Interrupted;
        }
    };
    let (run, _) = match followed {
        Ok(done) => done,
        Err(failure) => return report(&failure),
    };
    if run["error"]["code"] == "replay_refused" {
        eprintln!(
            "error: the replay was refused: {}",
            run["error"]["message"].as_str().unwrap_or_default()
        );
        return Outcome::Refused;
    }
    let diff = match client.replay_diff(&id).await {
        Ok(diff) => diff,
        Err(failure) => return report(&failure),
    };
    if args.json {
        println!("{}", json!({"event": "difference", "difference": diff}));
    } else {
        print!("{}", render(&diff));
    }
    if diff["same_outcome"] == true {
        Outcome::Succeeded
    } else {
        Outcome::Failed
    }
}

/// The difference as text: one line per compared figure, then the printed lines side by side.
pub fn render(diff: &Value) -> String {
    let mut out = String::new();
    let mark = |same: bool| if same { "=" } else { "≠" };
    let shown = |v: &Value| match v {
        Value::Null => "—".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    out.push_str(&format!(
        "\ndifference: original {} · replay {}\n",
        shown(&diff["original"]),
        shown(&diff["replay"])
    ));
    let status = &diff["status"];
    out.push_str(&format!(
        "  status    {} {:<10} replay {}\n",
        mark(status["same"] == true),
        shown(&status["original"]),
        shown(&status["replay"])
    ));
    let error = &diff["error"];
    let error_text = |e: &Value| {
        if e.is_null() {
            "none".to_string()
        } else {
            format!("{}: {}", shown(&e["type"]), shown(&e["message"]))
        }
    };
    out.push_str(&format!(
        "  error     {} {}\n",
        mark(error["same"] == true),
        error_text(&error["original"])
    ));
    if error["same"] != true {
        out.push_str(&format!("              replay: {}\n", error_text(&error["replay"])));
    }
    let payload = &diff["payload"];
    out.push_str(&format!("  result    {}", mark(payload["same"] == true)));
    let changes = payload["changes"].as_array().cloned().unwrap_or_default();
    if changes.is_empty() {
        out.push_str(" same payload\n");
    } else {
        out.push_str(&format!(" {} change(s)\n", changes.len()));
        for change in changes {
            let path = change["path"]
                .as_str()
                .filter(|p| !p.is_empty())
                .unwrap_or("(whole payload)");
            out.push_str(&format!(
                "      {path}: {} → {}\n",
                shown(&change["original"]),
                shown(&change["replay"])
            ));
        }
    }
    let figure = |v: &Value, unit: &str| v.as_f64().map_or("—".to_string(), |n| format!("{n} {unit}"));
    out.push_str(&format!(
        "  duration    {} → {}\n",
        figure(&diff["duration_ms"]["original"], "ms"),
        figure(&diff["duration_ms"]["replay"], "ms")
    ));
    out.push_str(&format!(
        "  max memory  {} → {}\n",
        figure(&diff["max_memory_mb"]["original"], "MB"),
        figure(&diff["max_memory_mb"]["replay"], "MB")
    ));
    let printed = diff["printed"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!(
        "  printed   {} {} line(s)\n",
        mark(diff["printed_same"] == true),
        printed.len()
    ));
    for pair in printed {
        out.push_str(&format!(
            "    {} {:<60} | {}\n",
            mark(pair["same"] == true),
            shown(&pair["original"]),
            shown(&pair["replay"])
        ));
    }
    let verdict = if diff["same_outcome"] == true {
        "same outcome"
    } else {
        "the outcomes differ"
    };
    out.push_str(&format!("{verdict}\n"));
    out
}
