//! `lambda-steps run`: submits a step (from flags, a JSON file, stdin or a saved step),
//! follows its log to the end and exits with its outcome.

use std::io::Read;

use serde_json::{Map, Value, json};

use super::exit::{self, Outcome};
use super::output::{Mode, Printer};
use super::rundeck::RundeckData;
use super::{Client, Connection, Failure, RunView, follow, report};

/// Submit a step and follow its log to the end; the exit status is the run's outcome.
#[derive(Debug, clap::Args)]
#[command(
    after_help = exit::HELP,
    group(clap::ArgGroup::new("what").required(true).args(["function", "runtime", "step", "saved"]))
)]
pub struct RunArgs {
    #[command(flatten)]
    pub connection: Connection,

    /// Invoke this existing function (name, partial ARN or ARN).
    #[arg(long, value_name = "NAME", help_heading = "Invoke an existing function")]
    pub function: Option<String>,
    /// A version number or alias.
    #[arg(long, requires = "function", help_heading = "Invoke an existing function")]
    pub qualifier: Option<String>,
    /// How Lambda runs it.
    #[arg(long, requires = "function", value_parser = ["RequestResponse", "Event", "DryRun"],
        help_heading = "Invoke an existing function")]
    pub invocation_type: Option<String>,
    /// Client context, a JSON object (`{"custom": {...}}`).
    #[arg(
        long,
        value_name = "JSON",
        requires = "function",
        help_heading = "Invoke an existing function"
    )]
    pub client_context: Option<String>,

    /// Create a function of this runtime from --code, run it, delete it (python3.12, nodejs20.x, ruby3.3...).
    #[arg(long, requires = "code", help_heading = "Custom code")]
    pub runtime: Option<String>,
    /// The handler's source: a file, or - for stdin.
    #[arg(long, value_name = "FILE|-", requires = "runtime", help_heading = "Custom code")]
    pub code: Option<String>,
    /// Default: lambda_function.lambda_handler (Python, Ruby), index.handler (Node.js).
    #[arg(long, requires = "runtime", help_heading = "Custom code")]
    pub handler: Option<String>,
    /// The function's timeout (default 30).
    #[arg(long, value_name = "N", requires = "runtime", help_heading = "Custom code")]
    pub timeout_seconds: Option<u32>,
    /// The function's memory (default 128).
    #[arg(long, value_name = "N", requires = "runtime", help_heading = "Custom code")]
    pub memory_mb: Option<u32>,
    /// An environment variable of the function (repeat for more).
    #[arg(long = "env", value_name = "K=V", value_parser = key_value, requires = "runtime",
        help_heading = "Custom code")]
    pub environment: Vec<(String, String)>,
    /// A package to install with the code: pip requirement, npm name@version or gem (repeat for more).
    #[arg(
        long = "package",
        value_name = "P",
        requires = "runtime",
        help_heading = "Custom code"
    )]
    pub packages: Vec<String>,
    /// The created function's description.
    #[arg(long, value_name = "TEXT", requires = "runtime", help_heading = "Custom code")]
    pub description: Option<String>,
    /// A tag of the created function (repeat for more).
    #[arg(long = "tag", value_name = "K=V", value_parser = key_value, requires = "runtime",
        help_heading = "Custom code")]
    pub tags: Vec<(String, String)>,
    /// The function's execution role (default: the project's lambda_role_arn).
    #[arg(long, value_name = "ARN", requires = "runtime", help_heading = "Custom code")]
    pub role_arn: Option<String>,
    /// Keep the function after the run instead of deleting it.
    #[arg(long, requires = "runtime", help_heading = "Custom code")]
    pub keep_function: bool,
    /// Create a durable function and follow its execution (Python 3.11+, Node.js 22+; not Ruby).
    #[arg(long, requires = "runtime", help_heading = "Custom code")]
    pub durable: bool,
    /// The durable execution's timeout in seconds (default 86400).
    #[arg(long, value_name = "N", requires = "durable", help_heading = "Custom code")]
    pub execution_timeout: Option<u32>,
    /// How many days Lambda keeps the ended execution's history (default 1).
    #[arg(long, value_name = "N", requires = "durable", help_heading = "Custom code")]
    pub retention_days: Option<u32>,

    /// A whole step as JSON (`{"type": "lambda_invoke", ...}`): a file, or - for stdin.
    #[arg(long, value_name = "FILE|-", help_heading = "Other steps")]
    pub step: Option<String>,
    /// Run the project's saved step of this name.
    #[arg(long, value_name = "NAME", help_heading = "Other steps")]
    pub saved: Option<String>,

    /// The event: JSON, @FILE, or - for stdin (default {}, or the saved step's).
    #[arg(long, value_name = "JSON|@FILE|-")]
    pub payload: Option<String>,
    /// The project the run belongs to.
    #[arg(long, env = "LAMBDA_STEPS_PROJECT", default_value = "default")]
    pub project: String,
    /// The same key in the same project answers the first run instead of a new one.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Print the run's id and return at once.
    #[arg(long)]
    pub no_follow: bool,
    /// JSON lines only: the submitted run, each log entry, each status, the final run.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
    /// Print only the result (the function's answer; the error on stderr).
    #[arg(long, short)]
    pub quiet: bool,
    /// On Ctrl-C or SIGTERM, cancel the run (and wait for its end) instead of leaving it running.
    #[arg(long)]
    pub cancel_on_interrupt: bool,
    /// Also print the outcome as Rundeck data lines (RUNDECK:DATA:key = value).
    #[arg(long)]
    pub rundeck_data: bool,
}

