//! What user code's network reaches. Under `--network isolated` (the default): the outside
//! (here a listener in a network namespace of the test's own, behind a veth pair as a
//! Docker bridge is, and a registry's name through DNS) and nothing of the host: not its
//! loopback (IPv4, IPv6, the engine's own API), nor any of its addresses (the veth's host
//! end among them, even one the host gains while the environment lives); of the loopback
//! only the function endpoint's port. `--network host` is
//! the control that sees the loopback. pasta ends with its environment.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lambda_engine::function_aws::FunctionAws;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::support::service::ServeProcess;
use crate::support::{TestEngine, create, create_with, data_dir, invoke, signed_client};

/// Connects to each target and reads its banner; resolves a name; says which network
/// namespace it is in.
const PROBE: &str = r#"
import os, socket

def probe(host, port):
    try:
        s = socket.create_connection((host, port), timeout=3)
    except OSError as e:
        return type(e).__name__
    with s:
        try:
            return 'open:' + s.recv(64).decode()
        except OSError:
            return 'open:'

def handler(event, context):
    out = {name: probe(host, port) for name, host, port in event.get('targets', [])}
    if 'resolve' in event:
        try:
            socket.getaddrinfo(event['resolve'], 443)
            out['dns'] = 'resolved'
        except OSError as e:
            out['dns'] = type(e).__name__
    out['netns'] = os.readlink('/proc/self/ns/net')
    import time
    time.sleep(event.get('sleep', 0))
    return out
"#;

/// A listener that answers every connection with `banner` and counts them.
struct Listener {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

async fn listen(address: &str, banner: &'static str) -> Listener {
    serve(tokio::net::TcpListener::bind(address).await.unwrap(), banner)
}

fn serve(listener: tokio::net::TcpListener, banner: &'static str) -> Listener {
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = stream.write_all(banner.as_bytes()).await;
        }
    });
    Listener { port, accepted }
}

/// A network namespace of the test's own joined to the host by a veth pair: to the
/// function it is the outside; the veth's host end is one more address of the host.
struct Outside {
    name: String,
    host_end: Ipv4Addr,
    address: Ipv4Addr,
}

impl Outside {
    fn create() -> Self {
        let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let bytes = uuid::Uuid::new_v4().into_bytes();
        // A /30 in 198.18.0.0/15 (benchmarking), apart from other runs of this test.
        let base = Ipv4Addr::new(198, 18 + (bytes[0] & 1), bytes[1], bytes[2] & 0xfc);
        let host_end = Ipv4Addr::from(u32::from(base) + 1);
        let address = Ipv4Addr::from(u32::from(base) + 2);
        let name = format!("lsn{id}");
        let (host_if, peer_if) = (format!("lsh{id}"), format!("lsp{id}"));
        let outside = Self {
            name: name.clone(),
            host_end,
            address,
        };
        for command in [
            vec!["netns", "add", &name],
            vec!["link", "add", &host_if, "type", "veth", "peer", "name", &peer_if],
            vec!["link", "set", &peer_if, "netns", &name],
            vec!["addr", "add", &format!("{host_end}/30"), "dev", &host_if],
            vec!["link", "set", &host_if, "up"],
            vec!["-n", &name, "addr", "add", &format!("{address}/30"), "dev", &peer_if],
            vec!["-n", &name, "link", "set", &peer_if, "up"],
            vec!["-n", &name, "link", "set", "lo", "up"],
        ] {
            ip(&command);
        }
        outside
    }

    /// A listener inside the outside namespace, on its address.
    fn listen(&self, banner: &'static str) -> Listener {
        let namespace = std::fs::File::open(format!("/run/netns/{}", self.name)).unwrap();
        let address = self.address;
        let listener = std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            // SAFETY: setns on an open namespace descriptor, in a thread that ends next.
            assert_eq!(unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
            std::net::TcpListener::bind((address, 0)).unwrap()
        })
        .join()
        .unwrap();
        listener.set_nonblocking(true).unwrap();
        serve(tokio::net::TcpListener::from_std(listener).unwrap(), banner)
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair with it.
        ip(&["netns", "del", &self.name]);
    }
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("ip runs (scripts/deps.sh installs iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every IPv4 address of the host outside its loopback.
fn host_addresses() -> Vec<Ipv4Addr> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().skip_while(|w| *w != "inet").nth(1))
        .filter_map(|cidr| cidr.split('/').next()?.parse::<Ipv4Addr>().ok())
        .filter(|address| !address.is_loopback())
        .collect()
}

/// Processes other than this one in, or holding, the network namespace `netns`
/// (`net:[inode]`): the environment's own and its pasta.
fn namespace_holders(netns: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut holders = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
            continue;
        }
        let is = |link: std::path::PathBuf| std::fs::read_link(link).is_ok_and(|l| l.to_string_lossy() == netns);
        let inside = is(entry.path().join("ns/net"));
        let holding = std::fs::read_dir(entry.path().join("fd"))
            .map(|fds| fds.flatten().any(|fd| is(fd.path())))
            .unwrap_or(false);
        if inside || holding {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            holders.push(format!("{pid} {}", comm.trim()));
        }
    }
    holders
}

