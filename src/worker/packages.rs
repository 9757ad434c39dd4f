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

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::lambda_rules::Language;

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
        let lock = self
            .installing
            .lock()
            .expect("package lock map")
            .entry(key.clone())
            .or_default()
            .clone();
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

/// Installs into `staging`; answers the directory whose tree goes into the zip.
async fn install(
    installers: &Installers,
    plan: &Plan,
    packages: &[String],
    staging: &Path,
) -> Result<PathBuf, PackageError> {
    let target = staging.join("install");
    std::fs::create_dir_all(&target).map_err(|e| internal("making the install directory", &e))?;
    match plan.language {
        Language::Python => {
            let mut args: Vec<String> = [
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--no-compile",
                "--only-binary=:all:",
                "--implementation",
                "cp",
            ]
            .map(String::from)
            .into();
            args.extend(["--python-version".into(), plan.version.clone()]);
            if plan.platform == Platform::Aws {
                args.extend(["--platform".into(), format!("manylinux2014_{}", plan.architecture)]);
            }
            args.extend(["--target".into(), target.display().to_string()]);
            args.extend(packages.iter().cloned());
            run(installers, &installers.pip, "pip", &args, staging).await?;
            Ok(target)
        }
        Language::Node => {
            // An empty project, so npm neither climbs to a parent's package.json nor saves one.
            std::fs::write(target.join("package.json"), "{}\n").map_err(|e| internal("writing package.json", &e))?;
            let mut args: Vec<String> = [
                "install",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--no-package-lock",
                "--omit=dev",
                "--prefix",
            ]
            .map(String::from)
            .into();
            args.push(target.display().to_string());
            if plan.platform == Platform::Aws {
                args.extend(["--os=linux".into(), format!("--cpu={}", npm_cpu(&plan.architecture))]);
            }
            args.extend(packages.iter().cloned());
            run(installers, &installers.npm, "npm", &args, staging).await?;
            Ok(target.join("node_modules"))
        }
        Language::Ruby => {
            let fetched = staging.join("fetched");
            std::fs::create_dir_all(&fetched).map_err(|e| internal("making the fetch directory", &e))?;
            for package in packages {
                let (name, version) = match package.split_once(':') {
                    Some((name, version)) => (name, Some(version)),
                    None => (package.as_str(), None),
                };
                let mut args = vec!["fetch".to_string(), name.to_string()];
                if let Some(version) = version {
                    args.extend(["--version".into(), version.into()]);
                }
                let before = gem_files(&fetched)?.len();
                let output = run(installers, &installers.gem, "gem fetch", &args, &fetched).await?;
                // gem fetch says it found nothing, and still exits 0.
                if gem_files(&fetched)?.len() == before {
                    return Err(PackageError::Install(format!(
                        "gem fetch found no gem for {package}: {}",
                        installer_message(&output.stderr, &output.stdout)
                    )));
                }
            }
            let gems = gem_files(&fetched)?;
            for gem in &gems {
                let spec = gem.display().to_string();
                let extensions = run(
                    installers,
                    &installers.gem,
                    "gem spec",
                    &["spec".into(), spec.clone(), "extensions".into()],
                    &fetched,
                )
                .await?;
                let has_extensions = String::from_utf8_lossy(&extensions.stdout)
                    .lines()
                    .any(|l| l.trim_start().starts_with("- "));
                if has_extensions {
                    return Err(PackageError::Install(format!(
                        "{} has native extensions to build, which is not done on the service's host; use a gem without them",
                        gem.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or(spec)
                    )));
                }
            }
            let mut args: Vec<String> = [
                "install",
                "--local",
                "--no-document",
                "--ignore-dependencies",
                "--install-dir",
            ]
            .map(String::from)
            .into();
            args.push(target.display().to_string());
            args.extend(gems.iter().map(|g| g.display().to_string()));
            run(installers, &installers.gem, "gem install", &args, &fetched).await?;
            // What a function requires: the gems and their specifications, not the caches.
            let _ = std::fs::remove_dir_all(target.join("cache"));
            Ok(target)
        }
        Language::Provided => Err(PackageError::Install("this runtime takes no packages".into())),
    }
}

fn npm_cpu(architecture: &str) -> &'static str {
    if architecture == "arm64" { "arm64" } else { "x64" }
}

fn gem_files(dir: &Path) -> Result<Vec<PathBuf>, PackageError> {
    let mut gems: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| internal("reading fetched gems", &e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "gem"))
        .collect();
    gems.sort();
    Ok(gems)
}

