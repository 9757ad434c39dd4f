//! Credentials that expire (an assumed role's), kept until shortly before they do, so that
//! the SDK clients and the calls signed by hand (`durable.rs`) share one STS answer.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};

/// How long before they expire cached credentials are asked for again.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
pub struct Cached {
    inner: SharedCredentialsProvider,
    kept: Arc<tokio::sync::Mutex<Option<Credentials>>>,
}

impl Cached {
    pub fn new(inner: SharedCredentialsProvider) -> Self {
        Self {
            inner,
            kept: Default::default(),
        }
    }

    async fn get(&self) -> provider::Result {
        let mut kept = self.kept.lock().await;
        if let Some(credentials) = kept.as_ref()
            && credentials
                .expiry()
                .is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE)
        {
            return Ok(credentials.clone());
        }
        let fresh = self.inner.provide_credentials().await?;
        *kept = Some(fresh.clone());
        Ok(fresh)
    }
}

impl ProvideCredentials for Cached {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.get())
    }
}
