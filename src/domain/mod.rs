//! The domain: runs, their statuses and steps, parsed and validated at the edge.

pub mod access;
pub mod callback;
pub mod durable;
pub mod function_tags;
pub mod json;
pub mod packages;
pub mod replay;
pub mod run;
pub mod step;
