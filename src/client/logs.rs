//! `lambda-steps logs RUN [--follow]`: a run's log so far, or followed to its end with
//! the run's outcome as the exit status.

use super::exit::{self, Outcome};
use super::output::{Mode, Printer};
use super::{Client, Connection, Failure, LogLine, follow, report};

/// Print a run's log; with --follow, follow it to the end (the exit status is then the outcome).
#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
pub struct LogsArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The run's id.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Follow the log until the run ends, and exit with its outcome.
    #[arg(long, short)]
    pub follow: bool,
    /// On Ctrl-C or SIGTERM while following, cancel the run instead of leaving it running.
    #[arg(long, requires = "follow")]
    pub cancel_on_interrupt: bool,
    /// JSON lines only: each log entry (and, following, each status and the final run).
    #[arg(long)]
    pub json: bool,
}

pub async fn main(args: LogsArgs) -> Outcome {
    let client = match Client::new(&args.connection) {
        Ok(client) => client,
        Err(failure) => return report(&failure),
    };
    let mut printer = Printer::new(Mode::of(args.json, false));
    if args.follow {
        return follow::watch(&client, &args.run, &mut printer, args.cancel_on_interrupt).await;
    }
    match print_so_far(&client, &args.run, &mut printer).await {
        Ok(()) => Outcome::Succeeded,
        Err(failure) => report(&failure),
    }
}

/// Every entry stored so far, page by page.
async fn print_so_far(client: &Client, id: &str, printer: &mut Printer) -> Result<(), Failure> {
    let mut after = 0;
    loop {
        let page = client.log_page(id, after).await?;
        for raw in &page.items {
            let line: LogLine = serde_json::from_value(raw.clone()).map_err(|e| Failure::Unreadable {
                url: client.base().to_string(),
                why: format!("a log entry: {e}"),
            })?;
            printer.log(&line, raw);
        }
        if page.items.is_empty() || page.completed || page.next_after == after {
            return Ok(());
        }
        after = page.next_after;
    }
}
