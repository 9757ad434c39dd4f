//! The `lambda_custom_code` step, as the sequence of its phases: `installing_packages` (or
//! found in the cache), `creating` (zip the code in memory under the file name the runtime
//! expects with the packages beside it, find the role, create a uniquely named, tagged
//! function, wait until it is Active), the Invoke (`invoking`, `returned`; see
//! `phases/invoke.rs`), and `cleaned_up` (delete it whatever happened, unless `keep_function`).
//!
//! With `durable: true` the function is created with a `DurableConfig` and, instead of the
//! Invoke, its execution (named by the run's id) is started and followed as an Invoke step
//! on a durable function is (`durable_step`). It is deleted only once that execution ended:
//! a run given back or taken over while it runs leaves the function to the attempt that
//! re-attaches, which finds it created already.

use std::io::Write;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use tracing::Instrument as _;

use super::follow::FunctionLog;
use super::packages::{self, Bundle, PackageError, Platform};
use super::phases::cleanup::{clean_up, left_to_next_attempt};
use super::phases::invoke::invoke_and_record;
use super::phases::stopped::stopped;
use super::{Ending, StepContext};
use crate::domain::run::{RunErrorCode, RunPhase};
use crate::domain::step::{CustomCodeStep, InvocationType};
use crate::lambda::at_most_once::InvokeCall;
use crate::lambda::client::LambdaTarget;
use crate::lambda::create::{CreateWaits, create_or_adopt};
use crate::lambda::durable_config::creating_durable;
use crate::lambda::log_group;
use crate::lambda::role::{ROLE_NAME, RoleError, find_or_create};
use crate::store::fault::is_transient;
use crate::store::queue;

/// The role given to endpoints that do not check roles.
const PLACEHOLDER_ROLE: &str = "arn:aws:iam::000000000000:role/lambda-steps-execution";

/// The tag saying when a function is surely abandoned (its timeout plus an hour).
pub const EXPIRES_TAG: &str = "lambda-steps:expires-at";

/// Names of functions this service creates; the sweeper only ever touches these.
pub const FUNCTION_PREFIX: &str = "lambda-steps-";

/// The version a durable step's execution runs: AWS invokes durable functions by a
/// qualified name.
const DURABLE_QUALIFIER: &str = "$LATEST";

