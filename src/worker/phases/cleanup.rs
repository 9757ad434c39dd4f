//! The `cleaned_up` phase of a custom-code step: its function deleted (unless the step
//! keeps it), whatever happened before; what cannot be deleted now, the sweeper deletes.

use crate::domain::step::CustomCodeStep;
use crate::worker::phases::Phases;
use crate::worker::{Ending, StepContext};

/// Whether the run's next attempt owns the function now: this one lost its lease before the
/// Invoke went out, so the run will run again and use the function named by it (deleting it
/// here would fail that attempt's Invoke). After the Invoke, the run is never run again.
pub fn left_to_next_attempt(ending: &Ending, phases: &Phases) -> bool {
    matches!(ending, Ending::LeaseLost) && !phases.invoke_sent()
}

/// Deletes the function unless asked to keep it; on failure the sweeper tries again.
pub async fn clean_up(ctx: &StepContext<'_>, step: &CustomCodeStep, name: &str) {
    if step.keep_function {
        ctx.log.info(format!("kept function {name} as asked (keep_function)"));
        return;
    }
    match ctx
        .lambda
        .clients
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
