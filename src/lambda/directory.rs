//! The Lambda a run's project uses: its settings resolved (project over framework over
//! default), its secret key opened from key storage in memory, and clients built once per
//! `ClientKey` (endpoint, region and credentials). Resolutions are kept a few seconds, and
//! dropped at once when this replica changes settings or keys.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{LambdaClients, LambdaTarget, Transport};
use super::function_credentials::StsIssuer;
use crate::aws_settings::{Endpoint, Framework, FunctionCredentials, ResolvedAws, resolve_project};
use crate::key_storage::MasterKey;
use crate::store;
use lambda_engine::LocalLogs;
use lambda_engine::function_aws::{FunctionAws, FunctionAwsDirectory};

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
    /// Which set of clients these are: projects with the same key share them.
    pub client_key: ClientKey,
    pub target: LambdaTarget,
    pub lambda_role_arn: Option<String>,
    /// What user code gets for its own AWS calls, on the embedded engine of this process.
    pub function_aws: Option<FunctionAws>,
    /// The embedded engine's logs, read in process, when the target is the engine of this
    /// process.
    pub local_logs: Option<LocalLogs>,
}

/// The embedded engine's handles, when it runs in this process.
#[derive(Clone)]
pub struct InProcessEngine {
    /// Its per-function AWS directory.
    pub functions: FunctionAwsDirectory,
    /// Its CloudWatch Logs, for reading a request's lines back without an HTTP round trip.
    pub logs: LocalLogs,
    /// Its Lambda and CloudWatch Logs APIs, which the clients call with no socket.
    pub router: axum::Router,
}

/// What tells one set of Lambda clients from another: where they call, and as whom.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// As the settings say.
    pub endpoint: Endpoint,
    pub region: String,
    /// Access key id and secret, when the settings give keys (else the default chain).
    keys: Option<(String, String)>,
    pub assume_role_arn: Option<String>,
    pub external_id: Option<String>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.keys.as_ref().map(|(id, _)| id))
            .field("assume_role_arn", &self.assume_role_arn)
            .field("external_id", &self.external_id)
            .finish()
    }
}

impl ClientKey {
    /// The key of a project's settings, with the keys they name opened.
    fn of(aws: &ResolvedAws, keys: Option<(String, String)>) -> Self {
        Self {
            endpoint: aws.endpoint.clone(),
            region: aws.region.clone(),
            keys,
            assume_role_arn: aws.assume_role_arn.clone(),
            external_id: aws.external_id.clone(),
        }
    }
}

/// The credentials an issuer assumes roles with, and the STS endpoint it calls.
type IssuerKey = (ClientKey, Option<String>);

pub struct LambdaDirectory {
    framework: Framework,
    embedded_url: Option<String>,
    /// The embedded engine, when it runs in this process.
    in_process: Option<InProcessEngine>,
    /// The engine's access key (id, secret): the in-process engine's, or the one the engine
    /// settings name for an engine elsewhere (`lambda-local`).
    engine_keys: Option<(String, String)>,
    projects: Mutex<HashMap<String, (Instant, Arc<ProjectLambda>)>>,
    clients: tokio::sync::Mutex<HashMap<ClientKey, LambdaClients>>,
    /// Issuers of execution-role credentials, by credentials and STS endpoint.
    issuers: tokio::sync::Mutex<HashMap<IssuerKey, Arc<StsIssuer>>>,
}

impl LambdaDirectory {
    pub fn new(
        framework: Framework,
        embedded_url: Option<String>,
        in_process: Option<InProcessEngine>,
        engine_keys: Option<(String, String)>,
    ) -> Self {
        Self {
            framework,
            embedded_url,
            in_process,
            engine_keys,
            projects: Mutex::default(),
            clients: tokio::sync::Mutex::default(),
            issuers: tokio::sync::Mutex::default(),
        }
    }

    /// Tells the embedded engine what a function about to be created gets (its project's
    /// endpoint and role credentials); nothing for other targets.
    pub fn announce_function(&self, name: &str, lambda: &ProjectLambda) {
        if let (Some(functions), Some(aws)) = (self.functions(), &lambda.function_aws) {
            functions.announce(name, aws.clone());
        }
    }

    fn functions(&self) -> Option<&FunctionAwsDirectory> {
        self.in_process.as_ref().map(|e| &e.functions)
    }

    /// The in-process engine's logs, for a target that is that engine.
    fn local_logs(&self, target: &LambdaTarget) -> Option<LocalLogs> {
        match target {
            LambdaTarget::Embedded(_) => self.in_process.as_ref().map(|e| e.logs.clone()),
            _ => None,
        }
    }

    /// Forgets a deleted function.
    pub fn forget_function(&self, name: &str) {
        if let Some(functions) = self.functions() {
            functions.forget(name);
        }
    }