/// An `--env` value without `=`.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not K=V")]
struct NotKeyValue(String);

fn key_value(raw: &str) -> Result<(String, String), NotKeyValue> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| NotKeyValue(raw.to_string()))
}

pub async fn main(args: RunArgs) -> Outcome {
    match submit_and_follow(args).await {
        Ok(outcome) => outcome,
        Err(failure) => report(&failure),
    }
}

async fn submit_and_follow(args: RunArgs) -> Result<Outcome, Failure> {
    let readers: Vec<&str> = [
        ("--code", &args.code),
        ("--step", &args.step),
        ("--payload", &args.payload),
    ]
    .into_iter()
    .filter(|(_, source)| source.as_deref() == Some("-"))
    .map(|(flag, _)| flag)
    .collect();
    if readers.len() > 1 {
        return Err(Failure::Usage(format!(
            "{} cannot all read stdin (-)",
            readers.join(" and ")
        )));
    }
    let mut stdin = StdinOnce::default();
    let payload = args
        .payload
        .as_deref()
        .map(|raw| read_json("--payload", raw, &mut stdin))
        .transpose()?;
    let client = Client::new(&args.connection)?;
    let key = args.idempotency_key.as_deref();
    let (run, step) = match &args.saved {
        Some(name) => {
            let run = client.submit_saved(&args.project, name, payload.as_ref(), key).await?;
            let step = run["step"].clone();
            (run, step)
        }
        None => {
            let step = step_of(&args, payload, &mut stdin)?;
            (client.submit(&args.project, &step, key).await?, step)
        }
    };
    let view = RunView::read(&run).map_err(|why| Failure::Unreadable {
        url: client.base().to_string(),
        why: why.to_string(),
    })?;
    let mut printer = Printer::new(Mode::of(args.json, args.quiet));
    if args.no_follow {
        match printer.mode() {
            Mode::Json => printer.submitted(&run, &view),
            _ => println!("{}", view.id),
        }
        return Ok(Outcome::Succeeded);
    }
    printer.submitted(&run, &view);
    if args.rundeck_data {
        printer.rundeck = Some(RundeckData::new(&step));
    }
    Ok(follow::watch(&client, &view.id, &mut printer, args.cancel_on_interrupt).await)
}

