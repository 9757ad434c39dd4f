//! `durable: true` on a custom-code step: its function is created with a `DurableConfig`
//! and runs as a durable execution the run follows. AWS's durable execution SDKs are for
//! Python (3.11 and later, the SDK's own floor) and Node.js (22 and later); there is none
//! for Ruby, so a Ruby step asking for it is refused before any run exists.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::step::{InvalidField, whole_number};
use lambda_rules::Language;

/// The longest execution Lambda allows: 366 days.
pub const MAX_EXECUTION_TIMEOUT: u32 = 31_622_400;

/// `durable_config`: the created function's `DurableConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DurableConfig {
    /// How long the whole execution may last, its waits included, in seconds: 1 to
    /// 31,622,400 (366 days). Default 86,400 (one day, Lambda's own default). Each
    /// invocation of the handler is still bounded by the step's `timeout_seconds`.
    #[serde(default = "default_execution_timeout", deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 31622400)]
    pub execution_timeout: u32,
    /// How many days Lambda keeps the ended execution's history: 1 to 90. Default 1: the
    /// run's log keeps every operation, and the function is deleted after the run.
    #[serde(default = "default_retention_days", deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 90)]
    pub retention_period_in_days: u32,
}

impl Default for DurableConfig {
    fn default() -> Self {
        Self {
            execution_timeout: default_execution_timeout(),
            retention_period_in_days: default_retention_days(),
        }
    }
}

fn default_execution_timeout() -> u32 {
    86_400
}

fn default_retention_days() -> u32 {
    1
}

/// Checks `durable` and `durable_config` against the step's runtime.
pub fn check(durable: bool, config: Option<&DurableConfig>, runtime: &str) -> Result<(), InvalidField> {
    if let Some(config) = config {
        if !durable {
            return Err(InvalidField::new(
                "step.durable_config",
                "is only taken with durable: true",
            ));
        }
        if !(1..=MAX_EXECUTION_TIMEOUT).contains(&config.execution_timeout) {
            return Err(InvalidField::new(
                "step.durable_config.execution_timeout",
                "must be between 1 and 31622400 seconds (366 days)",
            ));
        }
        if !(1..=90).contains(&config.retention_period_in_days) {
            return Err(InvalidField::new(
                "step.durable_config.retention_period_in_days",
                "must be between 1 and 90",
            ));
        }
    }
    if !durable {
        return Ok(());
    }
    let refusal = match Language::of(runtime) {
        Some(Language::Ruby) => {
            "durable functions do not support Ruby: AWS's durable execution SDKs are for Python and Node.js"
        }
        Some(Language::Python) if ["python3.9", "python3.10"].contains(&runtime) => {
            "durable functions need python3.11 or later (the durable execution SDK for Python needs 3.11)"
        }
        Some(Language::Node) if ["nodejs18.x", "nodejs20.x"].contains(&runtime) => {
            "durable functions need nodejs22.x or later (the durable execution SDK for Node.js needs 22)"
        }
        _ => return Ok(()),
    };
    Err(InvalidField::new("step.durable", refusal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_and_recent_node_runtimes_may_be_durable_ruby_never() {
        assert_eq!(check(true, None, "python3.12"), Ok(()));
        assert_eq!(check(true, None, "nodejs22.x"), Ok(()));
        assert_eq!(check(false, None, "ruby3.3"), Ok(()));
        let ruby = check(true, None, "ruby3.3").unwrap_err();
        assert_eq!(ruby.field, "step.durable");
        assert!(ruby.message.contains("do not support Ruby"), "{}", ruby.message);
        assert_eq!(check(true, None, "python3.10").unwrap_err().field, "step.durable");
        assert_eq!(check(true, None, "nodejs20.x").unwrap_err().field, "step.durable");
    }

    #[test]
    fn the_config_needs_durable_and_lambdas_bounds() {
        let config = |execution_timeout, retention_period_in_days| DurableConfig {
            execution_timeout,
            retention_period_in_days,
        };
        assert_eq!(
            check(false, Some(&DurableConfig::default()), "python3.12")
                .unwrap_err()
                .field,
            "step.durable_config"
        );
        assert_eq!(
            check(true, Some(&config(MAX_EXECUTION_TIMEOUT, 90)), "python3.12"),
            Ok(())
        );
        assert_eq!(
            check(true, Some(&config(0, 1)), "python3.12").unwrap_err().field,
            "step.durable_config.execution_timeout"
        );
        assert_eq!(
            check(true, Some(&config(60, 91)), "python3.12").unwrap_err().field,
            "step.durable_config.retention_period_in_days"
        );
    }
}