async fn no_holders_within(netns: &str, within: Duration) -> Vec<String> {
    let until = std::time::Instant::now() + within;
    loop {
        let holders = namespace_holders(netns);
        if holders.is_empty() || std::time::Instant::now() > until {
            return holders;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn isolated_functions_reach_the_outside_and_nothing_of_the_host_which_host_networking_does() {
    let outside = Outside::create();
    let remote = outside.listen("outside");
    let loopback = listen("127.0.0.1:0", "host").await;
    let loopback6 = listen("[::1]:0", "host").await;
    let any = listen("0.0.0.0:0", "host").await;
    let addresses = host_addresses();
    assert!(addresses.contains(&outside.host_end), "{addresses:?}");

    for (flags, isolated) in [(&[][..], true), (&["--network", "host"][..], false)] {
        let dir = data_dir();
        let engine = TestEngine::start(dir.path(), flags).await;
        create_with(
            &engine.client,
            "probe",
            "python3.12",
            "app.handler",
            &[("app.py", PROBE)],
            60,
            128,
        )
        .await;
        let engine_port: u16 = engine.url.rsplit(':').next().unwrap().parse().unwrap();
        let mut targets = vec![
            json!(["outside", outside.address.to_string(), remote.port]),
            json!(["loopback", "127.0.0.1", loopback.port]),
            json!(["loopback6", "::1", loopback6.port]),
            json!(["engine_api", "127.0.0.1", engine_port]),
        ];
        for address in &addresses {
            targets.push(json!([format!("host {address}"), address.to_string(), any.port]));
        }
        let out = invoke(
            &engine.client,
            "probe",
            json!({"targets": targets, "resolve": "deb.debian.org"}),
        )
        .await;
        assert_eq!(out.function_error, None, "{flags:?}: {:?}\n{}", out.payload, out.log);
        let seen = &out.payload;
        assert_eq!(seen["outside"], "open:outside", "{flags:?}: {seen}");
        assert_eq!(seen["dns"], "resolved", "{flags:?}: {seen}");
        let open = |name: &str| seen[name].as_str().is_some_and(|r| r.starts_with("open:"));
        if isolated {
            for name in ["loopback", "loopback6", "engine_api"] {
                assert!(!open(name), "{name} reached from an isolated function: {seen}");
            }
            for address in &addresses {
                assert!(
                    !open(&format!("host {address}")),
                    "host address {address} reached: {seen}"
                );
            }
            for listener in [&loopback, &loopback6, &any] {
                assert_eq!(listener.accepted.load(Ordering::SeqCst), 0, "{seen}");
            }
        } else {
            // The control: the same probe sees the host when it shares its network.
            assert_eq!(seen["loopback"], "open:host", "{seen}");
            assert_eq!(seen[format!("host {}", outside.host_end)], "open:host", "{seen}");
        }
        engine.stop().await;
    }
}

/// An address the host gains while an environment lives (a VPN, a container bridge, here
/// a veth) is closed in it as well: the environment started before the address existed,
/// and still reaches the outside behind it but not the host's end. As root, a thread of
/// the engine closes it; as an ordinary user, a child joining the sandbox's user namespace.
#[tokio::test(flavor = "multi_thread")]
async fn an_address_the_host_gains_while_an_environment_lives_is_closed_there_too() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    new_address_is_closed_in_a_warm_environment(&engine.client).await;
    engine.stop().await;
}

#[sqlx::test]
async fn an_address_the_host_gains_is_closed_too_when_the_engine_is_an_ordinary_user(db: sqlx::PgPool) {
    let work = tempfile::tempdir().unwrap();
    let runtimes = crate::support::runtimes_dir().display().to_string();
    let role = db.connect_options().get_username().to_string();
    let service = ServeProcess::start_as(
        &db,
        work.path(),
        crate::support::ordinary_user(),
        &[],
        &[("LAMBDA_STEPS_RUNTIMES_DIR", &runtimes), ("PGUSER", &role)],
    )
    .await;
    let client = signed_client(&service.engine, service.engine_credentials());
    new_address_is_closed_in_a_warm_environment(&client).await;
}

async fn new_address_is_closed_in_a_warm_environment(client: &aws_sdk_lambda::Client) {
    let any = listen("0.0.0.0:0", "host").await;
    create(client, "probe", "python3.12", "app.handler", &[("app.py", PROBE)]).await;
    let before = invoke(client, "probe", json!({})).await;
    assert!(
        before.payload["netns"].is_string(),
        "{:?}\n{}",
        before.payload,
        before.log
    );

    let outside = Outside::create();
    let remote = outside.listen("outside");
    // The engine acts on the kernel's address event, which comes a moment after `ip` ends.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let targets = json!([
        ["outside", outside.address.to_string(), remote.port],
        ["host end", outside.host_end.to_string(), any.port],
    ]);
    let after = invoke(client, "probe", json!({ "targets": targets })).await;
    let seen = &after.payload;
    assert_eq!(
        seen["netns"], before.payload["netns"],
        "the same environment answers: {seen}"
    );
    assert_eq!(seen["outside"], "open:outside", "{seen}\n{}", after.log);
    assert!(
        !seen["host end"].as_str().is_some_and(|r| r.starts_with("open:")),
        "the host's new address {} reached from an environment older than it: {seen}",
        outside.host_end
    );
    assert_eq!(any.accepted.load(Ordering::SeqCst), 0, "{seen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn of_the_loopback_only_the_function_endpoint_port_is_forwarded() {
    let endpoint = listen("127.0.0.1:0", "endpoint").await;
    let other = listen("127.0.0.1:0", "other").await;
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let url = format!("http://127.0.0.1:{}", endpoint.port);
    engine.engine.function_aws().set_default(FunctionAws {
        endpoint_url: Some(url.clone()),
        issuer: None,
    });
    let code = format!("{PROBE}\ndef env(event, context):\n    return os.environ.get('AWS_ENDPOINT_URL')\n");
    create(
        &engine.client,
        "probe",
        "python3.12",
        "app.handler",
        &[("app.py", &code)],
    )
    .await;
    let out = invoke(
        &engine.client,
        "probe",
        json!({"targets": [["endpoint", "127.0.0.1", endpoint.port], ["localhost", "localhost", endpoint.port],
                           ["other", "127.0.0.1", other.port]]}),
    )
    .await;
    let seen = &out.payload;
    assert_eq!(seen["endpoint"], "open:endpoint", "{seen}\n{}", out.log);
    assert_eq!(seen["localhost"], "open:endpoint", "{seen}");
    assert!(!seen["other"].as_str().unwrap().starts_with("open"), "{seen}");
    assert_eq!(other.accepted.load(Ordering::SeqCst), 0);
    assert_eq!(endpoint.accepted.load(Ordering::SeqCst), 2);
    create(&engine.client, "env", "python3.12", "app.env", &[("app.py", &code)]).await;
    assert_eq!(invoke(&engine.client, "env", json!({})).await.payload, json!(url));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pasta_ends_with_its_environment_on_timeout_reaping_and_engine_stop() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--idle-seconds", "1"]).await;
    create_with(
        &engine.client,
        "probe",
        "python3.12",
        "app.handler",
        &[("app.py", PROBE)],
        2,
        128,
    )
    .await;
    let namespace_of = |out: &Value| {
        out["netns"]
            .as_str()
            .unwrap_or_else(|| panic!("the probe says its namespace: {out}"))
            .to_string()
    };

    // Killed on timeout: the invocation that times out had its namespace held by pasta.
    let first = invoke(&engine.client, "probe", json!({})).await;
    let netns = namespace_of(&first.payload);
    assert!(
        namespace_holders(&netns).iter().any(|h| h.contains("pass")),
        "pasta serves the warm environment: {:?}",
        namespace_holders(&netns)
    );
    let timed_out = invoke(&engine.client, "probe", json!({"sleep": 10})).await;
    assert_eq!(timed_out.payload["errorType"], "Sandbox.Timedout");
    assert_eq!(
        no_holders_within(&netns, Duration::from_secs(5)).await,
        Vec::<String>::new()
    );

    // Reaped when idle.
    let netns = namespace_of(&invoke(&engine.client, "probe", json!({})).await.payload);
    assert!(!namespace_holders(&netns).is_empty());
    assert_eq!(
        no_holders_within(&netns, Duration::from_secs(10)).await,
        Vec::<String>::new()
    );

    // Stopped with the engine.
    let netns = namespace_of(&invoke(&engine.client, "probe", json!({})).await.payload);
    assert!(!namespace_holders(&netns).is_empty());
    engine.stop().await;
    assert_eq!(
        no_holders_within(&netns, Duration::from_secs(5)).await,
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn host_networking_is_set_explicitly_and_warned_about_at_start() {
    let dir = data_dir();
    let (engine, log) = TestEngine::start_logged(dir.path(), &["--network", "host"]).await;
    assert!(
        log.contains("WARN") && log.contains("--network host") && log.contains("its loopback included"),
        "{log}"
    );
    engine.stop().await;
    let dir = data_dir();
    let (engine, log) = TestEngine::start_logged(dir.path(), &[]).await;
    assert!(
        !log.contains("--network host:"),
        "the default is not host networking: {log}"
    );
    assert!(log.contains("network=Isolated"), "{log}");
    engine.stop().await;
}