/// The step the flags describe.
fn step_of(args: &RunArgs, payload: Option<Value>, stdin: &mut StdinOnce) -> Result<Value, Failure> {
    let mut step = Map::new();
    if let Some(source) = &args.step {
        let whole = read_json("--step", source, stdin)?;
        let Value::Object(whole) = whole else {
            return Err(Failure::Usage("--step is not a JSON object".into()));
        };
        step = whole;
    } else if let Some(function) = &args.function {
        step.insert("type".into(), json!("lambda_invoke"));
        step.insert("function_name".into(), json!(function));
        insert_some(&mut step, "qualifier", args.qualifier.as_ref().map(|q| json!(q)));
        insert_some(
            &mut step,
            "invocation_type",
            args.invocation_type.as_ref().map(|t| json!(t)),
        );
        let context = args
            .client_context
            .as_deref()
            .map(|raw| serde_json::from_str::<Value>(raw).map_err(|e| usage("--client-context", e)))
            .transpose()?;
        insert_some(&mut step, "client_context", context);
    } else if let Some(runtime) = &args.runtime {
        let source = args.code.as_deref().unwrap_or("-");
        let code = read_text("--code", source, stdin)?;
        step.insert("type".into(), json!("lambda_custom_code"));
        step.insert("runtime".into(), json!(runtime));
        step.insert("code".into(), json!(code));
        insert_some(&mut step, "handler", args.handler.as_ref().map(|h| json!(h)));
        insert_some(&mut step, "timeout_seconds", args.timeout_seconds.map(|n| json!(n)));
        insert_some(&mut step, "memory_mb", args.memory_mb.map(|n| json!(n)));
        insert_some(&mut step, "role_arn", args.role_arn.as_ref().map(|r| json!(r)));
        if !args.environment.is_empty() {
            let environment: Map<String, Value> = args.environment.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            step.insert("environment".into(), Value::Object(environment));
        }
        if !args.packages.is_empty() {
            step.insert("packages".into(), json!(args.packages));
        }
        insert_some(&mut step, "description", args.description.as_ref().map(|d| json!(d)));
        if !args.tags.is_empty() {
            let tags: Map<String, Value> = args.tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            step.insert("tags".into(), Value::Object(tags));
        }
        if args.keep_function {
            step.insert("keep_function".into(), json!(true));
        }
        if args.durable {
            step.insert("durable".into(), json!(true));
            let mut config = Map::new();
            insert_some(
                &mut config,
                "execution_timeout",
                args.execution_timeout.map(|n| json!(n)),
            );
            insert_some(
                &mut config,
                "retention_period_in_days",
                args.retention_days.map(|n| json!(n)),
            );
            if !config.is_empty() {
                step.insert("durable_config".into(), Value::Object(config));
            }
        }
    }
    insert_some(&mut step, "payload", payload);
    Ok(Value::Object(step))
}

fn insert_some(step: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        step.insert(key.to_string(), value);
    }
}

fn usage(flag: &str, e: impl std::fmt::Display) -> Failure {
    Failure::Usage(format!("{flag} is not JSON: {e}"))
}

/// Standard input, read by at most one of --code, --step and --payload.
#[derive(Default)]
struct StdinOnce {
    taken_by: Option<&'static str>,
}

impl StdinOnce {
    fn read(&mut self, flag: &'static str) -> Result<String, Failure> {
        if let Some(first) = self.taken_by {
            return Err(Failure::Usage(format!("{first} and {flag} cannot both read stdin (-)")));
        }
        self.taken_by = Some(flag);
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Usage(format!("{flag} -: cannot read stdin: {e}")))?;
        Ok(text)
    }
}

/// A file's text, or stdin's for `-`.
fn read_text(flag: &'static str, source: &str, stdin: &mut StdinOnce) -> Result<String, Failure> {
    if source == "-" {
        return stdin.read(flag);
    }
    std::fs::read_to_string(source).map_err(|e| Failure::Usage(format!("{flag} {source}: {e}")))
}

