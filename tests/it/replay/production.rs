//! An AWS-like "production" Lambda for replay tests: the Lambda REST paths a replay needs
//! (GetFunction, GetFunctionConfiguration, ListVersionsByFunction, Invoke), with the code
//! served at `Code.Location` as S3 serves a presigned URL (refused without its signature).
//! moto cannot stand in here: its `Code.Location` is not downloadable and its Invoke runs
//! no code without Docker. Invoke is delegated to a second engine standing in for AWS's
//! fleet: each deployment of a function is a function of its own there, so `$LATEST` can
//! move while published versions keep their code, as on AWS.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_lambda::primitives::Blob;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest;

use crate::support::{TestEngine, zip};

/// The signature a code URL must carry; anything else is S3's 403.
const SIGNATURE: &str = "9f1c0ffee";
const ACCOUNT: &str = "123456789012";

pub struct Production {
    pub url: String,
    state: Arc<Fleet>,
    /// Runs the functions' code.
    pub backend: TestEngine,
}

struct Fleet {
    base: Mutex<String>,
    backend: aws_sdk_lambda::Client,
    /// Function name to its versions (`$LATEST`, `1`, ...).
    functions: Mutex<HashMap<String, BTreeMap<String, Deployed>>>,
    /// Code by its download token.
    code: Mutex<HashMap<String, Vec<u8>>>,
    /// Deployments so far (each one's function on the backend is named after it).
    deployments: Mutex<u32>,
    /// Code downloads served.
    downloads: std::sync::atomic::AtomicUsize,
    /// Layer version ARN to its download token and `CodeSha256`.
    layers: Mutex<HashMap<String, (String, String)>>,
    /// Layer version ARN to its files.
    layer_files: Mutex<HashMap<String, Vec<(String, String)>>>,
}

#[derive(Clone)]
struct Deployed {
    configuration: Value,
    /// The function on the backend engine that runs this version's code.
    backend_name: String,
    token: String,
}

/// What a deployment is made of.
pub struct Deployment<'a> {
    /// Layer version ARNs (published with `publish_layer`).
    pub layers: &'a [&'a str],
    pub runtime: &'a str,
    pub handler: &'a str,
    pub files: &'a [(&'a str, &'a str)],
    pub environment: &'a [(&'a str, &'a str)],
    pub timeout: i32,
    pub memory: i32,
}

impl Production {
    pub async fn start(work: &std::path::Path) -> Self {
        let backend = TestEngine::start(&work.join("production-engine"), &[]).await;
        let state = Arc::new(Fleet {
            base: Mutex::new(String::new()),
            backend: backend.client.clone(),
            functions: Mutex::default(),
            code: Mutex::default(),
            deployments: Mutex::new(0),
            downloads: Default::default(),
            layers: Mutex::default(),
            layer_files: Mutex::default(),
        });
        let router = axum::Router::new()
            .route("/2015-03-31/functions/{name}", axum::routing::get(get_function))
            .route(
                "/2015-03-31/functions/{name}/configuration",
                axum::routing::get(get_configuration),
            )
            .route(
                "/2015-03-31/functions/{name}/versions",
                axum::routing::get(list_versions),
            )
            .route("/2015-03-31/functions/{name}/invocations", axum::routing::post(invoke))
            .route("/2018-10-31/layers", axum::routing::get(get_layer_version_by_arn))
            .route("/code/{token}", axum::routing::get(download))
            .with_state(state.clone());
        let url = crate::support::fake_endpoint(router).await;
        *state.base.lock() = url.clone();
        Self { url, state, backend }
    }

