//! The scene of the escape suite: the real service with an engine of its own and a fresh
//! database, projects `a` and `b`, a runner token of `a` only, and project B's function
//! holding with a secret in its environment while project A's code attacks.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use super::host::{self, Canary, Listening, VictimPlaces};
use super::target::Target;
use crate::support::service::authorized;
use crate::support::service_client;

pub const ATTACKER_PYTHON: &str = include_str!("attacker.py");
pub const ATTACKER_NODE: &str = include_str!("attacker.js");
const VICTIM: &str = include_str!("victim.py");

/// What each case observed, by case name.
pub type Observations = BTreeMap<String, Value>;

/// The test's own listeners, which count who reaches them.
pub struct Canaries {
    pub v4: Canary,
    pub v6: Option<Canary>,
    pub any: Canary,
    pub abstract_unix: Canary,
}

pub struct Scene {
    pub service: Target,
    runner_a: reqwest::Client,
    pub secret: String,
    b_run: String,
    pub b_function: String,
    tmp_marker: String,
    data_dir: PathBuf,
    engine_data_dir: PathBuf,
    pub places: VictimPlaces,
    pub canaries: Canaries,
    listening: Vec<Listening>,
    host_addresses: Vec<IpAddr>,
    /// A readable file of the host outside its system directories, whatever the modes of
    /// the directories this checkout sits in (a checkout under a 0700 `mktemp -d` is
    /// closed to the control's uid by its modes alone, and would prove nothing).
    host_file: HostFile,
}

/// A world-readable directory and file under `/var/tmp`, removed with the scene.
struct HostFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl HostFile {
    fn create() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("lambda-steps-escape-")
            .tempdir_in("/var/tmp")
            .expect("a directory under /var/tmp");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod 0755");
        let path = dir.path().join("host-file.txt");
        std::fs::write(&path, "a file of the host outside its system directories\n").expect("the host file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod 0644");
        Self { _dir: dir, path }
    }
}

impl Scene {
    /// Starts the service in this process on an engine started with `engine_flags`, and
    /// project B's function, which holds for `hold_seconds`; answers once B has printed
    /// its secret line.
    pub async fn start(db: PgPool, engine_flags: &[&str], hold_seconds: u64) -> Self {
        Self::start_on(Target::in_process(db, engine_flags).await, hold_seconds).await
    }

