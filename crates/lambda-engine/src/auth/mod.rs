//! Signed callers only: the engine's Lambda and CloudWatch Logs APIs verify AWS Signature
//! Version 4 against the engine's one access key, as AWS verifies it (any region, the
//! `lambda` and `logs` services, `X-Amz-Date` within 15 minutes), and refuse everyone else
//! with AWS's own 403s (`MissingAuthenticationTokenException`,
//! `UnrecognizedClientException`, `InvalidSignatureException`). The key is the engine's
//! alone: user code never gets it (functions get their role's temporary credentials).

mod authorization;
mod canonical;
mod key;
mod layer;
mod refusal;
mod verify;

pub use key::{EngineKey, KEY_FILE, KeySource, SecretAccessKey};
pub use layer::{lambda_callers, logs_callers};
pub use refusal::Refusal;
