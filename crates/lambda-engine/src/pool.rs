//! Execution environments per function version: warm ones are reused (the most recently
//! used first, so the warmest stays warm), at most a configured number run at once, idle
//! ones are reaped, and a short invocation waits for a busy one rather than cold-start
//! (see pool_timing.rs).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::environment::ExecutionEnvironment;
use super::pool_timing::PoolTiming;

/// The environments of one function version.
pub struct Pool {
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<ExecutionEnvironment>>,
    /// Kill switches of the environments serving an invocation right now.
    busy: Mutex<HashMap<u64, super::environment::KillSwitch>>,
    retired: AtomicBool,
    /// Signalled when an environment goes back to `idle`.
    released: Notify,
    timing: Mutex<PoolTiming>,
}

impl Pool {
    fn take_idle(&self, timeout: Duration) -> Option<ExecutionEnvironment> {
        let mut idle = self.idle.lock();
        std::iter::from_fn(|| idle.pop()).find(|e| e.is_alive() && e.fresh_for(timeout))
    }

    /// An environment another invocation gives back within `wait`, if one does.
    async fn wait_for_idle(&self, timeout: Duration, wait: Duration) -> Option<ExecutionEnvironment> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before looking, so a release in between is not missed.
            released.as_mut().enable();
            if let Some(environment) = self.take_idle(timeout) {
                return Some(environment);
            }
            if self.busy.lock().is_empty() || tokio::time::timeout_at(deadline, released).await.is_err() {
                return None;
            }
        }
    }
}

/// An environment slot held by one invocation; the environment goes back to its pool
/// (or is killed) when the invocation is done.
pub struct Lease {
    pool: Arc<Pool>,
    id: u64,
    environment: Option<ExecutionEnvironment>,
    _permit: OwnedSemaphorePermit,
}

static LEASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn environment_kill(environment: &Option<ExecutionEnvironment>) {
    if let Some(environment) = environment {
        environment.kill();
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.busy.lock().remove(&self.id);
    }
}

impl Lease {
    pub fn environment(&self) -> Option<&ExecutionEnvironment> {
        self.environment.as_ref()
    }

    /// Puts a freshly started environment in this lease.
    pub fn hold(&mut self, environment: ExecutionEnvironment) {
        self.pool.busy.lock().insert(self.id, environment.kill_switch());
        self.environment = Some(environment);
        // Retired while it was starting: it must not run.
        if self.pool.retired.load(Ordering::Acquire) {
            environment_kill(&self.environment);
        }
    }

    /// Notes how long this lease's invocation took and, for a cold start, its init phase.
    pub fn note_timing(&self, invocation: Duration, cold_start: Option<Duration>) {
        self.pool.timing.lock().note(invocation, cold_start);
    }

    /// Returns a healthy environment for reuse; anything else is dropped, which kills it.
    pub fn release(mut self, reusable: bool) {
        self.pool.busy.lock().remove(&self.id);
        if let Some(environment) = self.environment.take()
            && reusable
            && environment.is_alive()
            && !self.pool.retired.load(Ordering::Acquire)
        {
            self.pool.idle.lock().push(environment);
            self.pool.released.notify_one();
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
    /// one is idle whose credentials outlast `timeout` (an older one is retired), or is
    /// given back soon enough to beat a cold start; waits up to `queue_timeout` when every
    /// slot is taken, then gives up (None).
    pub async fn acquire(
        &self,
        function: &str,
        version: &str,
        timeout: Duration,
        queue_timeout: Duration,
    ) -> Option<Lease> {
        let pool = self
            .pools
            .lock()
            .entry((function.to_string(), version.to_string()))
            .or_insert_with(|| {
                Arc::new(Pool {
                    permits: Arc::new(Semaphore::new(self.per_function)),
                    idle: Mutex::new(Vec::new()),
                    busy: Mutex::new(HashMap::new()),
                    retired: AtomicBool::new(false),
                    released: Notify::new(),
                    timing: Mutex::new(PoolTiming::default()),
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
        let mut environment = pool.take_idle(timeout);
        if environment.is_none() {
            let warm_wait = pool.timing.lock().warm_wait();
            if let Some(wait) = warm_wait {
                environment = pool.wait_for_idle(timeout, wait).await;
            }
        }
        let id = LEASES.fetch_add(1, Ordering::Relaxed);
        if let Some(environment) = &environment {
            pool.busy.lock().insert(id, environment.kill_switch());
        }
        Some(Lease {
            pool,
            id,
            environment,
            _permit: permit,
        })
    }

    /// Stops the environments of a function (all versions, or one), idle and busy: a
    /// deleted or changed function's code must not go on running. A busy one's
    /// invocation ends as a runtime exit.
    pub fn retire(&self, function: &str, version: Option<&str>) {
        let retired: Vec<Arc<Pool>> = {
            let mut pools = self.pools.lock();
            let keys: Vec<_> = pools
                .keys()
                .filter(|(f, v)| f == function && version.is_none_or(|version| v == version))
                .cloned()
                .collect();
            keys.iter().filter_map(|k| pools.remove(k)).collect()
        };
        for pool in retired {
            retire(&pool);
        }
    }

    /// Kills every idle environment unused for `idle_timeout`.
    pub fn reap(&self, idle_timeout: Duration) -> usize {
        let pools: Vec<Arc<Pool>> = self.pools.lock().values().cloned().collect();
        let mut reaped = 0;
        for pool in pools {
            let mut idle = pool.idle.lock();
            let before = idle.len();
            idle.retain(|e| e.is_alive() && e.idle_for() < idle_timeout && e.fresh_for(Duration::ZERO));
            reaped += before - idle.len();
        }
        reaped
    }

    /// Kills every environment.
    pub fn retire_all(&self) {
        let pools: Vec<Arc<Pool>> = self.pools.lock().drain().map(|(_, p)| p).collect();
        for pool in pools {
            retire(&pool);
        }
    }

    /// Idle environments across all pools.
    pub fn idle_count(&self) -> usize {
        let pools = self.pools.lock();
        pools.values().map(|p| p.idle.lock().len()).sum()
    }
}

fn retire(pool: &Pool) {
    pool.retired.store(true, Ordering::Release);
    pool.idle.lock().clear();
    for kill in pool.busy.lock().values() {
        kill.kill();
    }
}