    /// Gives functions created through the engine's own Lambda API (not by a run) what the
    /// framework settings say.
    pub async fn set_engine_default(&self, db: &sqlx::PgPool, master_key: &MasterKey) -> Result<(), DirectoryError> {
        let Some(functions) = self.functions() else {
            return Ok(());
        };
        let aws = self.framework.aws();
        let client_key = ClientKey::of(aws, open_keys(db, master_key, aws).await?);
        let function_aws = self
            .function_aws_of(&client_key, aws.function_endpoint_url.clone(), aws.function_credentials)
            .await?;
        functions.set_default(function_aws);
        Ok(())
    }

    /// What user code gets: `function_endpoint_url`, and an issuer of role credentials
    /// unless `function_credentials` is `none`.
    async fn function_aws_of(
        &self,
        key: &ClientKey,
        endpoint_url: Option<String>,
        credentials: FunctionCredentials,
    ) -> Result<FunctionAws, DirectoryError> {
        let issuer = match credentials {
            FunctionCredentials::None => None,
            FunctionCredentials::Role => {
                let mut issuers = self.issuers.lock().await;
                let issuer = match issuers.get(&(key.clone(), endpoint_url.clone())) {
                    Some(issuer) => issuer.clone(),
                    None => {
                        let keys = key.keys.as_ref().map(|(id, secret)| (id.as_str(), secret.as_str()));
                        let issuer = Arc::new(StsIssuer::new(&key.region, keys, endpoint_url.as_deref()).await);
                        issuers.insert((key.clone(), endpoint_url.clone()), issuer.clone());
                        issuer
                    }
                };
                Some(issuer as Arc<dyn lambda_engine::function_aws::CredentialIssuer>)
            }
        };
        Ok(FunctionAws { endpoint_url, issuer })
    }

    /// Whether this process runs the embedded engine (replays need it).
    pub fn runs_embedded_engine(&self) -> bool {
        self.embedded_url.is_some()
    }

    /// The embedded engine of this process, as a replay of one of `project`'s runs uses it:
    /// the engine's own clients, and for the replayed function `credentials` (its execution
    /// role assumed with the project's credentials, or none) and `endpoint_url` for its AWS
    /// calls.
    pub async fn embedded_for_replay(
        &self,
        project: &ProjectLambda,
        credentials: crate::domain::replay::ReplayCredentials,
        endpoint_url: Option<String>,
    ) -> Result<ProjectLambda, DirectoryError> {
        let target = self.target_of(&Endpoint::Embedded)?;
        let engine_key = ClientKey {
            endpoint: Endpoint::Embedded,
            region: project.client_key.region.clone(),
            keys: None,
            assume_role_arn: None,
            external_id: None,
        };
        let credentials = match credentials {
            crate::domain::replay::ReplayCredentials::Role => FunctionCredentials::Role,
            crate::domain::replay::ReplayCredentials::None => FunctionCredentials::None,
        };
        let function_aws = self
            .function_aws_of(&project.client_key, endpoint_url, credentials)
            .await?;
        Ok(ProjectLambda {
            clients: self.clients_for(&engine_key, &target).await,
            client_key: engine_key,
            // A replayed custom-code step assumes the role the project gives custom code.
            lambda_role_arn: project.lambda_role_arn.clone(),
            function_aws: Some(function_aws),
            local_logs: self.local_logs(&target),
            target,
        })
    }

    /// The embedded engine's clients and their key, when this process runs it: the sweeper
    /// passes over the engine even when no project's runs go there, since replays create
    /// their temporary functions on it.
    pub async fn embedded_clients(&self) -> Option<(ClientKey, LambdaClients)> {
        let target = self.target_of(&Endpoint::Embedded).ok()?;
        let key = ClientKey {
            endpoint: Endpoint::Embedded,
            region: "us-east-1".into(),
            keys: None,
            assume_role_arn: None,
            external_id: None,
        };
        let clients = self.clients_for(&key, &target).await;
        Some((key, clients))
    }

    pub fn framework(&self) -> &Framework {
        &self.framework
    }

    /// Forgets resolutions after a settings or key change.
    pub fn forget(&self) {
        self.projects.lock().clear();
    }