/// JSON given inline, from `@FILE`, or from stdin (`-`); `--step` takes a file name bare.
fn read_json(flag: &'static str, raw: &str, stdin: &mut StdinOnce) -> Result<Value, Failure> {
    let text = if raw == "-" {
        stdin.read(flag)?
    } else if let Some(path) = raw.strip_prefix('@') {
        read_text(flag, path, stdin)?
    } else if flag == "--step" {
        read_text(flag, raw, stdin)?
    } else {
        raw.to_string()
    };
    serde_json::from_str(&text).map_err(|e| usage(flag, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: RunArgs,
    }

    fn step(argv: &[&str]) -> Value {
        let args = Wrapper::try_parse_from(std::iter::once("run").chain(argv.iter().copied()))
            .unwrap()
            .args;
        let payload = args
            .payload
            .as_deref()
            .map(|raw| read_json("--payload", raw, &mut StdinOnce::default()).unwrap());
        step_of(&args, payload, &mut StdinOnce::default()).unwrap()
    }

    #[test]
    fn flags_make_the_steps_the_api_takes() {
        assert_eq!(
            step(&[
                "--function",
                "f",
                "--qualifier",
                "live",
                "--invocation-type",
                "Event",
                "--payload",
                r#"{"a":1}"#
            ]),
            json!({"type": "lambda_invoke", "function_name": "f", "qualifier": "live",
                "invocation_type": "Event", "payload": {"a": 1}})
        );
        let code = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(code.path(), "def h(e, c):\n    return 1\n").unwrap();
        let path = code.path().to_str().unwrap();
        assert_eq!(
            step(&[
                "--runtime",
                "python3.12",
                "--code",
                path,
                "--env",
                "A=b=c",
                "--timeout-seconds",
                "3"
            ]),
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "def h(e, c):\n    return 1\n",
                "timeout_seconds": 3, "environment": {"A": "b=c"}})
        );
        assert_eq!(
            step(&[
                "--runtime",
                "python3.12",
                "--code",
                path,
                "--package",
                "six==1.16.0",
                "--package",
                "requests>=2,<3",
                "--description",
                "restart worker",
                "--tag",
                "team=sre",
                "--tag",
                "owner=a=b",
            ]),
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "def h(e, c):\n    return 1\n",
                "packages": ["six==1.16.0", "requests>=2,<3"], "description": "restart worker",
                "tags": {"team": "sre", "owner": "a=b"}})
        );
        let code_only = json!({"type": "lambda_custom_code", "runtime": "python3.13",
            "code": "def h(e, c):\n    return 1\n", "durable": true});
        assert_eq!(
            step(&["--runtime", "python3.13", "--code", path, "--durable"]),
            code_only
        );
        let mut configured = code_only.clone();
        configured["durable_config"] = json!({"execution_timeout": 3600, "retention_period_in_days": 7});
        assert_eq!(
            step(&[
                "--runtime",
                "python3.13",
                "--code",
                path,
                "--durable",
                "--execution-timeout",
                "3600",
                "--retention-days",
                "7"
            ]),
            configured
        );
    }

    #[test]
    fn one_kind_of_step_at_a_time() {
        let parsed = Wrapper::try_parse_from(["run", "--function", "f", "--saved", "s"]);
        assert!(parsed.is_err());
        assert!(Wrapper::try_parse_from(["run"]).is_err());
        assert!(
            Wrapper::try_parse_from(["run", "--runtime", "python3.12"]).is_err(),
            "--code is needed"
        );
        let undurable = [
            "run",
            "--runtime",
            "python3.13",
            "--code",
            "-",
            "--execution-timeout",
            "60",
        ];
        assert!(
            Wrapper::try_parse_from(undurable).is_err(),
            "--execution-timeout needs --durable"
        );
    }
}