    /// Deploys `$LATEST` of `name` (a new function, or new code for an existing one).
    pub async fn deploy(&self, name: &str, deployment: Deployment<'_>) {
        let bytes = zip(deployment.files);
        // The backend engine runs no layers: the function it runs gets the layers' Python
        // files beside its code, where Lambda's /opt/python puts them on the path.
        let mut backend_files: Vec<(String, String)> = deployment
            .files
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect();
        for arn in deployment.layers {
            let files = self.state.layer_files.lock()[*arn].clone();
            backend_files.extend(
                files
                    .into_iter()
                    .map(|(n, c)| (n.trim_start_matches("python/").to_string(), c)),
            );
        }
        let backend_files: Vec<(&str, &str)> = backend_files.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
        let backend_bytes = zip(&backend_files);
        let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
        let n = {
            let mut count = self.state.deployments.lock();
            *count += 1;
            *count
        };
        let backend_name = format!("{name}-deploy-{n}");
        let variables: HashMap<String, String> = deployment
            .environment
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        crate::support::create_request(
            &self.state.backend,
            &backend_name,
            deployment.runtime,
            deployment.handler,
            backend_bytes,
        )
        .timeout(deployment.timeout)
        .memory_size(deployment.memory)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(variables.clone()))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("deploy {name}: {:?}", e.into_service_error()));
        let token = format!("{name}-{n}-{}", uuid::Uuid::new_v4().simple());
        self.state.code.lock().insert(token.clone(), bytes.clone());
        let configuration = json!({
            "FunctionName": name,
            "FunctionArn": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"),
            "Runtime": deployment.runtime,
            "Role": format!("arn:aws:iam::{ACCOUNT}:role/{name}-role"),
            "Handler": deployment.handler,
            "CodeSize": bytes.len(),
            "Timeout": deployment.timeout,
            "MemorySize": deployment.memory,
            "CodeSha256": sha,
            "Version": "$LATEST",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "Environment": {"Variables": variables},
            "Layers": deployment.layers.iter().map(|arn| json!({"Arn": arn, "CodeSize": 100})).collect::<Vec<_>>(),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "LastModified": "2026-12-07T00:00:00.000+0000",
        });
        self.state.functions.lock().entry(name.to_string()).or_default().insert(
            "$LATEST".into(),
            Deployed {
                configuration,
                backend_name,
                token,
            },
        );
    }

    /// Publishes a layer version of `files` (paths as in the layer's zip: `python/...`);
    /// answers its ARN.
    pub fn publish_layer(&self, name: &str, files: &[(&str, &str)]) -> String {
        let bytes = zip(files);
        let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
        let arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}:1");
        let token = format!("layer-{name}-{}", uuid::Uuid::new_v4().simple());
        self.state.code.lock().insert(token.clone(), bytes);
        self.state.layers.lock().insert(arn.clone(), (token, sha));
        let owned = files.iter().map(|(n, c)| (n.to_string(), c.to_string())).collect();
        self.state.layer_files.lock().insert(arn.clone(), owned);
        arn
    }

    /// Publishes `$LATEST` of `name` as the next version; answers its number.
    pub fn publish(&self, name: &str) -> String {
        let mut functions = self.state.functions.lock();
        let versions = functions.get_mut(name).expect("a deployed function");
        let number = (versions.len()).to_string();
        let mut published = versions["$LATEST"].clone();
        published.configuration["Version"] = json!(number);
        published.configuration["FunctionArn"] =
            json!(format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}:{number}"));
        versions.insert(number.clone(), published);
        number
    }

    /// Deletes a published version.
    pub fn delete_version(&self, name: &str, version: &str) {
        self.state.functions.lock().get_mut(name).unwrap().remove(version);
    }

    /// Turns a function into a container image as far as GetFunction and
    /// GetFunctionConfiguration tell.
    pub fn make_image(&self, name: &str) {
        for deployed in self.state.functions.lock().get_mut(name).unwrap().values_mut() {
            deployed.configuration["PackageType"] = json!("Image");
        }
    }

    /// How many times any code URL was downloaded.
    pub fn downloads(&self) -> usize {
        self.state.downloads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[derive(serde::Deserialize)]
struct Qualified {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [("x-amzn-errortype", "ResourceNotFoundException")],
        axum::Json(json!({"Type": "User", "Message": format!("Function not found: {what}")})),
    )
        .into_response()
}

fn find(fleet: &Fleet, name: &str, qualifier: Option<&str>) -> Option<Deployed> {
    let qualifier = qualifier.unwrap_or("$LATEST");
    fleet.functions.lock().get(name)?.get(qualifier).cloned()
}

