//! The escape suite's table: every attempt a named case, what it tries, and what it must
//! observe for the attacker to have failed. The book's count of cases
//! (docs/src/engine/escape-suite.md) comes from here.

use serde_json::Value;

/// Who makes the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attacker {
    /// Project A's custom code, in Python and again in Node.js.
    Inside,
    /// Project A's custom code, in Python only.
    InsidePython,
    /// A local process of the host with no credentials of the engine (the test itself).
    Outside,
    /// A caller holding the engine's key, uploading hostile code.
    SignedCaller,
}

/// What the attempt must observe.
#[derive(Debug, Clone, Copy)]
pub enum Expected {
    /// No connection is made.
    Unreachable,
    /// Only this environment's own Runtime API answers at any address.
    NoOtherRuntimeApi,
    /// No answer at all, or AWS's 403 for an unsigned caller.
    UnreachableOrForbidden,
    /// AWS's 403 for an unsigned or unknown caller, every time.
    Forbidden,
    /// No process outside the environment is visible.
    Invisible,
    /// No file is read and no directory listed with anything in it.
    Unreadable,
    /// The fork loop is refused by the kernel while the other project's function still
    /// starts processes.
    ForkStopsAtOwnLimit,
    /// Filling /tmp ends with ENOSPC at about EphemeralStorage, while the other project's
    /// function still writes its own /tmp.
    TmpFullAtEphemeralStorage,
    /// The hog is stopped before it touches much more than MemorySize.
    MemoryStoppedNearMemorySize,
    /// CreateFunction answers 400 InvalidParameterValueException and the engine keeps
    /// serving.
    ArchiveRefused,
    /// The other project's secret appears nowhere in what the attacker got.
    SecretAbsent,
}

/// One attempt of the suite.
pub struct Case {
    pub name: &'static str,
    pub from: Attacker,
    pub attempt: &'static str,
    pub expected: Expected,
    /// Whether the control run (host network, no sandbox) must see this one leak: the proof
    /// that the suite sees a leak where there is one.
    pub control_leaks: bool,
}

const fn case(
    name: &'static str,
    from: Attacker,
    attempt: &'static str,
    expected: Expected,
    control_leaks: bool,
) -> Case {
    Case {
        name,
        from,
        attempt,
        expected,
        control_leaks,
    }
}

use Attacker::*;
use Expected::*;