pub async fn run(ctx: &StepContext<'_>, step: &CustomCodeStep) -> Ending {
    let name = format!("{FUNCTION_PREFIX}{}", ctx.run.id.simple());
    let (file, handler) = step.source_file_and_handler();
    let bundle = if step.packages.is_empty() {
        None
    } else {
        ctx.phases.enter(RunPhase::InstallingPackages);
        match install_packages(ctx, step).instrument(ctx.phases.span()).await {
            Ok(bundle) => Some(bundle),
            Err(ending) => return ending,
        }
    };
    ctx.phases.enter(RunPhase::Creating);
    // Packages may be tens of MB: zipped off the async threads.
    let (code, packages_zip) = (step.code.clone(), bundle.as_ref().map(|b| b.zip.clone()));
    let zipped = tokio::task::spawn_blocking(move || zip_source(file, &code, packages_zip.as_deref())).await;
    let zip = match zipped {
        Ok(Ok(zip)) => zip,
        Ok(Err(e)) => return Ending::failed(RunErrorCode::Internal, format!("zipping the code failed: {e}")),
        Err(e) => return Ending::failed(RunErrorCode::Internal, format!("zipping the code failed: {e}")),
    };
    if let Some(bundle) = &bundle
        && let Err(too_large) = packages::check_limits(zip.len() as u64, bundle.unpacked_bytes + step.code.len() as u64)
    {
        ctx.log.error(too_large.to_string());
        return Ending::failed(RunErrorCode::PackageInstallFailed, too_large.to_string());
    }
    let role = match role(ctx, step).instrument(ctx.phases.span()).await {
        Ok(role) => role,
        Err(why) => {
            ctx.log.error(format!("no execution role: {why}"));
            return Ending::failed(
                RunErrorCode::Configuration,
                format!(
                    "no execution role ({why}): set the step's role_arn or aws.lambda_role_arn, or allow iam:GetRole, iam:CreateRole and iam:AttachRolePolicy"
                ),
            );
        }
    };
    if ctx.stop.token.is_cancelled() {
        return stopped(ctx, "cancelled before the function was created");
    }
    if ctx.worker.shutdown.is_cancelled() {
        return Ending::Released;
    }
    // Before any function exists and before the Invoke is marked: a database fault here
    // sends nothing and creates nothing, so the run waits in the queue for the database.
    if let Err(e) = queue::set_function_name(&ctx.worker.db, ctx.run.id, ctx.run.attempt, &name).await {
        return if is_transient(&e) {
            Ending::Requeued(format!("the function's name could not be recorded ({e})"))
        } else {
            Ending::failed(
                RunErrorCode::DatabaseError,
                format!("could not record the function name: {e}"),
            )
        };
    }
    ctx.log.info(format!(
        "creating function {name}: {}, {file}, handler {handler}, {} MB, timeout {} s",
        step.runtime, step.memory_mb, step.timeout_seconds
    ));
    if step.durable {
        let config = step.durable_config.unwrap_or_default();
        ctx.log.info(format!(
            "as a durable function: its execution may last {} s, its history is kept {} day(s)",
            config.execution_timeout, config.retention_period_in_days
        ));
    }
    // The engine in this process learns, before the function exists, where its AWS calls
    // go and whose credentials it assumes its role with; nothing of it is in the request.
    ctx.worker.lambdas.announce_function(&name, ctx.lambda);
    let created = create(ctx, step, &name, &handler, &role, zip)
        .instrument(ctx.phases.span())
        .await;
    let ending = match created {
        Ok(arn) if step.durable => {
            let printed = FunctionLog::of(&name, arn.as_deref());
            super::durable_step::run(ctx, &name, Some(DURABLE_QUALIFIER), &step.payload, Some(printed)).await
        }
        Ok(arn) => {
            let timeout = super::lambda_invoke::call_timeout(ctx, Duration::from_secs(u64::from(step.timeout_seconds)));
            let follow = FunctionLog::of(&name, arn.as_deref());
            invoke_and_record(ctx, invoke_call(&name, step, timeout), Some(follow)).await
        }
        Err(ending) => ending,
    };
    if matches!(ctx.lambda.target, LambdaTarget::Embedded(_))
        && let Some(sdk) = missing_sdk(&ending)
    {
        ctx.log.warn(format!(
            "the embedded engine has no {sdk} for this import: `lambda-steps runtimes install` installs the AWS SDK of each runtime (scripts/start runs it); restart the service afterwards"
        ));
    }
    if step.durable && !matches!(ending, Ending::Finished { .. }) {
        // A run taken over is the new owner's to write about.
        if !matches!(ending, Ending::LeaseLost) {
            ctx.log.info(format!(
                "function {name} is kept while its durable execution may run: the attempt that re-attaches deletes it"
            ));
        }
        return ending;
    }
    if left_to_next_attempt(&ending, ctx.phases) {
        ctx.worker.lambdas.forget_function(&name);
        return ending;
    }
    ctx.phases.enter(RunPhase::CleanedUp);
    clean_up(ctx, step, &name).instrument(ctx.phases.span()).await;
    if !step.keep_function {
        ctx.worker.lambdas.forget_function(&name);
    }
    ending
}

