//! Execution environments per function version: warm ones are reused (the most recently
//! used first, so the warmest stays warm), at most a configured number run at once, and
//! idle ones are reaped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::environment::ExecutionEnvironment;

/// The environments of one function version.
pub struct Pool {
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<ExecutionEnvironment>>,
    retired: AtomicBool,
}

/// An environment slot held by one invocation; the environment goes back to its pool
/// (or is killed) when the invocation is done.
pub struct Lease {
    pool: Arc<Pool>,
    pub environment: Option<ExecutionEnvironment>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    /// Returns a healthy environment for reuse; anything else is dropped, which kills it.
    pub fn release(mut self, reusable: bool) {
        if let Some(environment) = self.environment.take()
            && reusable
            && environment.is_alive()
            && !self.pool.retired.load(Ordering::Acquire)
        {
            self.pool.idle.lock().expect("pool lock").push(environment);
        }
    }
}

/// All pools, by function name and version.
pub struct Pools {
    pools: Mutex<HashMap<(String, String), Arc<Pool>>>,
    per_function: usize,
}

impl Pools {
    pub fn new(per_function: usize) -> Self {
        Self {
            pools: Mutex::new(HashMap::new()),
            per_function: per_function.max(1),
        }
    }

    /// A slot for one invocation of `function`/`version`, with a warm environment when
    /// one is idle; waits up to `queue_timeout` when all are busy, then gives up (None).
    pub async fn acquire(&self, function: &str, version: &str, queue_timeout: Duration) -> Option<Lease> {
        let pool = self
            .pools
            .lock()
            .expect("pools lock")
            .entry((function.to_string(), version.to_string()))
            .or_insert_with(|| {
                Arc::new(Pool {
                    permits: Arc::new(Semaphore::new(self.per_function)),
                    idle: Mutex::new(Vec::new()),
                    retired: AtomicBool::new(false),
                })
            })
            .clone();
        let permit = match pool.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout(queue_timeout, pool.permits.clone().acquire_owned())
                .await
                .ok()?
                .ok()?,
        };
        let environment = {
            let mut idle = pool.idle.lock().expect("pool lock");
            std::iter::from_fn(|| idle.pop()).find(ExecutionEnvironment::is_alive)
        };
        Some(Lease {
            pool,
            environment,
            _permit: permit,
        })
    }

    /// Stops reusing the environments of a function (all versions, or one): idle ones are
    /// killed now, busy ones when their invocation ends.
    pub fn retire(&self, function: &str, version: Option<&str>) {
        let retired: Vec<Arc<Pool>> = {
            let mut pools = self.pools.lock().expect("pools lock");
            let keys: Vec<_> = pools
                .keys()
                .filter(|(f, v)| f == function && version.is_none_or(|version| v == version))
                .cloned()
                .collect();
            keys.iter().filter_map(|k| pools.remove(k)).collect()
        };
        for pool in retired {
            pool.retired.store(true, Ordering::Release);
            pool.idle.lock().expect("pool lock").clear();
        }
    }

    /// Kills every idle environment unused for `idle_timeout`.
    pub fn reap(&self, idle_timeout: Duration) -> usize {
        let pools: Vec<Arc<Pool>> = self.pools.lock().expect("pools lock").values().cloned().collect();
        let mut reaped = 0;
        for pool in pools {
            let mut idle = pool.idle.lock().expect("pool lock");
            let before = idle.len();
            idle.retain(|e| e.is_alive() && e.idle_for() < idle_timeout);
            reaped += before - idle.len();
        }
        reaped
    }

    /// Kills every environment: idle ones now, busy ones as they finish.
    pub fn retire_all(&self) {
        let pools: Vec<Arc<Pool>> = self.pools.lock().expect("pools lock").drain().map(|(_, p)| p).collect();
        for pool in pools {
            pool.retired.store(true, Ordering::Release);
            pool.idle.lock().expect("pool lock").clear();
        }
    }

    /// Idle environments across all pools.
    pub fn idle_count(&self) -> usize {
        let pools = self.pools.lock().expect("pools lock");
        pools.values().map(|p| p.idle.lock().expect("pool lock").len()).sum()
    }
}
