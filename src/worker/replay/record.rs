//! Recording, at the time of an Invoke, what a replay needs of the function: the version
//! that answered and its configuration as Lambda reported it.
//!
//! Cost: nothing more in the common case. The worker reads GetFunctionConfiguration before
//! every synchronous Invoke anyway (for its timeout, remembered a minute per function and
//! qualifier), and that answer describes the version the qualifier names. Only when the
//! version that answered differs from it (an alias moved within the minute) is the
//! configuration of that version read, once per published version for the life of the
//! process: a published version never changes.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;

use crate::domain::replay::RecordedFunction;
use crate::worker::{Ending, StepContext};

/// Published versions' configurations: (project, function, version) to what was recorded.
#[derive(Default)]
pub struct RecordedVersions(Mutex<HashMap<(String, String, String), RecordedFunction>>);

/// Past this many entries the cache starts again (a bound, not a policy).
const MOST_VERSIONS: usize = 10_000;

impl RecordedVersions {
    fn get(&self, key: &(String, String, String)) -> Option<RecordedFunction> {
        self.0.lock().get(key).cloned()
    }

    fn put(&self, key: (String, String, String), function: RecordedFunction) {
        let mut versions = self.0.lock();
        if versions.len() >= MOST_VERSIONS {
            versions.clear();
        }
        versions.insert(key, function);
    }
}

/// A function's configuration as a replay records it. `asked` is the name the step gave
/// (used when Lambda's answer has none).
pub fn described(asked: &str, config: &GetFunctionConfigurationOutput) -> RecordedFunction {
    let name = config.function_name().map(str::to_string).unwrap_or_else(|| {
        lambda_rules::FunctionRef::parse(asked)
            .map(|f| f.name)
            .unwrap_or_else(|_| asked.to_string())
    });
    RecordedFunction {
        name,
        version: config.version().unwrap_or("$LATEST").to_string(),
        code_sha256: config.code_sha256().map(str::to_string),
        package_type: config.package_type().map(|p| p.as_str().to_string()),
        runtime: config.runtime().map(|r| r.as_str().to_string()),
        handler: config.handler().map(str::to_string),
        memory_mb: config.memory_size(),
        timeout_seconds: config.timeout(),
        architecture: config.architectures().first().map(|a| a.as_str().to_string()),
        ephemeral_storage_mb: config.ephemeral_storage().map(|e| e.size()),
        role: config.role().map(str::to_string),
        layers: config
            .layers()
            .iter()
            .filter_map(|l| l.arn().map(str::to_string))
            .collect(),
        in_vpc: config.vpc_config().is_some_and(|v| !v.subnet_ids().is_empty()),
    }
}

/// Puts the function that answered into the run's result: the configuration read before
/// the Invoke when it describes the executed version, else that version's own.
pub async fn attach(ctx: &StepContext<'_>, before: Option<RecordedFunction>, mut ending: Ending) -> Ending {
    let Ending::Finished {
        result: Some(result), ..
    } = &mut ending
    else {
        return ending;
    };
    let (Some(before), Some(executed)) = (before, result.executed_version.clone()) else {
        return ending;
    };
    if before.version == executed {
        result.function = Some(before);
        return ending;
    }
    if executed == "$LATEST" {
        // $LATEST changes under its name: only the answer read before the Invoke could say
        // what it was, and it described another version.
        return ending;
    }
    let key = (ctx.run.project.clone(), before.name.clone(), executed.clone());
    if let Some(recorded) = ctx.worker.recorded_versions.get(&key) {
        result.function = Some(recorded);
        return ending;
    }
    let asked = ctx
        .lambda
        .clients
        .control
        .get_function_configuration()
        .function_name(&before.name)
        .qualifier(&executed)
        .send();
    if let Ok(Ok(config)) = tokio::time::timeout(Duration::from_secs(10), asked).await {
        let recorded = described(&before.name, &config);
        ctx.worker.recorded_versions.put(key, recorded.clone());
        result.function = Some(recorded);
    }
    ending
}
