//! Real AWS's shapes: credentials (assumed roles, the default chain), CloudWatch whole logs,
//! the book's IAM policy, and the runner against moto.

mod assume_role;
mod default_chain;
mod framework_settings;
mod full_logs;
mod function_credentials;
pub mod iam_policy;
pub mod moto;
