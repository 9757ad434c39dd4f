//! `lambda-steps runs`: a project's runs, newest first.

use std::io::Write;

use super::exit::Outcome;
use super::{Client, Connection, RunView, report};

/// List a project's runs, newest first.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The project.
    #[arg(long, env = "LAMBDA_STEPS_PROJECT", default_value = "default")]
    pub project: String,
    /// Only runs with this status.
    #[arg(long, value_parser = statuses())]
    pub status: Option<String>,
    /// How many (1 to 200).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: u32,
    /// One run a line, as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn main(args: RunsArgs) -> Outcome {
    let client = match Client::new(&args.connection) {
        Ok(client) => client,
        Err(failure) => return report(&failure),
    };
    let page = match client.runs(&args.project, args.status.as_deref(), args.limit).await {
        Ok(page) => page,
        Err(failure) => return report(&failure),
    };
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if args.json {
        for run in &items {
            let _ = writeln!(out, "{run}");
        }
        return Outcome::Succeeded;
    }
    let _ = writeln!(out, "{:<36}  {:<9}  {:<25}  WHAT", "ID", "STATUS", "CREATED");
    for run in &items {
        let Ok(view) = RunView::read(run) else { continue };
        let created = view.created_at.as_deref().unwrap_or_default();
        let created = created.get(..19).unwrap_or(created).replace('T', " ");
        let _ = writeln!(
            out,
            "{:<36}  {:<9}  {:<25}  {}",
            view.id,
            view.status,
            created,
            what(&view)
        );
    }
    Outcome::Succeeded
}

/// A step in a few words: `invoke my-fn`, `custom code python3.12`.
fn what(run: &RunView) -> String {
    match run.step["type"].as_str() {
        Some("lambda_invoke") => format!("invoke {}", run.step["function_name"].as_str().unwrap_or("?")),
        Some("lambda_custom_code") => format!("custom code {}", run.step["runtime"].as_str().unwrap_or("?")),
        other => other.unwrap_or("?").to_string(),
    }
}

/// The statuses `--status` takes: the API's own (`RunStatus`).
fn statuses() -> clap::builder::PossibleValuesParser {
    use strum::IntoEnumIterator;
    clap::builder::PossibleValuesParser::new(crate::domain::run::RunStatus::iter().map(|s| s.as_str()))
}
