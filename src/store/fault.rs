//! Database faults that pass on their own, told apart from those that will not, and the
//! backoff used to wait through the first kind.
//!
//! A transient fault is one where trying the same statement again later can succeed:
//! the connection was lost or refused (a restart, a failover, a network cut), the server
//! is shutting down or starting up, no pooled connection came free in time, or Postgres
//! chose this transaction as the victim of a serialization failure or a deadlock. Every
//! other error (a constraint, a type, a value Postgres refuses) comes back the same way
//! however often it is tried.

use std::time::Duration;

/// Whether trying the same statement again later may succeed.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| transient_sqlstate(&code)),
        _ => false,
    }
}

/// SQLSTATEs of faults that pass: connection exceptions (08), serialization failure and
/// deadlock (40001, 40P01), insufficient resources such as too many connections (53),
/// lock not available (55P03), query cancelled (57014), the server shutting down, crashed
/// or starting up (57P01 to 57P05), and a read-only transaction during a failover (25006).
fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "40001" | "40P01" | "55P03" | "57014" | "57P01" | "57P02" | "57P03" | "57P04" | "57P05" | "25006"
        )
}

/// Waits between tries of a write that must land: short at first, so a write lands
/// promptly when the database comes back, never longer than `cap`, with jitter so that
/// replicas coming back together do not retry in step.
pub struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self { next: first, cap }
    }

    /// The usual backoff of queue writes: 50 ms doubling up to one second.
    pub fn for_writes() -> Self {
        Self::new(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// The next delay, for callers that wait on something else as well.
    pub fn next_delay(&mut self) -> Duration {
        let jitter = rand::random_range(0.75..=1.0);
        let delay = self.next.mul_f64(jitter);
        self.next = (self.next * 2).min(self.cap);
        delay
    }

    /// Sleeps for the next delay; answers how long it slept.
    pub async fn wait(&mut self) -> Duration {
        let delay = self.next_delay();
        tokio::time::sleep(delay).await;
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_pass_and_broken_statements_do_not() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(is_transient(&sqlx::Error::Io(reset)));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::PoolClosed));
        for code in ["57P01", "57P03", "08006", "08001", "40001", "40P01", "53300"] {
            assert!(transient_sqlstate(code), "{code}");
        }
        for code in ["23505", "22P05", "42P01", "23503"] {
            assert!(!transient_sqlstate(code), "{code}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_backoff_doubles_up_to_its_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(300));
        let mut waited = Vec::new();
        for _ in 0..4 {
            waited.push(backoff.wait().await);
        }
        assert!(waited[0] <= Duration::from_millis(100) && waited[0] >= Duration::from_millis(75));
        assert!(waited[3] <= Duration::from_millis(300) && waited[3] >= Duration::from_millis(225));
    }
}
