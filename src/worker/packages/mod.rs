//! A custom-code step's `packages`, installed once per (where the function runs, runtime,
//! architecture, package list) into a cache under the data directory that every run
//! shares, as a zip of the files a bundled dependency would add to the function's code
//! (Python: the package directories at the root; Node.js: `node_modules/`; Ruby:
//! `vendor/bundle/ruby/X.Y.0/`, where AWS's `GEM_PATH` looks). Runs with the same list
//! wait for one install: a lock per list in this process, a file lock across processes
//! sharing the data directory, and an atomic rename into place.
//!
//! Installing never runs a package's own code on this host: pip takes wheels only
//! (`--only-binary=:all:`), npm runs with `--ignore-scripts`, and a gem that has native
//! extensions to build is refused before it is installed.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use lambda_rules::Language;

mod archive;
mod install;

pub use archive::check_limits;
use archive::{unpacked_size, zip_tree};
use install::{ask, install};

/// Lambda's limit on a zip uploaded with CreateFunction.
pub const MAX_ZIPPED_BYTES: u64 = 50 * 1024 * 1024;
/// Lambda's limit on the unpacked code (function and layers).
pub const MAX_UNPACKED_BYTES: u64 = 250 * 1024 * 1024;
/// The architecture of the functions the runner creates on AWS (CreateFunction's default).
pub const AWS_ARCHITECTURE: &str = "x86_64";

/// The installers and what they install for.
#[derive(Debug, Clone)]
pub struct Installers {
    pub pip: PathBuf,
    pub npm: PathBuf,
    pub gem: PathBuf,
    /// The interpreters the embedded engine runs functions with, whose versions decide
    /// the wheels and gem directory of functions that run there.
    pub engine_python: Option<PathBuf>,
    pub engine_ruby: Option<PathBuf>,
    /// How long one install may take.
    pub timeout: Duration,
}

/// Where the function runs: the packages are installed for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// The embedded engine of this process: this host's interpreters and architecture.
    Engine,
    /// AWS Lambda or an endpoint that stands for it: Amazon Linux, [`AWS_ARCHITECTURE`].
    Aws,
}

/// The packages of one list, zipped and ready to add to a function's code.
#[derive(Debug)]
pub struct Bundle {
    pub zip: PathBuf,
    /// Found in the cache rather than installed now.
    pub cached: bool,
    /// Names the cache entry (a SHA-256 of what it was installed for).
    pub key: String,
    /// What it was installed for, as the run's log says it.
    pub target: String,
    pub unpacked_bytes: u64,
}

/// Why the packages cannot go into the function; the run's message.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{0}")]
    Install(String),
    #[error("{0}")]
    TooLarge(String),
}

/// The cache of installed package lists.
#[derive(Debug)]
pub struct PackageCache {
    dir: PathBuf,
    installers: Installers,
    installing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    engine_versions: tokio::sync::OnceCell<(Option<String>, Option<String>)>,
}

impl PackageCache {
    pub fn new(dir: PathBuf, installers: Installers) -> Self {
        Self {
            dir,
            installers,
            installing: Mutex::new(HashMap::new()),
            engine_versions: tokio::sync::OnceCell::new(),
        }
    }