/// The AWS SDK a function failed to import, from its error document.
fn missing_sdk(ending: &Ending) -> Option<&'static str> {
    let Ending::Finished {
        result: Some(result), ..
    } = ending
    else {
        return None;
    };
    let error = result.error.as_ref()?;
    let message = error.message.as_deref().unwrap_or_default();
    let python = [
        "No module named 'boto3'",
        "No module named 'botocore'",
        "No module named 's3transfer'",
    ];
    if message.contains("No module named 'aws_durable_execution_sdk_python'") {
        Some("durable execution SDK for Python (aws-durable-execution-sdk-python)")
    } else if python.iter().any(|m| message.contains(m)) {
        Some("boto3 (the AWS SDK for Python)")
    } else if message.contains("'@aws-sdk/") && (message.contains("Cannot find") || message.contains("not found")) {
        Some("AWS SDK for JavaScript v3 client")
    } else if message.contains("cannot load such file -- aws-sdk") {
        Some("AWS SDK for Ruby gem")
    } else {
        None
    }
}

async fn create(
    ctx: &StepContext<'_>,
    step: &CustomCodeStep,
    name: &str,
    handler: &str,
    role: &str,
    zip: Vec<u8>,
) -> Result<Option<String>, Ending> {
    // A durable function lives as long as its execution may, not one invocation.
    let lifetime = match (step.durable, step.durable_config.unwrap_or_default()) {
        (true, config) => config.execution_timeout,
        (false, _) => step.timeout_seconds,
    };
    let expires = chrono::Utc::now() + chrono::Duration::seconds(i64::from(lifetime) + 3600);
    let control = &ctx.lambda.clients.control;
    let durable_client;
    let creating = if step.durable {
        durable_client = creating_durable(control, step.durable_config.unwrap_or_default());
        &durable_client
    } else {
        control
    };
    let request = creating
        .create_function()
        .function_name(name)
        .runtime(Runtime::from(step.runtime.as_str()))
        .handler(handler)
        .role(role)
        .timeout(step.timeout_seconds as i32)
        .memory_size(step.memory_mb as i32)
        .environment(
            Environment::builder()
                .set_variables(Some(step.environment.clone().into_iter().collect()))
                .build(),
        )
        .set_description(step.description.clone())
        .set_tags(Some(step.tags.clone().into_iter().collect()))
        .tags("lambda-steps:run-id", ctx.run.id.to_string())
        .tags(EXPIRES_TAG, expires.to_rfc3339())
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build());
    let log = ctx.log.clone();
    let notice = move |line: String| log.info(line);
    let created = tokio::select! {
        // Named by the run: an earlier attempt's function is used (its durable execution,
        // if it started, re-attached to by name).
        created = create_or_adopt(&ctx.lambda.clients.control, request, CreateWaits::default(), &notice) => created,
        _ = ctx.stop.token.cancelled() => return Err(stopped(ctx, "cancelled while the function was being created")),
    };
    let arn = match created {
        Ok(arn) => arn,
        Err(error) => {
            let message = error.to_string();
            ctx.log.error(message.clone());
            return Err(Ending::failed(RunErrorCode::LambdaError, message));
        }
    };
    ctx.log.info(format!("function {name} is Active"));
    // A short retention on the function's log group (the engine keeps groups as
    // CloudWatch does); the group exists before the Invoke, so Live Tail can follow it.
    let (group, days) = (
        lambda_rules::log_group_name(name),
        ctx.worker.settings.custom_code_log_days,
    );
    let prepared = tokio::select! {
        prepared = log_group::prepare(&ctx.lambda.clients.logs, name, days) => prepared,
        // A cancel stops the run at the Invoke that comes next; no need to wait here.
        _ = ctx.stop.token.cancelled() => return Ok(arn),
    };
    match prepared {
        Ok(()) => ctx.log.info(format!("log group {group} keeps its lines {days} day(s)")),
        Err(why) => ctx.log.warn(format!(
            "could not set a retention on {group} ({why}); Lambda's default keeps its lines forever"
        )),
    }
    Ok(arn)
}

