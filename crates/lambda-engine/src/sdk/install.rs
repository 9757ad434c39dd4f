//! `lambda-steps runtimes install`: each runtime's AWS SDK at pinned versions, installed
//! into the runtimes directory one language at a time through a staging directory renamed
//! into place. One install into a directory runs at a time, across processes (a file lock):
//! `scripts/start` and `scripts/test` may both run one into the same directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{MANIFEST, SdkManifest, read_manifest};
use crate::runtimes::Interpreters;

/// boto3 and botocore: the release the test suite's venv pins, a few weeks behind PyPI's
/// newest, as AWS's Python runtimes trail PyPI by weeks to months. With them the SDK that
/// durable functions are written with (`@durable_execution`); it needs boto3 1.43.114 or
/// later, and Python 3.11 or later to import.
pub const PYTHON_PACKAGES: &[(&str, &str)] = &[
    ("boto3", "1.44.5"),
    ("botocore", "1.44.5"),
    ("aws-durable-execution-sdk-python", "3.0.0"),
];

/// The AWS SDK for JavaScript v3 release (all clients are released together), early
/// November 2026: AWS's Node.js runtimes ship a release a few weeks old.
pub const NODE_SDK_VERSION: &str = "3.1164.0";

/// The clients a runbook uses most.
pub const NODE_CLIENTS: &[&str] = &[
    "@aws-sdk/client-sts",
    "@aws-sdk/client-s3",
    "@aws-sdk/client-ec2",
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-ssm",
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-sns",
    "@aws-sdk/client-cloudwatch",
    "@aws-sdk/client-ecs",
    "@aws-sdk/client-auto-scaling",
    "@aws-sdk/client-secrets-manager",
];

/// aws-sdk-core (STS and SSO are inside it) and the same services' gems, from rubygems.org:
/// core and S3 at the releases Debian bookworm packages (so both paths give the same
/// ones), the other services at their newest 1.x that gem resolves against that core.
pub const RUBY_GEMS: &[(&str, &str)] = &[
    ("aws-sdk-core", "3.168.1"),
    ("aws-sdk-s3", "1.117.2"),
    ("aws-sdk-ec2", "~> 1"),
    ("aws-sdk-lambda", "~> 1"),
    ("aws-sdk-ssm", "~> 1"),
    ("aws-sdk-dynamodb", "~> 1"),
    ("aws-sdk-sqs", "~> 1"),
    ("aws-sdk-sns", "~> 1"),
    ("aws-sdk-cloudwatch", "~> 1"),
    ("aws-sdk-ecs", "~> 1"),
    ("aws-sdk-autoscaling", "~> 1"),
    ("aws-sdk-secretsmanager", "~> 1"),
];

/// The Debian packages of the Ruby SDK (bookworm ships aws-sdk-core 3.168.1 with STS,
/// aws-sdk-s3 and aws-sdk-kms; no other service gems), for hosts that cannot reach rubygems.org.
pub const RUBY_DEBIAN_PACKAGES: &str = "ruby-aws-sdk-core ruby-aws-sdk-s3";

/// `install`, with the interpreters found as the engine finds them.
pub fn install_for_host(dir: &Path, python: Option<PathBuf>) -> anyhow::Result<Vec<String>> {
    install(dir, &Interpreters::discover(python, None, None))
}

/// Installs what is missing or out of date under `dir`, one language at a time; a
/// language already installed at these versions is left as it is (fast, no network).
/// Answers one line per language saying what it did; an error names the language and the
/// installer's own message. Waits for another install into `dir` to finish first, then
/// finds what that one installed already there.
fn install(dir: &Path, interpreters: &Interpreters) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    open_to_all(dir)?;
    let _installing = lock_for_install(dir)?;
    let mut said = Vec::new();
    let mut failed = Vec::new();
    let python = interpreters.python.clone();
    let steps: [(&str, Box<Installer>); 3] = [
        (
            "python",
            Box::new(move |staging| install_python(staging, python.as_deref())),
        ),
        ("node", Box::new(install_node)),
        ("ruby", Box::new(install_ruby)),
    ];
    for (language, install) in steps {
        let want = wanted(language);
        let root = dir.join(language);
        if let Some(have) = read_manifest(&root)
            && have.packages == want
        {
            said.push(format!("{language}: already installed ({})", have.source));
            continue;
        }
        if language == "ruby"
            && let Some(system) = system_ruby_sdk()
        {
            write_manifest_dir(&root, &system)?;
            said.push(format!(
                "ruby: using the host's own Ruby SDK ({})",
                describe_packages(&system.packages)
            ));
            continue;
        }
        let staging = dir.join(format!(".{language}.partial"));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging)?;
        let started = std::time::Instant::now();
        match install(&staging) {
            Ok(manifest) => {
                std::fs::write(staging.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
                open_tree_to_all(&staging)?;
                let _ = std::fs::remove_dir_all(&root);
                std::fs::rename(&staging, &root)?;
                said.push(format!(
                    "{language}: installed {} from {} in {:.1} s",
                    describe_packages(&manifest.packages),
                    manifest.source,
                    started.elapsed().as_secs_f64()
                ));
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                failed.push(format!("{language}: {e:#}"));
            }
        }
    }
    if failed.is_empty() {
        Ok(said)
    } else {
        anyhow::bail!("{}\n(done: {})", failed.join("\n"), said.join("; "))
    }
}