    /// The scene on `service`, wherever it runs.
    pub async fn start_on(service: Target, hold_seconds: u64) -> Self {
        let data_dir = service.data_dir.clone();
        // The engine in this process keeps its data under the service's; `serve`'s own
        // shares the service's directory.
        let engine_data_dir = match data_dir.join("engine").is_dir() {
            true => data_dir.join("engine"),
            false => data_dir.clone(),
        };
        for project in ["a", "b"] {
            assert_eq!(service.put(&format!("/v1/projects/{project}")).await, 201);
        }
        let (status, token) = service
            .post_json(
                "/v1/tokens",
                json!({"name": "runner of a", "role": "runner", "project": "a"}),
            )
            .await;
        assert_eq!(status, 201, "{token}");
        let runner_a = authorized(token["token"].as_str().unwrap());

        let canaries = Canaries {
            v4: Canary::tcp("127.0.0.1:0").await.expect("a listener on 127.0.0.1"),
            v6: Canary::tcp("[::1]:0").await,
            any: Canary::tcp("0.0.0.0:0").await.expect("a listener on 0.0.0.0"),
            abstract_unix: Canary::abstract_unix(&format!("lambda-steps-escape-{}", uuid::Uuid::new_v4())),
        };

        let secret = format!("b-secret-{}", uuid::Uuid::new_v4().simple());
        let code_marker = format!("b-code-{}", uuid::Uuid::new_v4().simple());
        let tmp_marker = format!("b-marker-{}", uuid::Uuid::new_v4().simple());
        let step = json!({
            "type": "lambda_custom_code",
            "runtime": "python3.12",
            "code": format!("{VICTIM}\n# {code_marker}\n"),
            "environment": {"B_SECRET": secret},
            "payload": {"marker": tmp_marker, "hold_seconds": hold_seconds},
            "timeout_seconds": hold_seconds + 60,
        });
        let (status, run) = service.submit("b", step).await;
        assert_eq!(status, 202, "{run}");
        let b_run = run["id"].as_str().unwrap().to_string();
        let b_function = crate::support::function_of(&run);
        let secret_line = format!("secret line of B: {secret}");
        for attempt in 0.. {
            if service.log(&b_run).await.iter().any(|l| l.contains(&secret_line)) {
                break;
            }
            assert!(attempt < 1200, "B did not print its secret line in 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let places = host::find_victim(&secret, &code_marker, &tmp_marker, &engine_data_dir);
        assert!(
            places.runtime_api.is_some(),
            "B's runtime process not found by its secret: {places:?}"
        );
        assert!(!places.code.is_empty(), "B's code not found on the host: {places:?}");
        Self {
            service,
            runner_a,
            secret,
            b_run,
            b_function,
            tmp_marker,
            data_dir,
            engine_data_dir,
            places,
            canaries,
            listening: host::listening_ports(),
            host_addresses: host::host_addresses(),
            host_file: HostFile::create(),
        }
    }

    fn port_of(url: &str) -> u16 {
        url.rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap()
    }

    /// The attempts of every case made from inside, as the attacker scripts take them.
    pub fn inside_attempts(&self, python: bool) -> Vec<Value> {
        let tcp = |case: &str, targets: Vec<(String, u16)>| json!({"case": case, "kind": "tcp", "targets": targets});
        let v4 = |port: u16| ("127.0.0.1".to_string(), port);
        let mut every_port: Vec<(String, u16)> = self
            .listening
            .iter()
            .filter_map(host::loopback_target)
            .map(|a| (a.ip().to_string(), a.port()))
            .collect();
        every_port.sort();
        every_port.dedup();
        let mut on_host_addresses: Vec<(String, u16)> = Vec::new();
        for address in &self.host_addresses {
            for listening in &self.listening {
                let same_family = listening.address.is_ipv4() == address.is_ipv4();
                if same_family && (listening.address.is_unspecified() || listening.address == *address) {
                    on_host_addresses.push((address.to_string(), listening.port));
                }
            }
            if address.is_ipv4() {
                on_host_addresses.push((address.to_string(), self.canaries.any.port()));
            }
        }
        on_host_addresses.sort();
        on_host_addresses.dedup();
        let requests = |case: &str, spec: Value| json!({"case": case, "kind": "http", "requests": [spec]});
        let api = super::outside::requests(&self.service.engine_url, &self.b_function);
        let mut b_tmp: Vec<String> = self.places.tmp_marker.iter().map(|p| p.display().to_string()).collect();
        b_tmp.push(format!("/tmp/{}", self.tmp_marker));
        let work_dir: Vec<String> = self
            .places
            .engine_work_dir
            .iter()
            .flat_map(|dir| [dir.join("environments"), dir.join("code")])
            .map(|p| p.display().to_string())
            .collect();
        let mut attempts = vec![
            tcp("net.loopback_postgres", vec![v4(5432)]),
            tcp("net.loopback_redis", vec![v4(6379), ("::1".into(), 6379)]),
            tcp("net.service_api", vec![v4(Self::port_of(&self.service.url))]),
            tcp("net.engine_api", vec![v4(Self::port_of(&self.service.engine_url))]),
            tcp("net.loopback_canary_v4", vec![v4(self.canaries.v4.port())]),
            tcp(
                "net.loopback_canary_v6",
                self.canaries.v6.iter().map(|c| ("::1".to_string(), c.port())).collect(),
            ),
            tcp("net.loopback_every_port", every_port),
            tcp("net.host_addresses", on_host_addresses),
            json!({"case": "net.postgres_unix_socket", "kind": "unix", "paths": ["/var/run/postgresql/.s.PGSQL.5432"]}),
            requests("api.inside_list_functions", api["ListFunctions"].clone()),
            requests(
                "api.inside_get_configuration_b",
                api["GetFunctionConfiguration"].clone(),
            ),
            requests("api.inside_filter_log_events_b", api["FilterLogEvents"].clone()),
            requests("api.inside_create_function", api["CreateFunction"].clone()),
            requests("api.inside_invoke_b", api["Invoke"].clone()),
            json!({"case": "proc.foreign_processes", "kind": "processes"}),
            json!({"case": "proc.foreign_environ", "kind": "environs"}),
            json!({"case": "proc.foreign_roots", "kind": "proc_roots", "marker": self.tmp_marker}),
            json!({"case": "files.data_dirs", "kind": "files", "paths": [self.data_dir, self.engine_data_dir]}),
            json!({"case": "files.b_code", "kind": "files", "paths": self.places.code}),
            json!({"case": "files.b_tmp", "kind": "files", "paths": b_tmp}),
            json!({"case": "files.engine_work_dir", "kind": "files", "paths": work_dir}),
            json!({"case": "files.root_and_home", "kind": "files", "paths": ["/root", "/home"]}),
            json!({"case": "files.checkout", "kind": "files", "paths": [concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"), self.host_file.path]}),
        ];
        if python {
            attempts.push(
                json!({"case": "net.b_runtime_api", "kind": "runtime_api", "addresses": [self.places.runtime_api]}),
            );
            attempts.push(json!({"case": "net.abstract_unix_socket", "kind": "abstract", "names": [self.canaries.abstract_unix.address]}));
        }
        attempts
    }

    /// Runs project A's custom code with the runner token of A; answers the finished run
    /// and its log.
    pub async fn run_in_a(&self, step: Value) -> (Value, Vec<String>) {
        let (status, run) = service_client::submit(&self.runner_a, &self.service.url, "a", &step, None).await;
        assert_eq!(status, 202, "{run}");
        let id = run["id"].as_str().unwrap().to_string();
        let run = self.wait(&id, 180).await;
        let log = self.service.log(&id).await;
        (run, log)
    }

    /// The attacker in `runtime` making every attempt from inside; answers each case's
    /// observations, with the canaries' counts folded in, and the attacker's whole answer
    /// and log for the secret check.
    pub async fn attack_from_inside(&self, runtime: &str) -> (Observations, String) {
        let python = runtime.starts_with("python");
        let code = if python { ATTACKER_PYTHON } else { ATTACKER_NODE };
        let step = json!({
            "type": "lambda_custom_code",
            "runtime": runtime,
            "code": code,
            "payload": {"attempts": self.inside_attempts(python)},
            "timeout_seconds": 120,
        });
        let (run, log) = self.run_in_a(step).await;
        let everything = format!("{run}\n{}", log.join("\n"));
        let mut observations: Observations = match run["result"]["payload"].as_object() {
            Some(payload) if run["status"] == "succeeded" => payload.clone().into_iter().collect(),
            _ => panic!("A's {runtime} attacker did not finish: {run}\n{}", log.join("\n")),
        };
        let canaries = [
            ("net.loopback_canary_v4", Some(&self.canaries.v4)),
            ("net.loopback_canary_v6", self.canaries.v6.as_ref()),
            ("net.host_addresses", Some(&self.canaries.any)),
            ("net.abstract_unix_socket", Some(&self.canaries.abstract_unix)),
        ];
        for (case, canary) in canaries {
            if let (Some(canary), Some(Value::Array(seen))) = (canary, observations.get_mut(case)) {
                seen.push(json!({"target": "the test's listener", "canary_accepted": canary.take()}));
            }
        }
        (observations, everything)
    }

    /// Waits until run `id` ends (at most `seconds`); answers it.
    pub async fn wait(&self, id: &str, seconds: u64) -> Value {
        for _ in 0..seconds * 10 {
            let (_, run) = self.service.get(&format!("/v1/runs/{id}")).await;
            if !matches!(run["status"].as_str(), Some("queued" | "running")) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("run {id} did not end in {seconds} s");
    }

    /// Whether B's function is still holding.
    pub async fn b_is_running(&self) -> bool {
        let (_, run) = self.service.get(&format!("/v1/runs/{}", self.b_run)).await;
        run["status"] == "running"
    }

    /// B's answer once it ended, which must be a success: what it could not do while A
    /// attacked.
    pub async fn b_answer(&self) -> Value {
        let run = self.wait(&self.b_run, 300).await;
        assert_eq!(run["status"], "succeeded", "B's function: {run}");
        run["result"]["payload"].clone()
    }

    /// Stops the service and its engine.
    pub async fn stop(self) {
        self.service.stop().await;
    }
}
