//! The Postgres queue: notifications, the log writer, the worker pool that claims and
//! runs, the heartbeat that keeps leases, and the rescuer of what dead workers left.
//! No axum here.

pub mod batch;
pub mod logs;
pub mod notify;
pub mod pool;
pub mod rescue;
