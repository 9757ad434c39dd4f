//! CreateFunction with a `DurableConfig`, which the aws-sdk-lambda this service builds with
//! cannot send yet: a client like the project's own whose CreateFunction request gets the
//! field added to its JSON body just before it is signed. Everything else about creating
//! the function (the role's propagation, the wait for Active) stays in `create.rs`.

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_lambda::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_lambda::error::BoxError;
use aws_sdk_lambda::primitives::SdkBody;
use serde_json::{Value, json};

use crate::domain::durable::DurableConfig;

/// A client of the same endpoint, region and credentials as `control` whose CreateFunction
/// creates a durable function with `config`.
pub fn creating_durable(control: &Client, config: DurableConfig) -> Client {
    let body = json!({
        "ExecutionTimeout": config.execution_timeout,
        "RetentionPeriodInDays": config.retention_period_in_days,
    });
    let conf = control
        .config()
        .to_builder()
        .interceptor(AddDurableConfig(body))
        .build();
    Client::from_conf(conf)
}

/// Adds `DurableConfig` to CreateFunction's body (`POST /2015-03-31/functions`).
#[derive(Debug)]
struct AddDurableConfig(Value);

impl Intercept for AddDurableConfig {
    fn name(&self) -> &'static str {
        "AddDurableConfig"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let path = request.uri().split('?').next().unwrap_or_default();
        if request.method() != "POST" || !path.ends_with("/2015-03-31/functions") {
            return Ok(());
        }
        let bytes = request.body().bytes().ok_or("CreateFunction's body is not in memory")?;
        let mut body: Value = serde_json::from_slice(bytes)?;
        body["DurableConfig"] = self.0.clone();
        let bytes = serde_json::to_vec(&body)?;
        request.headers_mut().insert("content-length", bytes.len().to_string());
        *request.body_mut() = SdkBody::from(bytes);
        Ok(())
    }
}
