//! For unit tests: the service's own clients (same retry and timeout settings) answering
//! from aws-smithy-mocks rules, for the exact AWS wire cases no local endpoint produces.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_lambda::config::SharedInterceptor;
use aws_sdk_lambda::config::http::{HttpRequest, HttpResponse};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use super::client::{LambdaClients, LambdaTarget, Transport};

/// Clients whose calls are answered by the first rule that matches.
pub async fn clients(rules: &[&Rule]) -> LambdaClients {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, rule| i.with_rule(rule),
    );
    with_http(create_mock_http_client(), vec![SharedInterceptor::new(interceptor)]).await
}

/// Clients whose every request is sent and then loses its answer (a reset connection);
/// returns how many requests went out.
pub async fn lost_responses() -> (LambdaClients, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let http = SharedHttpClient::new(LostResponses(sent.clone()));
    (with_http(http, Vec::new()).await, sent)
}

async fn with_http(http: SharedHttpClient, interceptors: Vec<SharedInterceptor>) -> LambdaClients {
    let target = LambdaTarget::Endpoint("http://lambda.mock.invalid".into());
    let transport = Transport { http, interceptors };
    LambdaClients::with_transport(&target, "us-east-1", Some(("AKIDMOCK", "mock-secret")), None, transport).await
}

/// An HTTP answer with a status, headers and a JSON body, as AWS sends errors.
pub fn http_answer(status: u16, headers: &[(&'static str, &'static str)], body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::new(status.try_into().expect("a status code"), SdkBody::from(body));
    for (name, value) in headers {
        response.headers_mut().insert(*name, *value);
    }
    response
}

#[derive(Debug, Clone)]
struct LostResponses(Arc<AtomicUsize>);

impl HttpConnector for LostResponses {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        self.0.fetch_add(1, Ordering::SeqCst);
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer");
        HttpConnectorFuture::ready(Err(ConnectorError::io(Box::new(reset))))
    }
}

impl HttpClient for LostResponses {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
