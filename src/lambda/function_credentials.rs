//! The execution role's credentials for user code on the embedded engine: the project's
//! credentials (its keys from key storage, else the AWS default chain) call STS AssumeRole
//! for the function's role, at `function_endpoint_url` when set, else at AWS. Only the
//! role's temporary credentials leave this file; the keys stay in this process's memory.

use std::time::{Duration, SystemTime};

use aws_sdk_sts::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_sts::error::DisplayErrorContext;

use crate::aws_settings::{Framework, FunctionCredentials};
use lambda_engine::function_aws::{CredentialIssuer, FunctionAws, Issued, RoleCredentials};

/// How long the role's credentials last (STS's default); environments are retired before.
const SESSION_SECONDS: i32 = 3600;

/// How long finding credentials in the default chain may take before there are none.
const CHAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Assumes execution roles with one set of credentials.
pub struct StsIssuer {
    sts: aws_sdk_sts::Client,
    /// What signs the AssumeRole calls: the keys, or the default chain (maybe nothing).
    credentials: Option<SharedCredentialsProvider>,
    /// Whether there are any credentials to assume with: found once.
    has_credentials: tokio::sync::OnceCell<bool>,
}

impl StsIssuer {
    /// An issuer signing with `keys` (access key id, secret), or with the default chain
    /// when none, calling STS at `endpoint` (else AWS's).
    pub async fn new(region: &str, keys: Option<(&str, &str)>, endpoint: Option<&str>) -> Self {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .load()
            .await;
        let mut config = aws_sdk_sts::config::Builder::from(&shared).timeout_config(
            aws_sdk_sts::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(20))
                .build(),
        );
        let credentials = match keys {
            Some((id, secret)) => Some(SharedCredentialsProvider::new(Credentials::new(
                id,
                secret,
                None,
                None,
                "lambda-steps-project",
            ))),
            None => shared.credentials_provider(),
        };
        if let Some(credentials) = &credentials {
            config = config.credentials_provider(credentials.clone());
        }
        if let Some(url) = endpoint {
            config = config.endpoint_url(url);
        }
        Self {
            sts: aws_sdk_sts::Client::from_conf(config.build()),
            credentials,
            has_credentials: tokio::sync::OnceCell::new(),
        }
    }

    /// Whether any credentials can be found (the default chain may have none).
    async fn has_credentials(&self) -> bool {
        *self
            .has_credentials
            .get_or_init(|| async {
                let Some(provider) = &self.credentials else {
                    return false;
                };
                let found = tokio::time::timeout(CHAIN_TIMEOUT, async {
                    use aws_sdk_sts::config::ProvideCredentials as _;
                    provider.provide_credentials().await
                })
                .await;
                let found = matches!(found, Ok(Ok(_)));
                if !found {
                    tracing::info!(
                        "no AWS credentials for user code's execution roles (no access key set and none in the default chain): functions get none"
                    );
                }
                found
            })
            .await
    }
}

impl CredentialIssuer for StsIssuer {
    fn issue<'a>(&'a self, role_arn: &'a str, session_name: &'a str) -> Issued<'a> {
        Box::pin(async move {
            if !self.has_credentials().await {
                return Ok(None);
            }
            let assumed = self
                .sts
                .assume_role()
                .role_arn(role_arn)
                .role_session_name(session_name)
                .duration_seconds(SESSION_SECONDS)
                .send()
                .await
                .map_err(|e| DisplayErrorContext(&e).to_string())?;
            let credentials = assumed
                .credentials()
                .ok_or_else(|| "STS answered AssumeRole without credentials".to_string())?;
            let expires_at = SystemTime::try_from(*credentials.expiration())
                .unwrap_or_else(|_| SystemTime::now() + Duration::from_secs(15 * 60));
            Ok(Some(RoleCredentials {
                access_key_id: credentials.access_key_id().to_string(),
                secret_access_key: credentials.secret_access_key().to_string(),
                session_token: credentials.session_token().to_string(),
                expires_at,
            }))
        })
    }
}

/// What functions of `lambda-local` (the engine without the service, so without key
/// storage) get: the framework's function settings, role credentials from the default chain.
pub async fn engine_alone(framework: &Framework) -> FunctionAws {
    let aws = framework.aws();
    let endpoint_url = aws.function_endpoint_url.clone();
    let issuer = match aws.function_credentials {
        FunctionCredentials::Role => {
            let issuer = StsIssuer::new(&aws.region, None, endpoint_url.as_deref()).await;
            Some(std::sync::Arc::new(issuer) as std::sync::Arc<dyn CredentialIssuer>)
        }
        FunctionCredentials::None => None,
    };
    FunctionAws { endpoint_url, issuer }
}
