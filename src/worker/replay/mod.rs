//! A replay run: the original's step run again on the embedded engine of this process.
//! For an Invoke, the function that answered is built again there (its code fetched for
//! the recorded version with the project's credentials, `CodeSha256` checked, its recorded
//! configuration and its environment variables), invoked with the original payload and
//! client context, and deleted; for custom code, the step itself runs on the engine. The
//! function gets no AWS credentials unless the caller asked for its role.

mod code;
pub mod record;

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, EphemeralStorage, FunctionCode, Runtime};

use super::custom_code::{EXPIRES_TAG, FUNCTION_PREFIX};
use super::follow::FunctionLog;
use super::lambda_invoke::call_timeout;
use super::phases::cleanup::left_to_next_attempt;
use super::phases::invoke::invoke_and_record;
use super::phases::stopped::stopped;
use super::{Ending, StepContext};
use crate::domain::replay::ReplayCredentials;
use crate::domain::run::RunErrorCode;
use crate::domain::step::{InvocationType, InvokeStep, Step};
use crate::lambda::at_most_once::InvokeCall;
use crate::lambda::create::{CreateWaits, create_or_adopt};
use crate::lambda::directory::ProjectLambda;
use crate::store::fault::is_transient;
use crate::store::replays::{self, ReplayOrder};
use code::{FetchError, Wanted};

/// The role a replayed function is given when none was recorded (the engine checks none).
const PLACEHOLDER_ROLE: &str = "arn:aws:iam::000000000000:role/lambda-steps-execution";

pub async fn run(ctx: &StepContext<'_>, step: &Step) -> Ending {
    let order = match replays::order(&ctx.worker.db, ctx.run.id).await {
        Ok(Some(order)) => order,
        Ok(None) => return Ending::failed(RunErrorCode::Internal, "the replay's order is missing"),
        Err(e) if is_transient(&e) => return Ending::Requeued(format!("the replay's order could not be read ({e})")),
        Err(e) => return Ending::failed(RunErrorCode::DatabaseError, format!("reading the replay's order: {e}")),
    };
    let engine = match ctx
        .worker
        .lambdas
        .embedded_for_replay(ctx.lambda, order.credentials, order.endpoint_url.clone())
        .await
    {
        Ok(engine) => engine,
        Err(why) => {
            ctx.log.error(format!("cannot replay on the embedded engine: {why}"));
            return Ending::failed(RunErrorCode::Configuration, why.to_string());
        }
    };
    ctx.log.info(format!(
        "replaying run {} on the embedded engine ({})",
        order.replay_of,
        engine.target.describe()
    ));
    say_side_effects(ctx, &order);
    let on_engine = StepContext {
        worker: ctx.worker,
        lambda: &engine,
        run: ctx.run,
        log: ctx.log,
        phases: ctx.phases,
        stop: ctx.stop,
    };
    match step {
        Step::LambdaCustomCode(custom) => {
            // A replay's function is temporary whatever the original asked.
            let temporary = crate::domain::step::CustomCodeStep {
                keep_function: false,
                ..custom.clone()
            };
            super::custom_code::run(&on_engine, &temporary).await
        }
        Step::LambdaInvoke(invoke) => replay_invoke(ctx, &on_engine, invoke, &order).await,
    }
}

/// The log says what the replayed function's AWS calls can do.
fn say_side_effects(ctx: &StepContext<'_>, order: &ReplayOrder) {
    match order.credentials {
        ReplayCredentials::None => ctx.log.info(
            "the replayed function gets no AWS credentials (credentials: none, the default): its AWS calls fail with \"Unable to locate credentials\"; replay with credentials: \"role\" to give it its execution role",
        ),
        ReplayCredentials::Role => ctx.log.warn(
            "the replayed function gets its execution role's credentials (credentials: role): its AWS calls act on the account as the original did",
        ),
    }
    if let Some(url) = &order.endpoint_url {
        ctx.log.info(format!("its AWS calls go to {url} (AWS_ENDPOINT_URL)"));
    }
}