/// Runs an installer, without the service's own secrets in its environment; answers its
/// output, or its error lines as the run's message.
async fn run(
    installers: &Installers,
    program: &Path,
    what: &str,
    args: &[String],
    dir: &Path,
) -> Result<std::process::Output, PackageError> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("LAMBDA_STEPS_") || name.starts_with("AWS_") || name == "DATABASE_URL" {
            command.env_remove(name.as_ref());
        }
    }
    let output = match tokio::time::timeout(installers.timeout, command.output()).await {
        Err(_) => {
            return Err(PackageError::Install(format!(
                "{what} took longer than {} s and was stopped",
                installers.timeout.as_secs()
            )));
        }
        Ok(Err(e)) => {
            return Err(PackageError::Install(format!(
                "cannot run {what} ({}): {e}; install it on the service's host or set its path (--pip, --npm, --gem)",
                program.display()
            )));
        }
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(output);
    }
    let status = output
        .status
        .code()
        .map_or_else(|| "a signal".to_string(), |c| c.to_string());
    Err(PackageError::Install(format!(
        "{what} failed (exit status {status}): {}",
        installer_message(&output.stderr, &output.stdout)
    )))
}

/// The lines of an installer's output that say what went wrong, at most 2,000 characters.
fn installer_message(stderr: &[u8], stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(if stderr.iter().any(|b| !b.is_ascii_whitespace()) {
        stderr
    } else {
        stdout
    });
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    // npm ends with lines that say nothing of the package: a bare status code, where its
    // debug log is.
    let says_something = |line: &str| {
        let rest = line
            .trim_start_matches("npm error")
            .trim_start_matches("npm ERR!")
            .trim();
        !rest.is_empty() && !rest.bytes().all(|b| b.is_ascii_digit()) && !rest.starts_with("A complete log of this run")
    };
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("ERROR") || l.starts_with("npm error") || l.starts_with("npm ERR!"))
        .filter(|l| says_something(l))
        .collect();
    let chosen = if errors.is_empty() {
        &lines[lines.len().saturating_sub(10)..]
    } else {
        &errors[..]
    };
    let message = chosen.join("\n");
    match message.char_indices().nth(2000) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

async fn ask(program: &Path, args: &[&str]) -> Option<String> {
    let output = tokio::process::Command::new(program).args(args).output().await.ok()?;
    let answer = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !answer.is_empty()).then_some(answer)
}

fn internal(what: &str, e: &dyn std::fmt::Display) -> PackageError {
    PackageError::Install(format!("{what}: {e}"))
}

/// Refuses packages over Lambda's limits (the function's own code comes on top).
pub fn check_limits(zipped: u64, unpacked: u64) -> Result<(), PackageError> {
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    if zipped > MAX_ZIPPED_BYTES {
        return Err(PackageError::TooLarge(format!(
            "the function's code with its packages is {:.1} MB zipped; Lambda takes at most 50 MB in a direct upload",
            mb(zipped)
        )));
    }
    if unpacked > MAX_UNPACKED_BYTES {
        return Err(PackageError::TooLarge(format!(
            "the function's code with its packages is {:.1} MB unpacked; Lambda takes at most 250 MB",
            mb(unpacked)
        )));
    }
    Ok(())
}

/// The sum of the zip's uncompressed sizes.
pub fn unpacked_size(zip: &Path) -> std::io::Result<u64> {
    let archive = zip::ZipArchive::new(std::fs::File::open(zip)?).map_err(std::io::Error::other)?;
    Ok(archive.decompressed_size().map_or(0, |n| n as u64))
}

/// Zips the files under `root` (symbolic links left out: npm's `.bin` shims) under
/// `prefix`, keeping the executable bit; answers the unpacked size.
fn zip_tree(root: &Path, prefix: &str, into: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::PermissionsExt;
    let mut writer = zip::ZipWriter::new(std::fs::File::create(into)?);
    let mut unpacked = 0;
    let mut pending = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    for path in files {
        let relative = path.strip_prefix(root).map_err(std::io::Error::other)?;
        let name = format!("{prefix}{}", relative.to_string_lossy());
        let metadata = std::fs::metadata(&path)?;
        let mode = if metadata.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        let options = zip::write::SimpleFileOptions::default()
            .unix_permissions(mode)
            .large_file(metadata.len() >= u64::from(u32::MAX));
        writer.start_file(name, options).map_err(std::io::Error::other)?;
        std::io::copy(&mut std::fs::File::open(&path)?, &mut writer)?;
        unpacked += metadata.len();
    }
    writer.finish().map_err(std::io::Error::other)?.flush()?;
    Ok(unpacked)
}

/// An exclusive lock on `path`, held while the returned file is open.
fn lock_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    // SAFETY: flock on a descriptor this function owns; released when the file closes.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installers_error_lines_are_its_message() {
        let pip = b"Collecting x\nERROR: Could not find a version that satisfies the requirement no-such-pkg==1.0 (from versions: none)\nERROR: No matching distribution found for no-such-pkg==1.0\n";
        assert_eq!(
            installer_message(pip, b""),
            "ERROR: Could not find a version that satisfies the requirement no-such-pkg==1.0 (from versions: none)\nERROR: No matching distribution found for no-such-pkg==1.0"
        );
        assert_eq!(installer_message(b"", b"a\nb\n"), "a\nb");
        let npm = b"npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/nope - Not found\nnpm error 404\nnpm error A complete log of this run can be found in: /x.log\n";
        assert_eq!(
            installer_message(npm, b""),
            "npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/nope - Not found"
        );
    }

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
