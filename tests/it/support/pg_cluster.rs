//! A Postgres cluster of one test's own, for fault tests: `initdb` into a temporary
//! directory, a free port, started, restarted and stopped with `pg_ctl` by the test, and
//! removed when dropped. Never the machine's shared server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::free_port;

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

impl PgCluster {
    /// Creates and starts a cluster with trust authentication for `postgres`.
    pub async fn start() -> Self {
        let bin = newest_bin_dir();
        let dir = tempfile::tempdir().unwrap();
        // Postgres refuses to run as root: the cluster then belongs to `postgres`.
        if is_root() {
            run(
                "chown",
                &["-R".into(), "postgres:".into(), dir.path().display().to_string()],
            )
            .await;
        }
        let cluster = Self {
            bin,
            port: free_port(),
            dir,
        };
        cluster
            .pg(
                "initdb",
                &["-D", &cluster.data(), "-A", "trust", "-U", "postgres", "--no-sync"],
            )
            .await;
        cluster.start_again().await;
        cluster
    }

    /// A connection URL for database `name` (created by the service when missing).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Starts the stopped server and waits until it accepts connections.
    pub async fn start_again(&self) {
        let options = self.options();
        self.pg_ctl(&["start", "-w", "-o", &options, "-l", &self.server_log()])
            .await;
    }

    /// `pg_ctl restart -m fast`: every session is ended (57P01), the server is down for a
    /// moment and comes back.
    pub async fn restart(&self) {
        let options = self.options();
        self.pg_ctl(&["restart", "-m", "fast", "-w", "-o", &options, "-l", &self.server_log()])
            .await;
    }

    /// `pg_ctl stop -m fast`: sessions ended, nothing listens until `start_again`.
    pub async fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w"]).await;
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn server_log(&self) -> String {
        self.dir.path().join("server.log").display().to_string()
    }

    fn options(&self) -> String {
        format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        )
    }

    async fn pg_ctl(&self, args: &[&str]) {
        let data = self.data();
        let mut all = vec!["-D", data.as_str()];
        all.extend_from_slice(args);
        self.pg("pg_ctl", &all).await;
    }

    async fn pg(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program).display().to_string();
        let mut argv = vec![program];
        argv.extend(args.iter().map(|a| a.to_string()));
        if is_root() {
            let mut wrapped = vec!["-u".to_string(), "postgres".into(), "--".into()];
            wrapped.extend(argv);
            run("runuser", &wrapped).await;
        } else {
            let (program, rest) = argv.split_first().unwrap();
            run(program, rest).await;
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl").display().to_string();
        let data = self.data();
        let args = [pg_ctl.as_str(), "-D", data.as_str(), "stop", "-m", "immediate", "-w"];
        let _ = if is_root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .output()
        } else {
            std::process::Command::new(args[0]).args(&args[1..]).output()
        };
    }
}

async fn run(program: &str, args: &[String]) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(program).args(args).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{program} {args:?} took over a minute"))
    .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The newest installed PostgreSQL's binaries (Debian keeps them per version).
fn newest_bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql (scripts/test installs it)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| Path::new(bin).join("initdb").exists())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().expect("an initdb under /usr/lib/postgresql/*/bin")
}
