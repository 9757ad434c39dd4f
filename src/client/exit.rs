//! The exit status of the client commands: for `run` and `logs --follow` it is the run's
//! outcome, so a shell, a CI job or an orchestrator tells success from failure without
//! reading the output (the bug this prevents: a failed Lambda step reported green).

use std::process::ExitCode;

/// What a client command's exit status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: the run succeeded (or, for `runs`, `cancel`, `logs`, the command did what it said).
    Succeeded,
    /// 1: the run failed: the function raised, Lambda refused the call, ...
    Failed,
    /// 2: the command line is wrong (clap's own usage status; also an unreadable `--code` file).
    Usage,
    /// 3: the function ran past its timeout.
    TimedOut,
    /// 4: the run was cancelled.
    Cancelled,
    /// 5: the Invoke may or may not have run: the run failed with `outcome_unknown`.
    OutcomeUnknown,
    /// 6: the service refused the request, rejected the token, or could not be reached.
    Refused,
    /// 130: Ctrl-C (or SIGTERM) stopped the following; the run goes on.
    Interrupted,
}

/// The exit statuses, for `--help` and the book (docs/src/guide/cli.md).
pub const HELP: &str = "\
Exit status (of `run`, and of `logs --follow`):
  0  the run succeeded
  1  the run failed (the function raised, Lambda refused the call, ...)
  2  usage error (a wrong flag, an unreadable file)
  3  the function timed out
  4  the run was cancelled
  5  outcome unknown (the Invoke may or may not have run; it is never sent twice)
  6  the service refused the request (its message and the field it names are printed),
     rejected the token, or could not be reached
  130  interrupted: Ctrl-C stopped following; the run goes on (see --cancel-on-interrupt)";

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Self::Succeeded => 0,
            Self::Failed => 1,
            Self::Usage => 2,
            Self::TimedOut => 3,
            Self::Cancelled => 4,
            Self::OutcomeUnknown => 5,
            Self::Refused => 6,
            Self::Interrupted => 130,
        }
    }

    /// The outcome of a finished run from its `status` and `error.code`; `None` while it
    /// is queued or running (or has a status this client does not know).
    pub fn of_run(status: &str, error_code: Option<&str>) -> Option<Self> {
        use crate::domain::run::{RunErrorCode, RunStatus};
        Some(match RunStatus::parse(status)? {
            RunStatus::Succeeded => Self::Succeeded,
            RunStatus::Failed if error_code == Some(RunErrorCode::OutcomeUnknown.as_str()) => Self::OutcomeUnknown,
            RunStatus::Failed => Self::Failed,
            RunStatus::TimedOut => Self::TimedOut,
            RunStatus::Cancelled => Self::Cancelled,
            RunStatus::Queued | RunStatus::Running => return None,
        })
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn each_finished_status_has_its_own_exit_status() {
        let cases = [
            ("succeeded", None, 0),
            ("failed", Some("function_error"), 1),
            ("failed", Some("lambda_error"), 1),
            ("timed_out", Some("timed_out"), 3),
            ("cancelled", Some("cancelled"), 4),
            ("failed", Some("outcome_unknown"), 5),
        ];
        for (status, code, exit) in cases {
            assert_eq!(Outcome::of_run(status, code).map(Outcome::code), Some(exit), "{status}");
        }
        assert_eq!(Outcome::of_run("running", None), None);
        assert_eq!(Outcome::of_run("queued", None), None);
        assert_eq!(Outcome::Refused.code(), 6);
    }
}