/// The lock file in the runtimes directory. Without it two installs at once (scripts/start
/// beside scripts/test) share each language's staging directory: one deletes or renames
/// what the other is still writing, and both can fail or leave a half-installed language.
const INSTALL_LOCK: &str = ".install.lock";

/// An exclusive lock on `dir`'s installs, held while the returned file is open (the kernel
/// drops it if the process dies, so a killed install never blocks the next one).
fn lock_for_install(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join(INSTALL_LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!(
                "another `lambda-steps runtimes install` into {} is running; waiting for it to finish",
                dir.display()
            );
            file.lock().with_context(|| format!("locking {}", path.display()))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    Ok(file)
}

/// Installs one language's SDK into a staging directory; answers what it installed.
type Installer = dyn Fn(&Path) -> anyhow::Result<SdkManifest>;

/// What a language's directory must hold to count as installed.
pub(super) fn wanted(language: &str) -> BTreeMap<String, String> {
    let pairs: Vec<(String, String)> = match language {
        "python" => PYTHON_PACKAGES
            .iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect(),
        "node" => NODE_CLIENTS
            .iter()
            .map(|p| (p.to_string(), NODE_SDK_VERSION.to_string()))
            .collect(),
        _ => RUBY_GEMS.iter().map(|(p, v)| (p.to_string(), v.to_string())).collect(),
    };
    pairs.into_iter().collect()
}

fn describe_packages(packages: &BTreeMap<String, String>) -> String {
    packages
        .iter()
        .map(|(p, v)| format!("{p} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn write_manifest_dir(root: &Path, manifest: &SdkManifest) -> anyhow::Result<()> {
    std::fs::create_dir_all(root)?;
    open_to_all(root)?;
    std::fs::write(root.join(MANIFEST), serde_json::to_vec_pretty(manifest)?)?;
    open_tree_to_all(root)?;
    Ok(())
}

/// boto3 and botocore with pip, wheels only (no build step of any package runs here),
/// into one pure-Python directory every python3.x runtime shares.
fn install_python(staging: &Path, python: Option<&Path>) -> anyhow::Result<SdkManifest> {
    let python = python.context("no python3 on this host (Debian/Ubuntu: apt-get install python3 python3-venv)")?;
    let scratch = tempfile::tempdir()?;
    // The host's Python may lack pip (Debian's does); a throwaway venv brings its own.
    let pip: Vec<std::ffi::OsString> = if command_ok(python, &["-m", "pip", "--version"]) {
        vec![python.into(), "-m".into(), "pip".into()]
    } else {
        let venv = scratch.path().join("venv");
        run(
            std::process::Command::new(python).arg("-m").arg("venv").arg(&venv),
            "creating a venv for pip (Debian/Ubuntu: apt-get install python3-venv)",
        )?;
        vec![venv.join("bin/pip").into()]
    };
    let target = staging.join("python");
    let mut command = std::process::Command::new(&pip[0]);
    command
        .args(&pip[1..])
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--no-compile",
            "--only-binary=:all:",
            // The durable execution SDK asks for Python 3.11; on an older host Python the
            // rest still installs, and only a durable function fails, at its import.
            "--ignore-requires-python",
            "--target",
        ])
        .arg(&target)
        .args(PYTHON_PACKAGES.iter().map(|(p, v)| format!("{p}=={v}")))
        .env("PIP_CACHE_DIR", scratch.path().join("cache"));
    run(&mut command, "pip install")?;
    Ok(SdkManifest {
        packages: wanted("python"),
        module_dir: Some("python".into()),
        source: "pypi".into(),
    })
}

/// The JavaScript v3 clients with npm, install scripts off.
fn install_node(staging: &Path) -> anyhow::Result<SdkManifest> {
    let prefix = staging.join("node");
    std::fs::create_dir_all(&prefix)?;
    let scratch = tempfile::tempdir()?;
    let mut command = std::process::Command::new("npm");
    command
        .args([
            "install",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--no-package-lock",
            "--omit=dev",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&prefix)
        .args(NODE_CLIENTS.iter().map(|c| format!("{c}@{NODE_SDK_VERSION}")))
        .env("npm_config_cache", scratch.path().join("cache"));
    run(&mut command, "npm install (Debian/Ubuntu: apt-get install npm)")?;
    Ok(SdkManifest {
        packages: wanted("node"),
        module_dir: Some("node/node_modules".into()),
        source: "npm".into(),
    })
}

/// The gems from rubygems.org into a gem directory of their own (GEM_PATH).
fn install_ruby(staging: &Path) -> anyhow::Result<SdkManifest> {
    let gems = staging.join("gems");
    let mut command = std::process::Command::new("gem");
    command
        .args(["install", "--no-document", "--conservative", "--install-dir"])
        .arg(&gems);
    command.args(RUBY_GEMS.iter().map(|(g, v)| format!("{g}:{v}")));
    run(&mut command, "gem install").with_context(|| {
        format!(
            "the Ruby SDK comes from rubygems.org, which could not be reached or refused it; on Debian/Ubuntu install \
             {RUBY_DEBIAN_PACKAGES} instead (aws-sdk-core with STS, and S3) and run `lambda-steps runtimes install` again"
        )
    })?;
    Ok(SdkManifest {
        packages: wanted("ruby"),
        module_dir: Some("gems".into()),
        source: "rubygems".into(),
    })
}

/// The Ruby SDK the host's Ruby already finds (Debian's ruby-aws-sdk-* packages), with the
/// versions of the gems it has.
fn system_ruby_sdk() -> Option<SdkManifest> {
    let script = r#"require "aws-sdk-core"; puts "aws-sdk-core #{Aws::CORE_GEM_VERSION}"
%w[s3 ec2 lambda ssm dynamodb sqs sns cloudwatch ecs autoscaling secretsmanager kms].each do |s|
  begin
    require "aws-sdk-#{s}"
    version = Gem.loaded_specs["aws-sdk-#{s}"]&.version || (Gem::Specification.find_by_name("aws-sdk-#{s}").version rescue "unknown")
    puts "aws-sdk-#{s} #{version}"
  rescue LoadError
  end
end"#;
    let output = std::process::Command::new("ruby")
        .args(["-e", script])
        .env_remove("GEM_PATH")
        .env_remove("GEM_HOME")
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let packages: BTreeMap<String, String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(p, v)| (p.to_string(), v.trim().to_string()))
        .collect();
    (!packages.is_empty()).then(|| SdkManifest {
        packages,
        module_dir: None,
        source: "debian".into(),
    })
}

fn command_ok(program: &Path, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs an installer; its failure carries the installer's own last lines.
fn run(command: &mut std::process::Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("{what}: could not start {:?}", command.get_program()))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    anyhow::bail!(
        "{what} failed ({}):\n{}",
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
}

/// The sandbox user (nobody, when the engine runs as root) reads the SDKs.
fn open_to_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

fn open_tree_to_all(root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        open_to_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let mode = entry.metadata()?.permissions().mode();
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode | 0o444))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// No network: every language is already installed (as a finished install leaves
    /// it), so what is measured is only whether `install` waits for the directory.
    #[test]
    fn an_install_waits_for_the_one_running_in_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        for (language, source) in [("python", "pypi"), ("node", "npm"), ("ruby", "rubygems")] {
            let manifest = SdkManifest {
                packages: wanted(language),
                module_dir: Some(language.into()),
                source: source.into(),
            };
            write_manifest_dir(&dir.path().join(language), &manifest).unwrap();
        }
        // The running install's lock, on its own open of the lock file as another
        // process's would be: the lock belongs to the open file, not to the process.
        let running = lock_for_install(dir.path()).unwrap();
        let (finished, done) = mpsc::channel();
        let second = std::thread::spawn({
            let dir = dir.path().to_path_buf();
            move || finished.send(install(&dir, &Interpreters::default()).map_err(|e| format!("{e:#}")))
        });
        assert!(
            done.recv_timeout(Duration::from_millis(300)).is_err(),
            "a second install went ahead while the first held the directory"
        );
        drop(running);
        let said = done
            .recv_timeout(Duration::from_secs(10))
            .expect("the second install goes ahead once the first is done")
            .unwrap();
        second.join().unwrap().unwrap();
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(said.iter().all(|line| line.contains("already installed")), "{said:?}");
    }
}