pub const CASES: &[Case] = &[
    case(
        "net.loopback_postgres",
        Inside,
        "connect to Postgres at 127.0.0.1:5432",
        Unreachable,
        true,
    ),
    case(
        "net.loopback_redis",
        Inside,
        "connect to Redis at 127.0.0.1:6379 and [::1]:6379",
        Unreachable,
        false,
    ),
    case(
        "net.service_api",
        Inside,
        "connect to the service's REST API port on 127.0.0.1",
        Unreachable,
        true,
    ),
    case(
        "net.engine_api",
        Inside,
        "connect to the engine's API port on 127.0.0.1",
        Unreachable,
        true,
    ),
    case(
        "net.loopback_canary_v4",
        Inside,
        "connect to the test's own listener on 127.0.0.1",
        Unreachable,
        true,
    ),
    case(
        "net.loopback_canary_v6",
        Inside,
        "connect to the test's own listener on [::1]",
        Unreachable,
        true,
    ),
    case(
        "net.loopback_every_port",
        Inside,
        "connect to every listening TCP port of /proc/net/tcp{,6} on 127.0.0.1 and ::1",
        Unreachable,
        true,
    ),
    case(
        "net.host_addresses",
        Inside,
        "connect to the host's non-loopback addresses on its wildcard-bound ports and the test's 0.0.0.0 listener",
        Unreachable,
        true,
    ),
    case(
        "net.b_runtime_api",
        InsidePython,
        "long-poll invocation/next on project B's Runtime API address",
        NoOtherRuntimeApi,
        true,
    ),
    case(
        "net.postgres_unix_socket",
        Inside,
        "connect to /var/run/postgresql/.s.PGSQL.5432",
        Unreachable,
        true,
    ),
    case(
        "net.abstract_unix_socket",
        InsidePython,
        "connect to the test's abstract unix socket (Node's net cannot name one)",
        Unreachable,
        true,
    ),
    case(
        "api.inside_list_functions",
        Inside,
        "ListFunctions, unsigned",
        UnreachableOrForbidden,
        false,
    ),
    case(
        "api.inside_get_configuration_b",
        Inside,
        "GetFunctionConfiguration of B's function (its environment's secret), unsigned",
        UnreachableOrForbidden,
        false,
    ),
    case(
        "api.inside_filter_log_events_b",
        Inside,
        "FilterLogEvents on B's log group (its secret line), unsigned",
        UnreachableOrForbidden,
        false,
    ),
    case(
        "api.inside_create_function",
        Inside,
        "CreateFunction, unsigned",
        UnreachableOrForbidden,
        false,
    ),
    case(
        "api.inside_invoke_b",
        Inside,
        "Invoke B's function, unsigned",
        UnreachableOrForbidden,
        false,
    ),
    case(
        "proc.foreign_processes",
        Inside,
        "list processes outside its own environment in /proc",
        Invisible,
        true,
    ),
    // Even unconfined, each environment has a uid of its own: the control cannot read B's.
    case(
        "proc.foreign_environ",
        Inside,
        "read /proc/<pid>/environ of every foreign process",
        Unreadable,
        false,
    ),
    case(
        "proc.foreign_roots",
        Inside,
        "read B's /tmp marker through /proc/<pid>/root and /cwd of every foreign process",
        Unreadable,
        false,
    ),
    case(
        "files.data_dirs",
        Inside,
        "read the service's and the engine's data directories (master key, engine key, functions)",
        Unreadable,
        false,
    ),
    case(
        "files.b_code",
        Inside,
        "read B's unpacked code and its zip",
        Unreadable,
        true,
    ),
    case(
        "files.b_tmp",
        Inside,
        "read the marker B wrote in its /tmp",
        Unreadable,
        true,
    ),
    case(
        "files.engine_work_dir",
        Inside,
        "list the engine's work directory",
        Unreadable,
        false,
    ),
    case("files.root_and_home", Inside, "list /root and /home", Unreadable, false),
    case(
        "files.checkout",
        Inside,
        "read this checkout's Cargo.toml and a world-readable file under /var/tmp (directories of the host's outside its system directories)",
        Unreadable,
        true,
    ),
    case(
        "api.outside_list_functions",
        Outside,
        "ListFunctions, unsigned (reqwest)",
        Forbidden,
        false,
    ),
    case(
        "api.outside_get_configuration_b",
        Outside,
        "GetFunctionConfiguration of B's function, unsigned (reqwest)",
        Forbidden,
        false,
    ),
    case(
        "api.outside_filter_log_events_b",
        Outside,
        "FilterLogEvents on B's log group, unsigned (reqwest)",
        Forbidden,
        false,
    ),
    case(
        "api.outside_create_function",
        Outside,
        "CreateFunction, unsigned (reqwest)",
        Forbidden,
        false,
    ),
    case(
        "api.outside_invoke_b",
        Outside,
        "Invoke B's function, unsigned (reqwest)",
        Forbidden,
        false,
    ),
    case(
        "api.outside_boto3_unknown_key",
        Outside,
        "boto3 with a key the engine never issued: ListFunctions, GetFunctionConfiguration, FilterLogEvents, Invoke",
        Forbidden,
        false,
    ),
    case(
        "res.fork_bomb",
        InsidePython,
        "start processes until refused, holding them while B runs",
        ForkStopsAtOwnLimit,
        false,
    ),
    case(
        "res.tmp_filler",
        InsidePython,
        "write /tmp until it is full, while B writes its own",
        TmpFullAtEphemeralStorage,
        false,
    ),
    case(
        "res.memory_hog",
        InsidePython,
        "touch memory 16 MB at a time in a 128 MB function",
        MemoryStoppedNearMemorySize,
        false,
    ),
    case(
        "zip.lying_size",
        SignedCaller,
        "CreateFunction with 300 MB of zeros whose headers claim 1 KB",
        ArchiveRefused,
        false,
    ),
    case(
        "zip.deflate_bomb",
        SignedCaller,
        "CreateFunction with 300 MB of zeros deflated to a few hundred KB, headers honest",
        ArchiveRefused,
        false,
    ),
    case(
        "zip.parent_path",
        SignedCaller,
        "CreateFunction with an entry `../escape.py`",
        ArchiveRefused,
        false,
    ),
    case(
        "zip.absolute_path",
        SignedCaller,
        "CreateFunction with an entry `/tmp/escape.py`",
        ArchiveRefused,
        false,
    ),
    case(
        "zip.symlink_out",
        SignedCaller,
        "CreateFunction with a symlink entry pointing at /etc/passwd",
        ArchiveRefused,
        false,
    ),
    case(
        "secret.b_in_answers",
        Inside,
        "find B's secret anywhere in what the attacker got back",
        SecretAbsent,
        true,
    ),
];