async fn get_function(
    State(fleet): State<Arc<Fleet>>,
    Path(name): Path<String>,
    Query(q): Query<Qualified>,
) -> Response {
    let Some(deployed) = find(&fleet, &name, q.qualifier.as_deref()) else {
        return not_found(&name);
    };
    let base = fleet.base.lock().clone();
    let location = format!(
        "{base}/code/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=600&X-Amz-Signature={SIGNATURE}",
        deployed.token
    );
    axum::Json(json!({
        "Configuration": deployed.configuration,
        "Code": {"RepositoryType": "S3", "Location": location},
    }))
    .into_response()
}

async fn get_configuration(
    State(fleet): State<Arc<Fleet>>,
    Path(name): Path<String>,
    Query(q): Query<Qualified>,
) -> Response {
    match find(&fleet, &name, q.qualifier.as_deref()) {
        Some(deployed) => axum::Json(deployed.configuration).into_response(),
        None => not_found(&name),
    }
}

async fn list_versions(State(fleet): State<Arc<Fleet>>, Path(name): Path<String>) -> Response {
    let functions = fleet.functions.lock();
    let Some(versions) = functions.get(&name) else {
        return not_found(&name);
    };
    let listed: Vec<Value> = versions.values().map(|d| d.configuration.clone()).collect();
    axum::Json(json!({"Versions": listed})).into_response()
}

#[derive(serde::Deserialize)]
struct LayerQuery {
    #[serde(rename = "Arn")]
    arn: String,
}

/// GetLayerVersionByArn (`GET /2018-10-31/layers?find=LayerVersion&Arn=...`).
async fn get_layer_version_by_arn(State(fleet): State<Arc<Fleet>>, Query(q): Query<LayerQuery>) -> Response {
    let Some((token, sha)) = fleet.layers.lock().get(&q.arn).cloned() else {
        return not_found(&q.arn);
    };
    let base = fleet.base.lock().clone();
    axum::Json(json!({
        "LayerVersionArn": q.arn,
        "Version": 1,
        "Content": {"Location": format!("{base}/code/{token}?X-Amz-Signature={SIGNATURE}"), "CodeSha256": sha, "CodeSize": 100},
    }))
    .into_response()
}

async fn download(
    Path(token): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    State(fleet): State<Arc<Fleet>>,
) -> Response {
    if query.get("X-Amz-Signature").map(String::as_str) != Some(SIGNATURE) {
        return (StatusCode::FORBIDDEN, "<Error><Code>AccessDenied</Code></Error>").into_response();
    }
    match fleet.code.lock().get(&token) {
        Some(bytes) => {
            fleet.downloads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            bytes.clone().into_response()
        }
        None => (StatusCode::NOT_FOUND, "<Error><Code>NoSuchKey</Code></Error>").into_response(),
    }
}

/// Runs the version's code on the backend engine and answers as Lambda does.
async fn invoke(
    State(fleet): State<Arc<Fleet>>,
    Path(name): Path<String>,
    Query(q): Query<Qualified>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(deployed) = find(&fleet, &name, q.qualifier.as_deref()) else {
        return not_found(&name);
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let answer = fleet
        .backend
        .invoke()
        .function_name(&deployed.backend_name)
        .payload(Blob::new(body.to_vec()))
        .set_client_context(header("x-amz-client-context"))
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .send()
        .await;
    let output = match answer {
        Ok(output) => output,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{:?}", e.into_service_error()),
            )
                .into_response();
        }
    };
    let version = deployed.configuration["Version"]
        .as_str()
        .unwrap_or("$LATEST")
        .to_string();
    let mut response = (
        StatusCode::from_u16(output.status_code() as u16).unwrap(),
        output.payload().map(|p| p.as_ref().to_vec()).unwrap_or_default(),
    )
        .into_response();
    let out = response.headers_mut();
    out.insert("x-amz-executed-version", version.parse().unwrap());
    if let Some(error) = output.function_error() {
        out.insert("x-amz-function-error", error.parse().unwrap());
    }
    if let Some(tail) = output.log_result() {
        out.insert("x-amz-log-result", tail.parse().unwrap());
    }
    use aws_sdk_lambda::operation::RequestId as _;
    if let Some(id) = output.request_id() {
        out.insert("x-amzn-requestid", id.parse().unwrap());
    }
    response
}