/// An Invoke replayed: fetch, build on the engine, invoke as the original did, delete.
async fn replay_invoke(
    project: &StepContext<'_>,
    engine: &StepContext<'_>,
    step: &InvokeStep,
    order: &ReplayOrder,
) -> Ending {
    let log = project.log;
    let reference = lambda_rules::FunctionRef::parse(&step.function_name).ok();
    let step_name = reference
        .as_ref()
        .map_or(step.function_name.clone(), |f| f.name.clone());
    let qualifier = step
        .qualifier
        .clone()
        .or_else(|| reference.as_ref().and_then(|f| f.qualifier.clone()));
    let recorded = order.recorded.as_ref();
    let name = recorded.map_or(step_name.as_str(), |r| r.name.as_str());
    let version = recorded.map_or(qualifier.as_deref().unwrap_or("$LATEST"), |r| r.version.as_str());
    match recorded {
        Some(r) => log.info(format!(
            "the run reached {name} version {version} (CodeSha256 {}, {}, handler {}, {} MB, timeout {} s, {})",
            r.code_sha256.as_deref().unwrap_or("unknown"),
            r.runtime.as_deref().unwrap_or("no runtime"),
            r.handler.as_deref().unwrap_or("none"),
            r.memory_mb.unwrap_or(128),
            r.timeout_seconds.unwrap_or(3),
            r.architecture.as_deref().unwrap_or("x86_64"),
        )),
        None => log.warn(format!(
            "nothing was recorded of the function the run reached: replaying the current code of {name}:{version}, as asked (accept_current_code)"
        )),
    }
    if recorded.is_some_and(|r| r.in_vpc) {
        log.info("the function runs in a VPC on AWS: the replay does not (the engine's own network, no VPC resources)");
    }
    let wanted = Wanted {
        name,
        version,
        code_sha256: recorded.and_then(|r| r.code_sha256.as_deref()),
        accept_current_code: order.accept_current_code,
        qualifier: qualifier.as_deref(),
    };
    let fetched = tokio::select! {
        fetched = code::fetch(project.lambda, log, &wanted) => fetched,
        _ = project.stop.token.cancelled() => return stopped(project, "cancelled while fetching the function's code"),
    };
    let fetched = match fetched {
        Ok(fetched) => fetched,
        Err(FetchError::Refused(why)) => {
            log.error(format!("replay refused: {why}"));
            return Ending::failed(RunErrorCode::ReplayRefused, why);
        }
        Err(FetchError::Failed(why)) => {
            log.error(why.clone());
            return Ending::failed(RunErrorCode::LambdaError, why);
        }
    };
    let configuration = fetched
        .function
        .configuration()
        .cloned()
        .unwrap_or_else(|| aws_sdk_lambda::types::FunctionConfiguration::builder().build());
    let layers: Vec<String> = configuration
        .layers()
        .iter()
        .filter_map(|l| l.arn().map(str::to_string))
        .collect();
    let zip = code::with_layers(project.lambda, log, fetched.zip, &layers).await;
    let temporary = format!("{FUNCTION_PREFIX}{}", project.run.id.simple());
    if let Err(e) =
        crate::store::queue::set_function_name(&project.worker.db, project.run.id, project.run.attempt, &temporary)
            .await
    {
        return if is_transient(&e) {
            Ending::Requeued(format!("the function's name could not be recorded ({e})"))
        } else {
            Ending::failed(
                RunErrorCode::DatabaseError,
                format!("could not record the function name: {e}"),
            )
        };
    }
    project.worker.lambdas.announce_function(&temporary, engine.lambda);
    let created = create(engine, &temporary, &configuration, zip).await;
    let ending = match created {
        Ok(arn) => {
            let seconds = configuration.timeout().unwrap_or(3).max(1) as u64;
            let call = InvokeCall {
                function_name: temporary.clone(),
                qualifier: None,
                invocation_type: InvocationType::RequestResponse,
                payload: step.payload.to_string().into_bytes(),
                client_context_base64: step.client_context_base64(),
                timeout: call_timeout(engine, Duration::from_secs(seconds)),
                trace_header: None,
            };
            invoke_and_record(engine, call, Some(FunctionLog::of(&temporary, arn.as_deref()))).await
        }
        Err(ending) => ending,
    };
    if !left_to_next_attempt(&ending, engine.phases) {
        delete(engine, &temporary).await;
    }
    project.worker.lambdas.forget_function(&temporary);
    ending
}

