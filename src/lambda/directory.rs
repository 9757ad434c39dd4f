//! The Lambda a run's project uses: its settings resolved (project over framework over
//! default), its secret key opened from key storage in memory, and clients built once per
//! distinct endpoint, region and credentials. Resolutions are kept a few seconds, and
//! dropped at once when this replica changes settings or keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest;

use super::client::{LambdaClients, LambdaTarget};
use crate::key_storage::MasterKey;
use crate::settings::{Framework, resolve};
use crate::store;

const KEEP: Duration = Duration::from_secs(5);

/// Why a project's Lambda could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The settings or keys could not be read: the database is away, which passes.
    #[error("{what}: {source}")]
    Database {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The settings name something that is not there or cannot be used: it will not pass
    /// until someone changes a setting or a key. The message names the setting or key.
    #[error("{0}")]
    Configuration(String),
}

impl DirectoryError {
    fn reading(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { what, source }
    }
}

/// What a run needs to talk to its project's Lambda.
pub struct ProjectLambda {
    pub clients: LambdaClients,
    pub target: LambdaTarget,
    pub lambda_role_arn: Option<String>,
}

pub struct LambdaDirectory {
    framework: Framework,
    embedded_url: Option<String>,
    projects: Mutex<HashMap<String, (Instant, Arc<ProjectLambda>)>>,
    clients: tokio::sync::Mutex<HashMap<Vec<u8>, LambdaClients>>,
}

impl LambdaDirectory {
    pub fn new(framework: Framework, embedded_url: Option<String>) -> Self {
        Self {
            framework,
            embedded_url,
            projects: Mutex::default(),
            clients: tokio::sync::Mutex::default(),
        }
    }

    pub fn framework(&self) -> &Framework {
        &self.framework
    }

    /// Forgets resolutions after a settings or key change.
    pub fn forget(&self) {
        self.projects.lock().expect("directory lock").clear();
    }

    /// The Lambda of a project; the error says which setting or key is wrong (never a
    /// value), or that the database could not be read.
    pub async fn for_project(
        &self,
        db: &sqlx::PgPool,
        master_key: &MasterKey,
        project: &str,
    ) -> Result<Arc<ProjectLambda>, DirectoryError> {
        if let Some((at, lambda)) = self.projects.lock().expect("directory lock").get(project)
            && at.elapsed() < KEEP
        {
            return Ok(lambda.clone());
        }
        let stored = store::settings::of_project(db, project)
            .await
            .map_err(DirectoryError::reading("reading settings"))?;
        let resolved = resolve(&self.framework, &stored);
        let value = |name: &str| resolved[&format!("project.aws.{name}")].value.clone();
        let endpoint = value("endpoint_url").unwrap_or_else(|| "embedded".into());
        let target = match endpoint.as_str() {
            "embedded" => LambdaTarget::Embedded(self.embedded_url.clone().ok_or_else(|| {
                DirectoryError::Configuration(
                    "aws.endpoint_url is embedded for this project, but this service does not run the embedded engine (its framework endpoint is not embedded)".into(),
                )
            })?),
            "aws" => LambdaTarget::Aws,
            url => LambdaTarget::Endpoint(url.to_string()),
        };
        let region = value("region").unwrap_or_else(|| "us-east-1".into());
        let keys = match (value("access_key"), value("secret_key_path")) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(DirectoryError::Configuration(
                    "aws.access_key is set but aws.secret_key_path is not".into(),
                ));
            }
            (Some(id), Some(path)) => {
                let configuration = DirectoryError::Configuration;
                let sealed = store::keys::sealed(db, &path)
                    .await
                    .map_err(DirectoryError::reading("reading key storage"))?
                    .ok_or_else(|| {
                        configuration(format!("aws.secret_key_path names {path}, which is not in key storage"))
                    })?;
                let secret = master_key
                    .open(&sealed)
                    .map_err(|e| configuration(format!("aws.secret_key_path {path}: {e}")))?;
                let secret = String::from_utf8(secret)
                    .map_err(|_| configuration(format!("aws.secret_key_path {path}: the key is not text")))?;
                Some((id, secret.trim().to_string()))
            }
        };
        let cache_key = {
            let mut digest = sha2::Sha256::new();
            for part in [endpoint.as_str(), region.as_str()] {
                digest.update(part.as_bytes());
                digest.update([0]);
            }
            if let Some((id, secret)) = &keys {
                digest.update(id.as_bytes());
                digest.update([0]);
                digest.update(secret.as_bytes());
            }
            for part in [value("assume_role_arn"), value("external_id")].into_iter().flatten() {
                digest.update([1]);
                digest.update(part.as_bytes());
            }
            digest.finalize().to_vec()
        };
        let clients = {
            let mut cache = self.clients.lock().await;
            match cache.get(&cache_key) {
                Some(clients) => clients.clone(),
                None => {
                    let keys = keys.as_ref().map(|(id, secret)| (id.as_str(), secret.as_str()));
                    let (role, external_id) = (value("assume_role_arn"), value("external_id"));
                    let assume = role.as_deref().map(|role| (role, external_id.as_deref()));
                    let clients = LambdaClients::new(&target, &region, keys, assume).await;
                    cache.insert(cache_key, clients.clone());
                    clients
                }
            }
        };
        let lambda = Arc::new(ProjectLambda {
            clients,
            target,
            lambda_role_arn: value("lambda_role_arn"),
        });
        self.projects
            .lock()
            .expect("directory lock")
            .insert(project.to_string(), (Instant::now(), lambda.clone()));
        Ok(lambda)
    }
}
