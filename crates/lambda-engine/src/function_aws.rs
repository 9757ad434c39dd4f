//! What user code on the embedded engine gets for its own AWS calls: an endpoint
//! (`AWS_ENDPOINT_URL`) and temporary credentials of its execution role. The worker, in the
//! same process, says per function where those come from before it creates the function;
//! functions it did not announce (created through the engine's Lambda API) get the
//! engine's default, from the framework settings. The long-term keys stay inside the
//! issuer, in this process's memory: the engine only ever sees temporary credentials, and
//! nothing is written to the function's configuration, so GetFunction cannot show them.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

/// Temporary credentials of a role, as STS gives them.
#[derive(Clone)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The future an issuer answers with.
pub type Issued<'a> = Pin<Box<dyn Future<Output = Result<Option<RoleCredentials>, String>> + Send + 'a>>;

/// Gives a function its execution role's credentials: `Ok(None)` when there are no
/// credentials to assume it with; an error says why the role could not be assumed.
pub trait CredentialIssuer: Send + Sync {
    fn issue<'a>(&'a self, role_arn: &'a str, session_name: &'a str) -> Issued<'a>;
}

/// What one function's environments get.
#[derive(Clone, Default)]
pub struct FunctionAws {
    /// `AWS_ENDPOINT_URL`, when user code's calls go somewhere other than AWS.
    pub endpoint_url: Option<String>,
    /// None: the function gets no credentials (`function_credentials = none`).
    pub issuer: Option<Arc<dyn CredentialIssuer>>,
}

impl std::fmt::Debug for FunctionAws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionAws")
            .field("endpoint_url", &self.endpoint_url)
            .field("credentials", &self.issuer.is_some())
            .finish()
    }
}

/// Per function, what it gets; shared by the worker (which announces) and the engine.
#[derive(Clone, Default)]
pub struct FunctionAwsDirectory(Arc<Inner>);

#[derive(Default)]
struct Inner {
    default: Mutex<FunctionAws>,
    by_function: Mutex<HashMap<String, FunctionAws>>,
}

impl FunctionAwsDirectory {
    /// What functions nobody announced get.
    pub fn set_default(&self, aws: FunctionAws) {
        *self.0.default.lock() = aws;
    }

    /// Announces a function before it is created.
    pub fn announce(&self, function: &str, aws: FunctionAws) {
        self.0.by_function.lock().insert(function.to_string(), aws);
    }

    /// Forgets a function once it is deleted.
    pub fn forget(&self, function: &str) {
        self.0.by_function.lock().remove(function);
    }

    /// What a function's environments get.
    pub fn of(&self, function: &str) -> FunctionAws {
        if let Some(aws) = self.0.by_function.lock().get(function) {
            return aws.clone();
        }
        self.0.default.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The directory is read by every environment the engine starts: a panic in one
    /// caller while it holds the lock must not make every later caller panic too.
    #[test]
    fn a_panic_under_the_lock_does_not_take_later_callers_down() {
        let directory = FunctionAwsDirectory::default();
        let endpoint = |url: &str| FunctionAws {
            endpoint_url: Some(url.into()),
            issuer: None,
        };
        directory.announce("f", endpoint("http://before"));
        let held = directory.clone();
        let crashed = std::thread::spawn(move || {
            let _guard = held.0.by_function.lock();
            panic!("a bug while the lock is held");
        })
        .join();
        assert!(crashed.is_err());
        assert_eq!(directory.of("f").endpoint_url.as_deref(), Some("http://before"));
        directory.announce("g", endpoint("http://after"));
        assert_eq!(directory.of("g").endpoint_url.as_deref(), Some("http://after"));
    }
}
