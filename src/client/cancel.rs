//! `lambda-steps cancel RUN`: a queued run never starts; a running one stops being waited
//! for and its function is cleaned up.

use super::exit::Outcome;
use super::{Client, Connection, report};

/// Cancel a run.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The run's id.
    #[arg(value_name = "RUN")]
    pub run: String,
}

pub async fn main(args: CancelArgs) -> Outcome {
    let client = match Client::new(&args.connection) {
        Ok(client) => client,
        Err(failure) => return report(&failure),
    };
    match client.cancel(&args.run).await {
        Ok(run) => {
            match run["status"].as_str() {
                Some("cancelled") => println!("run {} cancelled", args.run),
                _ => println!("run {} is being cancelled: its worker was told to stop", args.run),
            }
            Outcome::Succeeded
        }
        Err(failure) => report(&failure),
    }
}