    /// The zip of `packages` for `runtime` on `platform`: from the cache, or installed now.
    pub async fn bundle(&self, runtime: &str, platform: Platform, packages: &[String]) -> Result<Bundle, PackageError> {
        let language =
            Language::of(runtime).ok_or_else(|| PackageError::Install(format!("{runtime} takes no packages")))?;
        let plan = self.plan(language, runtime, platform).await?;
        let key = cache_key(&plan, runtime, packages);
        let zip = self.dir.join(format!("{key}.zip"));
        let bundle = |cached| -> Result<Bundle, PackageError> {
            Ok(Bundle {
                unpacked_bytes: unpacked_size(&zip)
                    .map_err(|e| PackageError::Install(format!("reading {}: {e}", zip.display())))?,
                zip: zip.clone(),
                cached,
                key: key.clone(),
                target: plan.describe(),
            })
        };
        if zip.exists() {
            return bundle(true);
        }
        let lock = self.installing.lock().entry(key.clone()).or_default().clone();
        let _in_process = lock.lock().await;
        std::fs::create_dir_all(&self.dir).map_err(|e| internal("creating the package cache", &e))?;
        let lock_path = self.dir.join(format!("{key}.lock"));
        let _across_processes = tokio::task::spawn_blocking(move || lock_exclusive(&lock_path))
            .await
            .map_err(|e| internal("locking the package cache", &e))?
            .map_err(|e| internal("locking the package cache", &e))?;
        if zip.exists() {
            return bundle(true);
        }
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&self.dir)
            .map_err(|e| internal("making a staging directory", &e))?;
        let root = install(&self.installers, &plan, packages, staging.path()).await?;
        let staged_zip = staging.path().join("bundle.zip");
        let (from, into, prefix) = (root.clone(), staged_zip.clone(), plan.zip_prefix());
        let unpacked = tokio::task::spawn_blocking(move || zip_tree(&from, &prefix, &into))
            .await
            .map_err(|e| internal("zipping the packages", &e))?
            .map_err(|e| internal("zipping the packages", &e))?;
        let zipped = std::fs::metadata(&staged_zip).map_or(0, |m| m.len());
        check_limits(zipped, unpacked)?;
        std::fs::rename(&staged_zip, &zip).map_err(|e| internal("moving the packages into the cache", &e))?;
        bundle(false)
    }

    /// What to install for: the engine's interpreter versions are asked once.
    async fn plan(&self, language: Language, runtime: &str, platform: Platform) -> Result<Plan, PackageError> {
        let version = match platform {
            Platform::Aws => aws_version(runtime),
            Platform::Engine => {
                let (python, ruby) = self
                    .engine_versions
                    .get_or_init(|| async {
                        let python = match &self.installers.engine_python {
                            Some(p) => ask(p, &["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).await,
                            None => None,
                        };
                        let ruby = match &self.installers.engine_ruby {
                            Some(r) => ask(r, &["-e", "print RbConfig::CONFIG['ruby_version']"]).await,
                            None => None,
                        };
                        (python, ruby)
                    })
                    .await;
                match language {
                    Language::Python => python.clone(),
                    Language::Ruby => ruby.clone(),
                    _ => Some(String::new()),
                }
            }
        };
        let version = version.ok_or_else(|| {
            PackageError::Install(format!(
                "cannot tell which {runtime} packages to install: the embedded engine's interpreter for it did not say its version"
            ))
        })?;
        let architecture = match platform {
            Platform::Aws => AWS_ARCHITECTURE.to_string(),
            Platform::Engine => std::env::consts::ARCH.to_string(),
        };
        Ok(Plan {
            language,
            platform,
            version,
            architecture,
        })
    }
}

/// What one install is for.
#[derive(Debug, Clone)]
struct Plan {
    language: Language,
    platform: Platform,
    /// Python `X.Y`, Ruby's gem directory version `X.Y.0`, empty for Node.js.
    version: String,
    architecture: String,
}

impl Plan {
    fn describe(&self) -> String {
        let place = match self.platform {
            Platform::Engine => "the embedded engine",
            Platform::Aws => "Lambda",
        };
        match self.language {
            Language::Python => format!("{place}, Python {} on {}", self.version, self.architecture),
            Language::Ruby => format!("{place}, Ruby {} on {}", self.version, self.architecture),
            _ => format!("{place} on {}", self.architecture),
        }
    }

    /// Where the installed tree goes in the function's zip.
    fn zip_prefix(&self) -> String {
        match self.language {
            Language::Node => "node_modules/".into(),
            Language::Ruby => format!("vendor/bundle/ruby/{}/", self.version),
            _ => String::new(),
        }
    }
}

/// `python3.12` is Python 3.12 and `ruby3.3` keeps its gems under 3.3.0 on AWS.
fn aws_version(runtime: &str) -> Option<String> {
    if let Some(version) = runtime.strip_prefix("python") {
        return Some(version.to_string());
    }
    if let Some(version) = runtime.strip_prefix("ruby") {
        return Some(format!("{version}.0"));
    }
    Some(String::new())
}

fn cache_key(plan: &Plan, runtime: &str, packages: &[String]) -> String {
    let mut hash = Sha256::new();
    let platform = match plan.platform {
        Platform::Engine => "engine",
        Platform::Aws => "aws",
    };
    hash.update(format!(
        "lambda-steps packages v1\n{platform}\n{runtime}\n{}\n{}\n",
        plan.architecture, plan.version
    ));
    for package in packages {
        hash.update(package.as_bytes());
        hash.update(b"\n");
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn internal(what: &str, e: &dyn std::fmt::Display) -> PackageError {
    PackageError::Install(format!("{what}: {e}"))
}

/// An exclusive lock on `path`, held while the returned file is open.
fn lock_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_code_over_lambdas_limits() {
        assert!(check_limits(MAX_ZIPPED_BYTES, MAX_UNPACKED_BYTES).is_ok());
        let zipped = check_limits(MAX_ZIPPED_BYTES + 1, 0).unwrap_err().to_string();
        assert!(zipped.contains("at most 50 MB"), "{zipped}");
        let unpacked = check_limits(1, MAX_UNPACKED_BYTES + 1).unwrap_err().to_string();
        assert!(unpacked.contains("at most 250 MB"), "{unpacked}");
    }

    #[test]
    fn the_same_list_for_another_place_or_runtime_is_another_entry() {
        let plan = |platform, version: &str| Plan {
            language: Language::Python,
            platform,
            version: version.into(),
            architecture: "x86_64".into(),
        };
        let six = ["six==1.16.0".to_string()];
        let aws = cache_key(&plan(Platform::Aws, "3.12"), "python3.12", &six);
        assert_eq!(aws, cache_key(&plan(Platform::Aws, "3.12"), "python3.12", &six));
        assert_ne!(aws, cache_key(&plan(Platform::Engine, "3.12"), "python3.12", &six));
        assert_ne!(aws, cache_key(&plan(Platform::Aws, "3.13"), "python3.13", &six));
        assert_ne!(aws, cache_key(&plan(Platform::Aws, "3.12"), "python3.12", &[]));
    }
}
