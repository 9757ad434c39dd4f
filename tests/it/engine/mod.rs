//! The embedded engine over HTTP: its Lambda API, its CloudWatch Logs API, who may call them,
//! limits, user code's network, each runtime, and conformance with AWS's own runtime interface client.

mod api;
mod conformance;
mod containment;
mod durable;
mod escape;
mod limits;
mod live_tail;
mod logs;
mod network;
mod node;
mod python;
mod ruby;
mod sdk;
mod signatures;
