//! `lambda-steps approve RUN CALLBACK_ID [--result JSON]` and `lambda-steps reject RUN
//! CALLBACK_ID --message TEXT`: complete a callback the run's durable execution waits for
//! (`POST /v1/runs/{id}/callbacks/{callback_id}`). The callback id is in the run's log
//! (`durable: callback "NAME" started: callback id ID`). Exit 0 when the service took the
//! answer, 2 for unreadable `--result` JSON, 6 when the service refused it.

use serde_json::{Value, json};

use super::exit::Outcome;
use super::{Client, Connection, report};

/// The callback a command answers: the service, the run, the callback id.
#[derive(Debug, clap::Args)]
pub struct CallbackTarget {
    #[command(flatten)]
    pub connection: Connection,
    /// The run's id.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The callback id, as the run's log shows it.
    #[arg(value_name = "CALLBACK_ID")]
    pub callback_id: String,
}

/// Approve a callback of a run's durable execution.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub callback: CallbackTarget,
    /// The callback's result, a JSON value (what `wait_for_callback` returns).
    #[arg(long, default_value = r#"{"approved": true}"#)]
    pub result: String,
}

/// Reject a callback of a run's durable execution: `wait_for_callback` raises.
#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    #[command(flatten)]
    pub callback: CallbackTarget,
    /// Why: the error's message.
    #[arg(long)]
    pub message: String,
    /// The error's type.
    #[arg(long = "type", default_value = "Rejected")]
    pub kind: String,
}

pub async fn approve(args: ApproveArgs) -> Outcome {
    let result: Value = match serde_json::from_str(&args.result) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("error: --result is not JSON: {e}");
            return Outcome::Usage;
        }
    };
    send(&args.callback, json!({"result": result})).await
}

pub async fn reject(args: RejectArgs) -> Outcome {
    let body = json!({"error": {"type": args.kind, "message": args.message}});
    send(&args.callback, body).await
}

async fn send(target: &CallbackTarget, body: Value) -> Outcome {
    let CallbackTarget {
        connection,
        run,
        callback_id,
    } = target;
    let client = match Client::new(connection) {
        Ok(client) => client,
        Err(failure) => return report(&failure),
    };
    match client.complete_callback(run, callback_id, &body).await {
        Ok(done) => {
            println!(
                "callback {callback_id} of run {run} {} by {}",
                done["outcome"].as_str().unwrap_or("completed"),
                done["completed_by"].as_str().unwrap_or("this token")
            );
            Outcome::Succeeded
        }
        Err(failure) => report(&failure),
    }
}
