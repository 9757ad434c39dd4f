//! Lambda clients. The worker always speaks the Lambda API through aws-sdk-lambda; only
//! the endpoint and credentials differ between the embedded engine, a Lambda-compatible
//! endpoint (moto, LocalStack...) and real AWS.

use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};

/// Which Lambda the service talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LambdaTarget {
    /// The engine running inside this process, at this URL.
    Embedded(String),
    /// A Lambda-compatible endpoint.
    Endpoint(String),
    /// AWS itself, with the default credential chain.
    Aws,
}

impl LambdaTarget {
    /// What the startup line says.
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded(url) => format!("the embedded Lambda engine at {url}"),
            Self::Endpoint(url) => format!("the Lambda-compatible endpoint {url}"),
            Self::Aws => "AWS Lambda (default credential chain)".into(),
        }
    }
}

/// The two clients of one target: Invoke with SDK retries off (a retried Invoke would run
/// user code twice), and control-plane calls with the SDK's standard retries.
#[derive(Clone, Debug)]
pub struct LambdaClients {
    pub invoke: Client,
    pub control: Client,
}

impl LambdaClients {
    /// Clients for a target; with `keys` (access key id, secret key) they sign with those,
    /// else with placeholder keys for local endpoints or the default chain for AWS.
    pub async fn new(target: &LambdaTarget, region: &str, keys: Option<(&str, &str)>) -> Self {
        let base = match (target, keys) {
            (LambdaTarget::Embedded(url) | LambdaTarget::Endpoint(url), _) => aws_sdk_lambda::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(region.to_string()))
                // Local endpoints need some credentials to sign with; most do not check them.
                .credentials_provider(match keys {
                    Some((id, secret)) => Credentials::new(id, secret, None, None, "lambda-steps-project"),
                    None => Credentials::new("lambda-steps", "lambda-steps", None, None, "local"),
                })
                .endpoint_url(url),
            (LambdaTarget::Aws, Some((id, secret))) => aws_sdk_lambda::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(region.to_string()))
                .credentials_provider(Credentials::new(id, secret, None, None, "lambda-steps-project")),
            (LambdaTarget::Aws, None) => {
                let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(Region::new(region.to_string()))
                    .load()
                    .await;
                aws_sdk_lambda::config::Builder::from(&shared)
            }
        };
        let control = base
            .clone()
            .retry_config(RetryConfig::standard().with_max_attempts(4))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(60))
                    .build(),
            )
            .build();
        let invoke = base
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_timeout(Duration::from_secs(15 * 60 + 60))
                    .build(),
            )
            .build();
        Self {
            invoke: Client::from_conf(invoke),
            control: Client::from_conf(control),
        }
    }
}