/// Creates the temporary function with the recorded configuration and the function's
/// environment variables (into the function only: never logged or stored).
async fn create(
    engine: &StepContext<'_>,
    name: &str,
    configuration: &aws_sdk_lambda::types::FunctionConfiguration,
    zip: Vec<u8>,
) -> Result<Option<String>, Ending> {
    let log = engine.log;
    let variables = configuration
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    let runtime = configuration
        .runtime()
        .map(|r| r.as_str().to_string())
        .unwrap_or_default();
    let handler = configuration.handler().unwrap_or("index.handler").to_string();
    let memory = configuration.memory_size().unwrap_or(128);
    let timeout = configuration.timeout().unwrap_or(3);
    let architecture = configuration
        .architectures()
        .first()
        .map(|a| a.as_str().to_string())
        .unwrap_or_else(|| "x86_64".into());
    let host = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    };
    log.info(format!(
        "creating function {name} on the engine: {runtime}, handler {handler}, {memory} MB, timeout {timeout} s, {architecture}; {} environment variable(s) carried over (values not shown)",
        variables.len()
    ));
    if architecture != host {
        log.warn(format!(
            "the function was built for {architecture}; the engine runs it on this host's {host}: native code in the package may not load"
        ));
    }
    let expires = chrono::Utc::now() + chrono::Duration::seconds(i64::from(timeout) + 3600);
    let request = engine
        .lambda
        .clients
        .control
        .create_function()
        .function_name(name)
        .runtime(Runtime::from(runtime.as_str()))
        .handler(handler)
        .role(configuration.role().unwrap_or(PLACEHOLDER_ROLE))
        .timeout(timeout)
        .memory_size(memory)
        .architectures(Architecture::from(architecture.as_str()))
        .set_ephemeral_storage(
            configuration
                .ephemeral_storage()
                .and_then(|e| EphemeralStorage::builder().size(e.size()).build().ok()),
        )
        .environment(Environment::builder().set_variables(Some(variables)).build())
        .tags("lambda-steps:run-id", engine.run.id.to_string())
        .tags(EXPIRES_TAG, expires.to_rfc3339())
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build());
    let notice_log = log.clone();
    let notice = move |line: String| notice_log.info(line);
    let created = tokio::select! {
        // Named by the run: an earlier attempt's temporary function is used.
        created = create_or_adopt(&engine.lambda.clients.control, request, CreateWaits::default(), &notice) => created,
        _ = engine.stop.token.cancelled() => return Err(stopped(engine, "cancelled while the function was being created")),
    };
    match created {
        Ok(arn) => {
            let days = engine.worker.settings.custom_code_log_days;
            if let Err(why) = crate::lambda::log_group::prepare(&engine.lambda.clients.logs, name, days).await {
                log.warn(format!("could not prepare the function's log group ({why})"));
            }
            log.info(format!("function {name} is Active"));
            Ok(arn)
        }
        Err(message) => {
            // The engine's message names the field at fault, never a variable's value.
            let message = message.to_string();
            log.error(message.clone());
            Err(Ending::failed(RunErrorCode::LambdaError, message))
        }
    }
}

/// Deletes the temporary function; the sweeper deletes it when this fails.
async fn delete(engine: &StepContext<'_>, name: &str) {
    let lambda: &ProjectLambda = engine.lambda;
    match lambda
        .clients
        .control
        .delete_function()
        .function_name(name)
        .send()
        .await
    {
        Ok(_) => engine.log.info(format!("deleted function {name}")),
        Err(e) => engine.log.warn(format!(
            "could not delete function {name} ({}); the sweeper will",
            aws_sdk_lambda::error::DisplayErrorContext(&e)
        )),
    }
}
