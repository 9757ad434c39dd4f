//! The HTTP client under every AWS call: hyper with TCP keepalive. A synchronous Invoke
//! can wait 15 minutes for its answer with nothing crossing the connection, and NAT
//! gateways drop a TCP flow after 350 s of silence; keepalive probes every minute keep the
//! path open. The SDK's default (hyper 1) client sets no keepalive and hides its TCP
//! connector, so this builds the SDK's other supported stack, hyper 0.14 + rustls through
//! aws-smithy-http-client's `hyper_014` builder, on a TCP connector with keepalive on.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_sdk_lambda::config::{SharedHttpClient, SharedInterceptor};
use aws_smithy_http_client::hyper_014::HyperClientBuilder;
use hyper::client::HttpConnector;
use hyper::client::connect::dns::Name;

/// Idle time before the first probe (later ones follow at the system's interval, 75 s on
/// Linux); well under NAT's 350 s.
pub const KEEPALIVE: Duration = Duration::from_secs(60);

/// What the clients send their requests through. Connect and read timeouts are the SDK's
/// (each client's TimeoutConfig), applied by the hyper_014 builder's own middleware.
#[derive(Clone, Debug)]
pub struct Transport {
    pub http: SharedHttpClient,
    /// Extra interceptors (tests put aws-smithy-mocks' here).
    pub interceptors: Vec<SharedInterceptor>,
}

impl Transport {
    /// The network, with keepalive; plain HTTP for an `http://` endpoint (the embedded
    /// engine, moto), else HTTPS with the platform's root certificates.
    pub fn network(endpoint: Option<&str>) -> Self {
        let http = match endpoint {
            Some(url) if url.starts_with("http://") => {
                let host = url
                    .parse::<hyper::Uri>()
                    .ok()
                    .and_then(|u| u.host().map(str::to_string))
                    .unwrap_or_default();
                let mut tcp = HttpConnector::new_with_resolver(StreamingPrefix { host });
                keepalive(&mut tcp);
                HyperClientBuilder::new().build(tcp)
            }
            _ => HyperClientBuilder::new().build(HTTPS.clone()),
        };
        Self {
            http,
            interceptors: Vec::new(),
        }
    }
}

impl Transport {
    /// Calls into the engine of this process, with no socket (`in_process.rs`).
    pub fn in_process(router: axum::Router) -> Self {
        Self {
            http: super::in_process::engine_http_client(router),
            interceptors: Vec::new(),
        }
    }
}

fn tcp() -> HttpConnector {
    let mut tcp = HttpConnector::new();
    keepalive(&mut tcp);
    tcp
}

fn keepalive<R>(tcp: &mut HttpConnector<R>) {
    tcp.set_keepalive(Some(KEEPALIVE));
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
}

/// Resolves `streaming-<endpoint host>` as the endpoint's host, and any other name as the
/// system does. The SDK puts its model's host prefix before the endpoint's host for
/// StartLiveTail (`streaming-`), and the Rust SDK has no setting to turn that off (boto3's
/// `inject_host_prefix=False`, the other SDKs' `AWS_DISABLE_HOST_PREFIX_INJECTION`); so
/// against `http://127.0.0.1:9001` it calls `streaming-127.0.0.1:9001`, which no DNS
/// knows. Only a local `http://` endpoint gets this resolver: AWS's `streaming-logs.*`
/// hosts resolve as they are.
#[derive(Clone, Debug)]
struct StreamingPrefix {
    host: String,
}

impl hyper::service::Service<Name> for StreamingPrefix {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let asked = name.as_str();
        let host = match asked.strip_prefix("streaming-") {
            Some(rest) if rest.eq_ignore_ascii_case(&self.host) => rest.to_string(),
            _ => asked.to_string(),
        };
        Box::pin(async move {
            // The connector sets the port.
            if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                return Ok(vec![SocketAddr::new(ip, 0)].into_iter());
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(found.into_iter())
        })
    }
}

// Loading the platform's certificates is slow: once per process.
static HTTPS: LazyLock<hyper_rustls::HttpsConnector<HttpConnector>> = LazyLock::new(|| {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(tcp())
});

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio::io::AsyncReadExt;

    use super::KEEPALIVE;
    use crate::lambda::client::{LambdaClients, LambdaTarget};

    /// The kernel's timer on a TCP connection, from /proc/net/tcp: (kind, seconds left).
    /// Kind 2 is the keepalive timer.
    fn tcp_timer(local_port: u16, remote_port: u16) -> Option<(u32, u64)> {
        let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        let port = |address: &str| u16::from_str_radix(address.rsplit(':').next()?, 16).ok();
        table.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if port(fields[1])? != local_port || port(fields[2])? != remote_port {
                return None;
            }
            let (kind, when) = fields[5].split_once(':')?;
            Some((
                u32::from_str_radix(kind, 16).ok()?,
                u64::from_str_radix(when, 16).ok()? / ticks,
            ))
        })
    }

    #[tokio::test]
    async fn an_invoke_waiting_for_its_answer_keeps_its_connection_alive() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_port = listener.local_addr().unwrap().port();
        let target = LambdaTarget::Endpoint(format!("http://127.0.0.1:{server_port}"));
        let clients = LambdaClients::new(&target, "us-east-1", None, None).await;
        let invoke = tokio::spawn(async move { clients.invoke.invoke().function_name("slow").send().await });

        // A function that takes its time: the request arrives, no answer comes.
        let (mut connection, client) = listener.accept().await.unwrap();
        let mut request = vec![0; 4096];
        let _ = connection.read(&mut request).await.unwrap();

        let deadline = Instant::now() + Duration::from_secs(5);
        let timer = loop {
            let timer = tcp_timer(client.port(), server_port);
            if timer.is_some_and(|(kind, _)| kind == 2) || Instant::now() > deadline {
                break timer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (kind, seconds) = timer.expect("the client's connection is in /proc/net/tcp");
        assert_eq!(kind, 2, "the idle connection has a keepalive timer");
        assert!(
            seconds <= KEEPALIVE.as_secs() && seconds < 350,
            "first probe in {seconds} s"
        );
        invoke.abort();
    }
}
