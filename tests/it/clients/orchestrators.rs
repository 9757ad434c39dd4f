//! What the orchestrator integrations' tests share: the venv with Airflow and ansible-core
//! (`LAMBDA_STEPS_ORCHESTRATOR_VENV`, made by scripts/deps.sh `ensure_orchestrator_venv`),
//! the packages built once per test run as a user builds them (`python -m build` of the
//! client and the Airflow provider, `ansible-galaxy collection build` and `install` of the
//! collection), and running a tool as a subprocess with a bound on its time.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

/// The venv of the integrations' tools. No test may skip: without it, the test fails and
/// says how to make it.
pub fn venv() -> PathBuf {
    let venv = std::env::var_os("LAMBDA_STEPS_ORCHESTRATOR_VENV").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "LAMBDA_STEPS_ORCHESTRATOR_VENV is not set: run scripts/test, or `source scripts/deps.sh; ensure_orchestrator_venv` (it installs integrations/requirements.txt)"
        )
    });
    assert!(
        venv.join("bin/airflow").exists() && venv.join("bin/ansible-playbook").exists(),
        "no Airflow or ansible-playbook in {}: run `source scripts/deps.sh; ensure_orchestrator_venv`",
        venv.display()
    );
    venv
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The built packages, as a user installs them.
pub struct Built {
    /// The client's and the provider's wheels installed (`pip install --target`): on
    /// PYTHONPATH, Python and Airflow find them, entry points included.
    pub site: PathBuf,
    /// `ansible-galaxy collection install` of the built collection: ANSIBLE_COLLECTIONS_PATH.
    pub collections: PathBuf,
    /// A migrated Airflow metadata database (SQLite) that each test copies.
    pub airflow_db: PathBuf,
    _dir: tempfile::TempDir,
}

/// Builds every package once per test run (a second caller waits for the first).
pub fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(build)
}

fn build() -> Built {
    let venv = venv();
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    let python = venv.join("bin/python");
    for package in ["clients/python", "integrations/airflow"] {
        // The build backend is in the venv already: no download per build.
        run_blocking(
            std::process::Command::new(&python)
                .args(["-m", "build", "--no-isolation", "--outdir"])
                .arg(&dist)
                .arg(root().join(package)),
            &format!("python -m build {package}"),
        );
    }
    let wheels: Vec<PathBuf> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "whl"))
        .collect();
    assert_eq!(
        wheels.len(),
        2,
        "a wheel each for the client and the provider: {wheels:?}"
    );
    let sdists = std::fs::read_dir(&dist)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().to_string_lossy().ends_with(".tar.gz"));
    assert_eq!(sdists.count(), 2, "an sdist each");
    let site = dir.path().join("site");
    run_blocking(
        std::process::Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--no-deps",
                "--target",
            ])
            .arg(&site)
            .args(&wheels),
        "pip install the wheels",
    );

    run_blocking(
        std::process::Command::new(venv.join("bin/ansible-galaxy"))
            .args(["collection", "build", "--output-path"])
            .arg(&dist)
            .arg(root().join("integrations/ansible")),
        "ansible-galaxy collection build",
    );
    let collection = dist.join("lambda_steps-runner-0.1.0.tar.gz");
    let collections = dir.path().join("collections");
    run_blocking(
        std::process::Command::new(venv.join("bin/ansible-galaxy"))
            .args(["collection", "install", "-p"])
            .arg(&collections)
            .arg(&collection),
        "ansible-galaxy collection install",
    );

    let airflow_home = dir.path().join("airflow");
    std::fs::create_dir_all(&airflow_home).unwrap();
    let mut migrate = std::process::Command::new(venv.join("bin/airflow"));
    airflow_env(&mut migrate, &airflow_home, &site);
    run_blocking(migrate.args(["db", "migrate"]), "airflow db migrate");
    Built {
        site,
        collections,
        airflow_db: airflow_home.join("airflow.db"),
        _dir: dir,
    }
}

/// The environment of an Airflow command: its home, a SQLite database in it, the test DAGs,
/// the built provider; no examples, no byte code written into the checkout.
pub fn airflow_env(command: &mut std::process::Command, home: &Path, site: &Path) {
    command
        .env("AIRFLOW_HOME", home)
        .env(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            format!("sqlite:///{}", home.join("airflow.db").display()),
        )
        .env(
            "AIRFLOW__CORE__DAGS_FOLDER",
            root().join("integrations/airflow/tests/dags"),
        )
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("PYTHONPATH", site)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("LAMBDA_STEPS_URL")
        .env_remove("LAMBDA_STEPS_TOKEN");
}

fn run_blocking(command: &mut std::process::Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What a tool did: its exit code and output.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to its end, killing it after `limit`.
pub async fn run(command: std::process::Command, limit: Duration) -> Ran {
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(limit, command.output())
        .await
        .unwrap_or_else(|_| panic!("{command:?} did not end within {limit:?}"))
        .unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
