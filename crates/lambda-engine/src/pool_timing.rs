//! How long a function's invocations and cold starts take, to choose between waiting for
//! a busy environment and starting a new one.
//!
//! AWS starts a new execution environment whenever none is idle, because each one has CPU
//! of its own. On the engine every environment shares the host's few cores, so a burst of
//! short invocations that cold-starts an environment each pays a runtime start (tens of
//! milliseconds of CPU for Python) where a warm environment would have been free within a
//! millisecond. So when an invocation finds none idle while others are busy, it waits for
//! one of them, but only while the function's invocations are shorter than its cold
//! starts, and never longer than a cold start takes: its latency stays within what a cold
//! start would have cost it, and a slow function (a 2 s sleep) still scales out at once.

use std::time::Duration;

/// Weight of the newest sample in the moving averages.
const WEIGHT: f64 = 0.2;

/// Moving averages of one function version's invocations and cold starts.
#[derive(Debug, Default)]
pub struct PoolTiming {
    invocation: Option<f64>,
    cold_start: Option<f64>,
}

impl PoolTiming {
    /// Notes one invocation's duration and, for a cold start, its init phase.
    pub fn note(&mut self, invocation: Duration, cold_start: Option<Duration>) {
        average(&mut self.invocation, invocation);
        if let Some(cold_start) = cold_start {
            average(&mut self.cold_start, cold_start);
        }
    }

    /// How long an invocation that found no idle environment should wait for a busy one
    /// before starting its own: None when starting one is as quick (or nothing is known).
    pub fn warm_wait(&self) -> Option<Duration> {
        let (invocation, cold_start) = (self.invocation?, self.cold_start?);
        (invocation < cold_start).then(|| Duration::from_secs_f64(cold_start))
    }
}

fn average(into: &mut Option<f64>, sample: Duration) {
    let sample = sample.as_secs_f64();
    *into = Some(into.map_or(sample, |mean| mean + WEIGHT * (sample - mean)));
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn nothing_known_means_no_wait() {
        let mut timing = PoolTiming::default();
        assert_eq!(timing.warm_wait(), None);
        timing.note(MS, None);
        assert_eq!(timing.warm_wait(), None, "no cold start seen yet");
    }

    #[test]
    fn short_invocations_wait_at_most_a_cold_start() {
        let mut timing = PoolTiming::default();
        timing.note(2 * MS, Some(80 * MS));
        for _ in 0..20 {
            timing.note(MS, None);
        }
        let wait = timing
            .warm_wait()
            .expect("a 1 ms function waits for a warm environment");
        assert_eq!(wait, 80 * MS);
    }

    #[test]
    fn invocations_longer_than_a_cold_start_scale_out_at_once() {
        let mut timing = PoolTiming::default();
        timing.note(2000 * MS, Some(80 * MS));
        timing.note(2000 * MS, None);
        assert_eq!(timing.warm_wait(), None);
    }
}
