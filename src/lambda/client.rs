//! Lambda clients. The worker always speaks the Lambda API through aws-sdk-lambda; only
//! the endpoint and credentials differ between the embedded engine, a Lambda-compatible
//! endpoint (moto, LocalStack...) and real AWS.

use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{Credentials, Region, SharedCredentialsProvider};

pub use super::transport::Transport;

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
    /// The URL the SDK is pointed at; None for AWS's own endpoints.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Self::Embedded(url) | Self::Endpoint(url) => Some(url),
            Self::Aws => None,
        }
    }

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
    /// IAM at the same endpoint and with the same credentials (for the execution role).
    pub iam: aws_sdk_iam::Client,
    /// CloudWatch Logs, likewise (for whole logs when the tail was cut).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// What they sign with (None: unsigned), for the calls the SDK does not have
    /// (`durable.rs`).
    pub credentials: Option<SharedCredentialsProvider>,
    /// The execution role found or created with these credentials, once known.
    pub execution_role: std::sync::Arc<tokio::sync::OnceCell<String>>,
}

impl LambdaClients {
    /// Clients for a target; with `keys` (access key id, secret key) they sign with those
    /// (the engine's own key for the embedded engine), else with placeholder keys for local
    /// endpoints or the default chain for AWS. With
    /// `assume` (role ARN, external id) those credentials assume the role through STS at
    /// the same endpoint, and the clients sign with the role's.
    pub async fn new(
        target: &LambdaTarget,
        region: &str,
        keys: Option<(&str, &str)>,
        assume: Option<(&str, Option<&str>)>,
    ) -> Self {
        let transport = Transport::network(target.endpoint());
        Self::with_transport(target, region, keys, assume, transport).await
    }

    /// The same clients over a given transport (tests pass aws-smithy-mocks' here).
    pub async fn with_transport(
        target: &LambdaTarget,
        region: &str,
        keys: Option<(&str, &str)>,
        assume: Option<(&str, Option<&str>)>,
        transport: Transport,
    ) -> Self {
        let region = Region::new(region.to_string());
        let endpoint = target.endpoint().map(str::to_string);
        let credentials = match (keys, target) {
            (Some((id, secret)), _) => Some(Credentials::new(id, secret, None, None, "lambda-steps-project")),
            // Local endpoints need some credentials to sign with; moto and LocalStack do not
            // check them (the embedded engine does, and is always given its key).
            (None, LambdaTarget::Embedded(_) | LambdaTarget::Endpoint(_)) => {
                Some(Credentials::new("lambda-steps", "lambda-steps", None, None, "local"))
            }
            (None, LambdaTarget::Aws) => None,
        };
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(region.clone())
            .http_client(transport.http.clone())
            .load()
            .await;
        let credentials = match assume {
            None => credentials.map(SharedCredentialsProvider::new),
            Some((role_arn, external_id)) => {
                let mut source = shared.clone().into_builder();
                if let Some(credentials) = &credentials {
                    source = source.credentials_provider(SharedCredentialsProvider::new(credentials.clone()));
                }
                if let Some(url) = &endpoint {
                    source = source.endpoint_url(url);
                }
                let mut provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
                    .session_name("lambda-steps")
                    .configure(&source.build());
                if let Some(external_id) = external_id {
                    provider = provider.external_id(external_id);
                }
                // Cached here, not only in the SDK's identity cache: the durable calls
                // (`durable.rs`) sign with the same role's credentials, and STS is asked once.
                Some(SharedCredentialsProvider::new(super::cached_credentials::Cached::new(
                    SharedCredentialsProvider::new(provider.build().await),
                )))
            }
        };
        let signing = credentials.clone().or_else(|| shared.credentials_provider());
        let mut base = aws_sdk_lambda::config::Builder::from(&shared);
        let mut logs = aws_sdk_cloudwatchlogs::config::Builder::from(&shared).timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        );
        let mut iam = aws_sdk_iam::config::Builder::from(&shared).timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(60))
                .build(),
        );
        if let Some(credentials) = credentials {
            base = base.credentials_provider(credentials.clone());
            logs = logs.credentials_provider(credentials.clone());
            iam = iam.credentials_provider(credentials);
        }
        if let Some(url) = endpoint {
            base = base.endpoint_url(&url);
            logs = logs.endpoint_url(&url);
            iam = iam.endpoint_url(url);
        }
        for interceptor in transport.interceptors {
            base.push_interceptor(interceptor.clone());
            logs.push_interceptor(interceptor.clone());
            iam.push_interceptor(interceptor);
        }
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
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs.build()),
            credentials: signing,
            execution_role: Default::default(),
        }
    }
}
