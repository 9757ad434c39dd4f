//! Talking to Lambda: clients per target, the at-most-once Invoke, and turning Lambda's
//! answer (payload, function error, log tail) into a run's result and log.

pub mod at_most_once;
pub mod aws_error;
mod cached_credentials;
pub mod client;
pub mod create;
pub mod directory;
pub mod durable;
pub mod durable_config;
pub mod full_log;
pub mod function_credentials;
mod in_process;
pub mod log_group;
pub mod log_source;
#[cfg(test)]
mod mock;
pub mod outcome;
pub mod role;
pub mod transport;
