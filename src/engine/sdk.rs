//! The AWS SDK each runtime ships, as AWS's managed runtimes put it in `/var/runtime`:
//! boto3 and botocore for Python, the AWS SDK for JavaScript v3 clients for Node.js, and
//! aws-sdk-core with service gems for Ruby. `lambda-steps runtimes install` puts them in
//! the runtimes directory (one directory per language, with a manifest naming what is in
//! it); the engine finds them at start and puts them on each runtime's module path after
//! the function's own code, so a function's bundled copy still wins as on AWS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::lambda_rules::Language;

/// boto3 and botocore: the release the test suite's venv pins, a few weeks behind PyPI's
/// newest, as AWS's Python runtimes trail PyPI by weeks to months.
pub const PYTHON_PACKAGES: &[(&str, &str)] = &[("boto3", "1.44.5"), ("botocore", "1.44.5")];

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

/// The file in each language's directory that says what was installed there.
const MANIFEST: &str = "lambda-steps-sdk.json";

/// What `runtimes install` put in one language's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkManifest {
    /// Package → version, as installed.
    pub packages: BTreeMap<String, String>,
    /// The module directory below the language's directory (empty: the directory itself);
    /// none when the SDK is the host's own (Debian's Ruby gems, already on Ruby's path).
    pub module_dir: Option<String>,
    /// Where it came from: `pypi`, `npm`, `rubygems` or `debian`.
    pub source: String,
}

/// One language's SDK on this host.
#[derive(Debug, Clone)]
pub struct Sdk {
    pub manifest: SdkManifest,
    /// The module directory on the host; none for the host's own.
    pub module_dir: Option<PathBuf>,
}

/// The SDKs found in the runtimes directory, by language.
#[derive(Debug, Clone, Default)]
pub struct RuntimeSdks {
    pub python: Option<Sdk>,
    pub node: Option<Sdk>,
    pub ruby: Option<Sdk>,
}

impl RuntimeSdks {
    /// Reads the manifests under `dir`; a language without one has no SDK.
    pub fn discover(dir: &Path) -> Self {
        let read = |language: &str| -> Option<Sdk> {
            let root = dir.join(language);
            let text = std::fs::read_to_string(root.join(MANIFEST)).ok()?;
            let manifest: SdkManifest = serde_json::from_str(&text).ok()?;
            let module_dir = manifest.module_dir.as_ref().map(|sub| root.join(sub));
            Some(Sdk { manifest, module_dir })
        };
        Self {
            python: read("python"),
            node: read("node"),
            ruby: read("ruby"),
        }
    }

    pub fn for_language(&self, language: Language) -> Option<&Sdk> {
        match language {
            Language::Python => self.python.as_ref(),
            Language::Node => self.node.as_ref(),
            Language::Ruby => self.ruby.as_ref(),
            Language::Provided => None,
        }
    }

    /// One line per language for the engine's start: what it offers user code.
    pub fn describe(&self) -> String {
        let one = |name: &str, sdk: &Option<Sdk>| match sdk {
            Some(sdk) => format!(
                "{name}: {} ({})",
                sdk.manifest
                    .packages
                    .iter()
                    .map(|(p, v)| format!("{p} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                sdk.manifest.source
            ),
            None => format!("{name}: none (run `lambda-steps runtimes install`)"),
        };
        [
            one("python", &self.python),
            one("nodejs", &self.node),
            one("ruby", &self.ruby),
        ]
        .join("; ")
    }
}

/// The runtimes directory when none is set: under the data directory.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("runtimes")
}

/// `install`, with the interpreters found as the engine finds them.
pub fn install_for_host(dir: &Path, python: Option<PathBuf>) -> anyhow::Result<Vec<String>> {
    install(dir, &super::runtimes::Interpreters::discover(python, None, None))
}

/// Installs what is missing or out of date under `dir`, one language at a time; a
/// language already installed at these versions is left as it is (fast, no network).
/// Answers one line per language saying what it did; an error names the language and the
/// installer's own message.
fn install(dir: &Path, interpreters: &super::runtimes::Interpreters) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    open_to_all(dir)?;
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

/// Installs one language's SDK into a staging directory; answers what it installed.
type Installer = dyn Fn(&Path) -> anyhow::Result<SdkManifest>;

/// What a language's directory must hold to count as installed.
fn wanted(language: &str) -> BTreeMap<String, String> {
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

fn read_manifest(root: &Path) -> Option<SdkManifest> {
    serde_json::from_str(&std::fs::read_to_string(root.join(MANIFEST)).ok()?).ok()
}

fn write_manifest_dir(root: &Path, manifest: &SdkManifest) -> anyhow::Result<()> {
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
    use super::*;

    #[test]
    fn a_manifest_is_found_and_described() {
        let dir = tempfile::tempdir().unwrap();
        write_manifest_dir(
            &dir.path().join("python"),
            &SdkManifest {
                packages: wanted("python"),
                module_dir: Some("python".into()),
                source: "pypi".into(),
            },
        )
        .unwrap();
        let sdks = RuntimeSdks::discover(dir.path());
        let python = sdks.python.as_ref().unwrap();
        assert_eq!(
            python.module_dir.as_deref(),
            Some(dir.path().join("python/python").as_path())
        );
        let said = sdks.describe();
        assert!(said.contains("python: boto3 1.44.5, botocore 1.44.5 (pypi)"), "{said}");
        assert!(
            said.contains("nodejs: none (run `lambda-steps runtimes install`)"),
            "{said}"
        );
    }
}