/// The runtimes that make a case's attempt from inside.
pub fn runtimes(from: Attacker) -> &'static [&'static str] {
    match from {
        Inside => &["python", "node"],
        InsidePython => &["python"],
        Outside | SignedCaller => &["test"],
    }
}

/// The attempts the table stands for: a case from inside counts once per runtime.
pub fn attempts_count() -> usize {
    CASES.iter().map(|c| runtimes(c.from).len()).sum()
}

/// The AWS error types an unsigned or unknown caller may get.
pub const REFUSALS: [&str; 3] = [
    "MissingAuthenticationTokenException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
];

/// Why `seen` is a leak for `expected`, if it is one. `seen` is what the attempt observed,
/// with what the test itself saw (a canary's count, B's own answer) folded in.
pub fn leak(expected: Expected, seen: &Value) -> Option<String> {
    let entries = seen.as_array().map(Vec::as_slice).unwrap_or_default();
    let leaked: Vec<&Value> = match expected {
        Unreachable => entries.iter().filter(|e| e["connected"] == true).collect(),
        NoOtherRuntimeApi => entries.iter().filter(|e| e["connected"] == true).collect(),
        UnreachableOrForbidden => entries
            .iter()
            .filter(|e| e.get("error").is_none() && !forbidden(e))
            .collect(),
        Forbidden => entries.iter().filter(|e| !forbidden(e)).collect(),
        Invisible => entries.iter().collect(),
        Unreadable => entries
            .iter()
            .filter(|e| e["read"] == true || e["entries"].as_array().is_some_and(|listed| !listed.is_empty()))
            .collect(),
        ForkStopsAtOwnLimit => {
            let stopped = seen["a"]["stopped_by"] == "EAGAIN";
            let b_spawned = seen["b"]["spawn_failures"].as_array().is_some_and(Vec::is_empty);
            return (!stopped || !b_spawned).then(|| format!("A {} / B {}", seen["a"], seen["b"]));
        }
        TmpFullAtEphemeralStorage => {
            let full = seen["a"]["stopped_by"] == "ENOSPC";
            let within = seen["a"]["written_mb"]
                .as_u64()
                .is_some_and(|mb| mb <= seen["ephemeral_storage_mb"].as_u64().unwrap_or(512) + 16);
            let b_wrote = seen["b"]["tmp_failures"].as_array().is_some_and(Vec::is_empty);
            return (!full || !within || !b_wrote).then(|| format!("A {} / B {}", seen["a"], seen["b"]));
        }
        MemoryStoppedNearMemorySize => {
            let stopped = seen["a"]["stopped_by"] != Value::Null;
            let near = seen["a"]["touched_mb"]
                .as_u64()
                .is_some_and(|mb| mb <= seen["memory_mb"].as_u64().unwrap_or(128) + 64);
            return (!stopped || !near).then(|| seen.to_string());
        }
        ArchiveRefused => {
            let refused = seen["status"] == 400 && seen["error_type"] == "InvalidParameterValueException";
            let serving = seen["engine_still_serves"] == true;
            return (!refused || !serving).then(|| seen.to_string());
        }
        SecretAbsent => entries.iter().collect(),
    };
    let canary = seen_by_canary(seen);
    match (leaked.is_empty(), canary) {
        (true, None) => None,
        (_, canary) => Some(format!(
            "{}{}",
            serde_json::to_string(&leaked).unwrap_or_default(),
            canary.unwrap_or_default()
        )),
    }
}

/// A 403 naming one of AWS's refusals: in the `X-Amzn-ErrorType` header (Lambda's REST
/// protocol), or as the body's `__type` (CloudWatch Logs' JSON protocol, where a namespace
/// may lead it).
fn forbidden(entry: &Value) -> bool {
    let header = entry["error_type"].as_str().unwrap_or_default();
    let body: Value = serde_json::from_str(entry["body"].as_str().unwrap_or_default()).unwrap_or_default();
    let in_body = body["__type"].as_str().unwrap_or_default();
    let in_body = in_body.rsplit('#').next().unwrap_or_default();
    entry["status"] == 403 && REFUSALS.iter().any(|r| header.starts_with(r) || in_body == *r)
}

fn seen_by_canary(seen: &Value) -> Option<String> {
    seen.as_array()?
        .iter()
        .find_map(|e| e["canary_accepted"].as_u64().filter(|n| *n > 0))
        .map(|n| format!(" (the test's listener accepted {n} connections)"))
}
