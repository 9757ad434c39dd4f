//! The ending of a step stopped from outside: by a cancel, or by its worker losing the
//! run's lease. Every phase checks it where it waits.

use crate::queue::pool::StopReason;
use crate::worker::{Ending, StepContext};

/// The ending of a step stopped from outside: by cancel, or by losing its lease.
pub fn stopped(ctx: &StepContext<'_>, when: &str) -> Ending {
    match ctx.stop.reason() {
        Some(StopReason::LeaseLost) => {
            ctx.log
                .warn("this worker lost the run's lease; another worker settles it");
            Ending::LeaseLost
        }
        _ => {
            ctx.log.warn(when.to_string());
            Ending::cancelled(when.to_string())
        }
    }
}