fn invoke_call(name: &str, step: &CustomCodeStep, timeout: Duration) -> InvokeCall {
    InvokeCall {
        function_name: name.to_string(),
        qualifier: None,
        invocation_type: InvocationType::RequestResponse,
        payload: step.payload.to_string().into_bytes(),
        client_context_base64: None,
        timeout,
        trace_header: None,
    }
}

/// The step's role, the settings' role, a placeholder for the embedded engine (which does
/// not check roles), or `lambda-steps-execution`, found or created once per credentials.
async fn role(ctx: &StepContext<'_>, step: &CustomCodeStep) -> Result<String, RoleError> {
    if let Some(role) = step.role_arn.clone().or_else(|| ctx.lambda.lambda_role_arn.clone()) {
        return Ok(role);
    }
    if matches!(ctx.lambda.target, LambdaTarget::Embedded(_)) {
        return Ok(PLACEHOLDER_ROLE.into());
    }
    let clients = &ctx.lambda.clients;
    clients
        .execution_role
        .get_or_try_init(|| async {
            match find_or_create(&clients.iam).await {
                Ok((arn, created)) => {
                    let verb = if created { "created" } else { "found" };
                    ctx.log.info(format!("{verb} execution role {ROLE_NAME} ({arn})"));
                    Ok(arn)
                }
                // A Lambda-only endpoint takes any role; AWS itself always serves IAM.
                Err(RoleError::NoIam) if matches!(ctx.lambda.target, LambdaTarget::Endpoint(_)) => {
                    ctx.log
                        .info("this endpoint serves no IAM; using a placeholder execution role");
                    Ok(PLACEHOLDER_ROLE.to_string())
                }
                Err(why) => Err(why),
            }
        })
        .await
        .cloned()
}

/// Installs the step's packages for where its function runs, or finds them in the cache;
/// the run's log says which and how long it took. A package that cannot be installed fails
/// the run here, before any function exists.
async fn install_packages(ctx: &StepContext<'_>, step: &CustomCodeStep) -> Result<Bundle, Ending> {
    let platform = match ctx.lambda.target {
        LambdaTarget::Embedded(_) => Platform::Engine,
        _ => Platform::Aws,
    };
    let list = step.packages.join(", ");
    ctx.log.info(format!("preparing packages for {}: {list}", step.runtime));
    let started = std::time::Instant::now();
    let installed = tokio::select! {
        installed = ctx.worker.packages.bundle(&step.runtime, platform, &step.packages) => installed,
        _ = ctx.stop.token.cancelled() => return Err(stopped(ctx, "cancelled while installing packages")),
        _ = ctx.worker.shutdown.cancelled() => return Err(Ending::Released),
    };
    let took = started.elapsed().as_secs_f64();
    match installed {
        Ok(bundle) => {
            let size = human_size(bundle.unpacked_bytes);
            let how = if bundle.cached {
                "found in the cache"
            } else {
                "installed"
            };
            ctx.log.info(format!(
                "packages {how} in {took:.1} s ({}; {size} unpacked; cache entry {})",
                bundle.target,
                &bundle.key[..12]
            ));
            Ok(bundle)
        }
        Err(why) => {
            let message = match &why {
                PackageError::Install(detail) => format!("could not install packages ({list}): {detail}"),
                PackageError::TooLarge(detail) => detail.clone(),
            };
            ctx.log.error(message.clone());
            Err(Ending::failed(RunErrorCode::PackageInstallFailed, message))
        }
    }
}

fn human_size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.0} KB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

/// A zip holding the code's one file, and the packages' files beside it.
fn zip_source(file: &str, code: &str, packages: Option<&std::path::Path>) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    writer.start_file(file, options)?;
    writer.write_all(code.as_bytes())?;
    if let Some(packages) = packages {
        writer.merge_archive(zip::ZipArchive::new(std::fs::File::open(packages)?)?)?;
    }
    Ok(writer.finish()?.into_inner())
}