    /// The Lambda of a project; the error says which setting or key is wrong (never a
    /// value), or that the database could not be read.
    pub async fn for_project(
        &self,
        db: &sqlx::PgPool,
        master_key: &MasterKey,
        project: &str,
    ) -> Result<Arc<ProjectLambda>, DirectoryError> {
        if let Some(lambda) = self.recent(project) {
            return Ok(lambda);
        }
        let stored = store::settings::of_project(db, project)
            .await
            .map_err(DirectoryError::reading("reading settings"))?;
        let aws =
            resolve_project(&self.framework, &stored).map_err(|e| DirectoryError::Configuration(e.to_string()))?;
        let target = self.target_of(&aws.endpoint)?;
        let client_key = ClientKey::of(&aws, open_keys(db, master_key, &aws).await?);
        let function_aws = match target {
            LambdaTarget::Embedded(_) if self.in_process.is_some() => Some(
                self.function_aws_of(&client_key, aws.function_endpoint_url.clone(), aws.function_credentials)
                    .await?,
            ),
            _ => None,
        };
        let lambda = Arc::new(ProjectLambda {
            clients: self.clients_for(&client_key, &target).await,
            client_key,
            local_logs: self.local_logs(&target),
            target,
            lambda_role_arn: aws.lambda_role_arn,
            function_aws,
        });
        self.projects
            .lock()
            .insert(project.to_string(), (Instant::now(), lambda.clone()));
        Ok(lambda)
    }

    /// The project's resolution, if made within `KEEP`.
    fn recent(&self, project: &str) -> Option<Arc<ProjectLambda>> {
        let projects = self.projects.lock();
        let (at, lambda) = projects.get(project)?;
        (at.elapsed() < KEEP).then(|| lambda.clone())
    }

    /// Where an `aws.endpoint_url` setting points.
    fn target_of(&self, endpoint: &Endpoint) -> Result<LambdaTarget, DirectoryError> {
        Ok(match endpoint {
            Endpoint::Embedded => LambdaTarget::Embedded(self.embedded_url.clone().ok_or_else(|| {
                DirectoryError::Configuration(
                    "aws.endpoint_url is embedded for this project, but this service does not run the embedded engine (its framework endpoint is not embedded)".into(),
                )
            })?),
            Endpoint::Aws => LambdaTarget::Aws,
            Endpoint::Url(url) => LambdaTarget::Endpoint(url.clone()),
        })
    }

    /// The clients of a key, built the first time it is seen.
    async fn clients_for(&self, key: &ClientKey, target: &LambdaTarget) -> LambdaClients {
        let mut cache = self.clients.lock().await;
        if let Some(clients) = cache.get(key) {
            return clients.clone();
        }
        let assume = key
            .assume_role_arn
            .as_deref()
            .map(|role| (role, key.external_id.as_deref()));
        let engine_keys = self.engine_keys.as_ref().map(as_strs);
        let project_keys = key.keys.as_ref().map(as_strs);
        let (keys, assume) = match target {
            // The engine answers only its own key; a project's keys and role are for what
            // its functions call (`function_aws_of`), never for the engine.
            LambdaTarget::Embedded(_) => (engine_keys, None),
            // An engine elsewhere, or any endpoint with no keys set.
            LambdaTarget::Endpoint(_) if project_keys.is_none() && engine_keys.is_some() => (engine_keys, assume),
            _ => (project_keys, assume),
        };
        let clients = match (target, &self.in_process) {
            (LambdaTarget::Embedded(_), Some(engine)) => {
                let transport = Transport::in_process(engine.router.clone());
                LambdaClients::with_transport(target, &key.region, keys, assume, transport).await
            }
            _ => LambdaClients::new(target, &key.region, keys, assume).await,
        };
        cache.insert(key.clone(), clients.clone());
        clients
    }
}

/// A key pair as the clients take it.
fn as_strs((id, secret): &(String, String)) -> (&str, &str) {
    (id.as_str(), secret.as_str())
}

/// The access key id and its secret, opened from key storage: none when no access key is
/// set (the default credential chain is used).
async fn open_keys(
    db: &sqlx::PgPool,
    master_key: &MasterKey,
    aws: &ResolvedAws,
) -> Result<Option<(String, String)>, DirectoryError> {
    let (id, path) = match (aws.access_key.clone(), aws.secret_key_path.clone()) {
        (None, _) => return Ok(None),
        (Some(_), None) => {
            return Err(DirectoryError::Configuration(
                "aws.access_key is set but aws.secret_key_path is not".into(),
            ));
        }
        (Some(id), Some(path)) => (id, path),
    };
    let configuration = DirectoryError::Configuration;
    let sealed = store::keys::sealed(db, &path)
        .await
        .map_err(DirectoryError::reading("reading key storage"))?
        .ok_or_else(|| configuration(format!("aws.secret_key_path names {path}, which is not in key storage")))?;
    let secret = master_key
        .open(&sealed)
        .map_err(|e| configuration(format!("aws.secret_key_path {path}: {e}")))?;
    let secret = String::from_utf8(secret)
        .map_err(|_| configuration(format!("aws.secret_key_path {path}: the key is not text")))?;
    Ok(Some((id, secret.trim().to_string())))
}
