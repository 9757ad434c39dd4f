//! The phases both step kinds share, in a room of their own: each step kind
//! (`lambda_invoke.rs`, `custom_code.rs`) is one sequence of its phases, and what they have
//! in common is here: the [`Phases`] clock that moves a run from one phase to the next, the
//! Invoke that every step ends with ([`invoke`]), the function's whole log read after it
//! ([`log_fetch`]), a custom-code function's cleanup ([`cleanup`]), and the ending of a step
//! stopped from outside ([`stopped`]).

pub mod cleanup;
pub mod invoke;
pub mod log_fetch;
pub mod stopped;

use std::time::Instant;

use crate::domain::run::RunPhase;
use crate::queue::logs::RunLog;

/// Where a run is: its log's lines carry the phase, each phase is a span of the run's
/// trace and a sample of the phase-duration histogram.
pub struct Phases {
    log: RunLog,
    run_span: tracing::Span,
    step_type: &'static str,
    current: parking_lot::Mutex<Current>,
}

struct Current {
    phase: RunPhase,
    since: Instant,
    span: tracing::Span,
}

impl Phases {
    /// A claimed run: its first phase is `claimed`.
    pub fn claimed(log: RunLog, run_span: tracing::Span, step_type: &'static str) -> Self {
        log.set_phase(RunPhase::Claimed);
        let span = crate::telemetry::spans::phase(&run_span, RunPhase::Claimed);
        Self {
            log,
            run_span,
            step_type,
            current: parking_lot::Mutex::new(Current {
                phase: RunPhase::Claimed,
                since: Instant::now(),
                span,
            }),
        }
    }

    /// The run moves to `phase`: the one it was in ends (its span and its duration).
    pub fn enter(&self, phase: RunPhase) {
        let mut current = self.current.lock();
        if current.phase == phase {
            return;
        }
        crate::metrics::phase_took(
            current.phase.as_str(),
            self.step_type,
            current.since.elapsed().as_secs_f64(),
        );
        self.log.set_phase(phase);
        // The finished phase has no span: the run's own span ends with it.
        let span = if phase == RunPhase::Finished {
            tracing::Span::none()
        } else {
            crate::telemetry::spans::phase(&self.run_span, phase)
        };
        *current = Current {
            phase,
            since: Instant::now(),
            span,
        };
    }

    /// Whether the run has reached the Invoke (`invoking` or later): from then on the
    /// Invoke may have gone out and the run is never attempted again.
    pub fn invoke_sent(&self) -> bool {
        matches!(
            self.current.lock().phase,
            RunPhase::Invoking | RunPhase::Returned | RunPhase::CleanedUp | RunPhase::Finished
        )
    }

    /// The current phase's span, parent of what happens in it (the Invoke, the log fetch).
    pub fn span(&self) -> tracing::Span {
        self.current.lock().span.clone()
    }
}
