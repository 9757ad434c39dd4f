//! The `lambda_custom_code` step: zip the code in memory under the file name the runtime
//! expects, create a uniquely named, tagged function, wait until it is Active, invoke it,
//! and delete it afterwards whatever happened (unless `keep_function`).

use std::io::Write;
use std::time::Duration;

use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime, State};

use super::invoke::{invoke_and_record, stopped};
use super::{Ending, StepContext};
use crate::domain::step::CustomCodeStep;
use crate::lambda::client::LambdaTarget;
use crate::lambda::invoke::InvokeCall;
use crate::store::queue;

/// Names of functions this service creates; the sweeper only ever touches these.
pub const FUNCTION_PREFIX: &str = "lambda-steps-";

pub async fn run(ctx: &StepContext<'_>, step: &CustomCodeStep) -> Ending {
    let name = format!("{FUNCTION_PREFIX}{}", ctx.run.id.simple());
    let (file, handler) = step.source_file_and_handler();
    let zip = match zip_source(file, &step.code) {
        Ok(zip) => zip,
        Err(e) => return Ending::failed("internal", format!("zipping the code failed: {e}")),
    };
    let Some(role) = role(ctx, step) else {
        return Ending::failed(
            "configuration",
            "no execution role: set the step's role_arn or aws.lambda_role_arn (LAMBDA_STEPS_AWS_LAMBDA_ROLE_ARN)",
        );
    };
    if ctx.stop.token.is_cancelled() {
        return stopped(ctx, "cancelled before the function was created");
    }
    if ctx.app.shutdown.is_cancelled() {
        return Ending::Released;
    }
    if let Err(e) = queue::set_function_name(&ctx.app.db, ctx.run.id, ctx.run.attempt, &name).await {
        return Ending::failed("database_error", format!("could not record the function name: {e}"));
    }
    ctx.log.info(format!(
        "creating function {name}: {}, {file}, handler {handler}, {} MB, timeout {} s",
        step.runtime, step.memory_mb, step.timeout_seconds
    ));
    let created = create(ctx, step, &name, &handler, &role, zip).await;
    let ending = match created {
        Ok(()) => {
            let timeout = super::invoke::call_timeout(ctx, Duration::from_secs(u64::from(step.timeout_seconds)));
            invoke_and_record(ctx, &invoke_call(&name, step, timeout)).await
        }
        Err(ending) => ending,
    };
    clean_up(ctx, step, &name).await;
    ending
}

async fn create(
    ctx: &StepContext<'_>,
    step: &CustomCodeStep,
    name: &str,
    handler: &str,
    role: &str,
    zip: Vec<u8>,
) -> Result<(), Ending> {
    let expires = chrono::Utc::now() + chrono::Duration::seconds(i64::from(step.timeout_seconds) + 3600);
    let request = ctx
        .app
        .lambda
        .control
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
        .tags("lambda-steps:run-id", ctx.run.id.to_string())
        .tags("lambda-steps:expires-at", expires.to_rfc3339())
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build());
    let created = tokio::select! {
        created = request.send() => created,
        _ = ctx.stop.token.cancelled() => return Err(stopped(ctx, "cancelled while the function was being created")),
    };
    let created = created.map_err(|e| {
        let message = aws_sdk_lambda::error::DisplayErrorContext(&e).to_string();
        ctx.log.error(format!("CreateFunction failed: {message}"));
        Ending::failed("lambda_error", format!("CreateFunction failed: {message}"))
    })?;
    if created.state() != Some(&State::Active) {
        ctx.log.info(format!("waiting for {name} to become Active"));
        let waiter = ctx
            .app
            .lambda
            .control
            .wait_until_function_active_v2()
            .function_name(name);
        let waited = tokio::select! {
            waited = waiter.wait(Duration::from_secs(300)) => waited,
            _ = ctx.stop.token.cancelled() => return Err(stopped(ctx, "cancelled while the function was being created")),
        };
        if let Err(e) = waited {
            let message = aws_sdk_lambda::error::DisplayErrorContext(&e).to_string();
            ctx.log.error(format!("{name} did not become Active: {message}"));
            return Err(Ending::failed(
                "lambda_error",
                format!("the function did not become Active: {message}"),
            ));
        }
    }
    ctx.log.info(format!("function {name} is Active"));
    Ok(())
}

fn invoke_call(name: &str, step: &CustomCodeStep, timeout: Duration) -> InvokeCall {
    InvokeCall {
        function_name: name.to_string(),
        qualifier: None,
        invocation_type: "RequestResponse",
        payload: step.payload.to_string().into_bytes(),
        client_context_base64: None,
        timeout,
    }
}

/// Deletes the function unless asked to keep it; on failure the sweeper tries again.
async fn clean_up(ctx: &StepContext<'_>, step: &CustomCodeStep, name: &str) {
    if step.keep_function {
        ctx.log.info(format!("kept function {name} as asked (keep_function)"));
        return;
    }
    match ctx
        .app
        .lambda
        .control
        .delete_function()
        .function_name(name)
        .send()
        .await
    {
        Ok(_) => ctx.log.info(format!("deleted function {name}")),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => ctx.log.warn(format!(
            "could not delete function {name} ({}); the sweeper will",
            aws_sdk_lambda::error::DisplayErrorContext(&e)
        )),
    }
}

fn role(ctx: &StepContext<'_>, step: &CustomCodeStep) -> Option<String> {
    step.role_arn
        .clone()
        .or_else(|| ctx.lambda.lambda_role_arn.clone())
        .or_else(|| match ctx.lambda.target {
            // Local endpoints accept any role; AWS needs a real one.
            LambdaTarget::Aws => None,
            _ => Some("arn:aws:iam::000000000000:role/lambda-steps-execution".into()),
        })
}

/// A zip holding one file.
fn zip_source(file: &str, code: &str) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    writer.start_file(file, options)?;
    writer.write_all(code.as_bytes())?;
    Ok(writer.finish()?.into_inner())
}
