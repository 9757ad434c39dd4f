//! The SDK's HTTP layer for the embedded engine of this process: each request goes to the
//! engine's router as a call, with no socket. The SDK still serializes, signs and parses
//! exactly as it does for AWS, and the engine still verifies the signature and answers
//! through its own API handlers: only loopback TCP and HTTP/1.1 framing on both sides are
//! left out (the service's CPU per run in `scripts/bench engine-e2e` went from 0.63 to
//! 0.50-0.61 ms). Calls the SDK lacks (`durable.rs`) and other processes' clients still
//! reach the engine over its listener. A request for an API the engine does not serve (IAM,
//! STS) gets the router's answer for an unknown operation, as it would over the listener.

use aws_sdk_lambda::config::SharedHttpClient;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use sync_wrapper::SyncWrapper;
use tower::ServiceExt;

#[derive(Clone)]
struct EngineCall {
    router: axum::Router,
}

impl std::fmt::Debug for EngineCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EngineCall")
    }
}

impl HttpConnector for EngineCall {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let router = self.router.clone();
        crate::metrics::engine_called_in_process();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let (mut parts, body) = request.into_parts();
            // What a client's HTTP layer adds from the URL, and the signature covers.
            if !parts.headers.contains_key(http::header::HOST)
                && let Some(authority) = parts.uri.authority()
                && let Ok(host) = http::HeaderValue::from_str(authority.as_str())
            {
                parts.headers.insert(http::header::HOST, host);
            }
            let request = http::Request::from_parts(parts, axum::body::Body::new(body));
            // A task of its own, as a connection's would be: the engine's work is not part
            // of the caller's trace (operations/tracing.md), and an Invoke whose caller
            // gives up runs to its end, as on AWS.
            let response = match tokio::spawn(router.oneshot(request)).await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(stopped) => return Err(ConnectorError::other(stopped.into(), None)),
            };
            let (parts, body) = response.into_parts();
            let body = SdkBody::from_body_1_x(SyncBody(SyncWrapper::new(body)));
            let response = http::Response::from_parts(parts, body);
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// An HTTP client whose every request is a call into `router`.
pub fn engine_http_client(router: axum::Router) -> SharedHttpClient {
    let connector = SharedHttpConnector::new(EngineCall { router });
    http_client_fn(move |_, _| connector.clone())
}

/// The engine's answer as the SDK takes a body: `Sync` too, which axum's body is not (it is
/// only ever polled through `&mut`, so the wrapper costs nothing). Streamed as it comes, for
/// the event streams (StartLiveTail, InvokeWithResponseStream).
struct SyncBody(SyncWrapper<axum::body::Body>);

impl http_body::Body for SyncBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(self.get_mut().0.get_mut()).poll_frame(cx)
    }
}
