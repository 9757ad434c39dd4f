//! The AWS SDK each runtime ships, as AWS's managed runtimes put it in `/var/runtime`:
//! boto3 and botocore for Python, the AWS SDK for JavaScript v3 clients for Node.js, and
//! aws-sdk-core with service gems for Ruby. `lambda-steps runtimes install` (install.rs)
//! puts them in the runtimes directory (one directory per language, with a manifest naming
//! what is in it); the engine finds them at start and puts them on each runtime's module
//! path after the function's own code, so a function's bundled copy still wins as on AWS.
//! An SDK the sandbox user cannot read is not offered (see `withhold_unreadable`).

mod install;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sandbox_reach::{self, Blocked};
use lambda_rules::Language;

pub use install::{NODE_CLIENTS, NODE_SDK_VERSION, PYTHON_PACKAGES, RUBY_DEBIAN_PACKAGES, RUBY_GEMS, install_for_host};

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
    /// Languages (as `describe` names them) whose SDK is installed but not offered: the
    /// sandbox user cannot read it.
    pub withheld: Vec<&'static str>,
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
            withheld: Vec::new(),
        }
    }

    /// Stops offering each SDK the sandbox user (`user`: uid, gid) cannot read, and says
    /// so loudly with the fix. bubblewrap runs as that user and cannot bind-mount what it
    /// cannot reach: offered, such an SDK would fail every function of its language with
    /// "Can't find source path ...: Permission denied". Withheld, the functions run, and
    /// only an import of the SDK fails, with the language's own error. An SDK that is the
    /// host's own (Debian's Ruby gems, on Ruby's path) is not mounted, so it stays offered.
    pub fn withhold_unreadable(&mut self, user: (u32, u32), runtimes_dir: &Path) {
        let mounted = |sdk: &Option<Sdk>| sdk.as_ref().and_then(|sdk| sdk.module_dir.clone());
        let languages = [
            ("python", mounted(&self.python)),
            ("nodejs", mounted(&self.node)),
            ("ruby", mounted(&self.ruby)),
        ];
        // The whole directory first: one check, and one warning when it is the directory
        // (or one above it) that is closed, as under /root or in a private temp directory.
        let whole = match runtimes_dir.exists() {
            true => sandbox_reach::check_dir(user, runtimes_dir).err(),
            false => None,
        };
        let mut blocked: Vec<(Blocked, Vec<&'static str>)> = Vec::new();
        match whole {
            Some(at) => {
                let names = languages.iter().filter(|(_, dir)| dir.is_some()).map(|(name, _)| *name);
                blocked.push((at, names.collect()));
            }
            None => {
                for (name, dir) in &languages {
                    if let Some(Err(at)) = dir.as_ref().map(|dir| sandbox_reach::check_dir(user, dir)) {
                        blocked.push((at, vec![*name]));
                    }
                }
            }
        }
        for (at, names) in blocked {
            warn_unreadable(user, runtimes_dir, &at, &names);
            for name in names {
                match name {
                    "python" => self.python = None,
                    "nodejs" => self.node = None,
                    _ => self.ruby = None,
                }
                self.withheld.push(name);
            }
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
        let one = |name: &'static str, sdk: &Option<Sdk>| match sdk {
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
            None if self.withheld.contains(&name) => {
                format!("{name}: none (installed, but the sandbox user cannot read it: see the warning above)")
            }
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

/// The SDK of a language as `runtimes install` left it in `root`, if any.
fn read_manifest(root: &Path) -> Option<SdkManifest> {
    serde_json::from_str(&std::fs::read_to_string(root.join(MANIFEST)).ok()?).ok()
}

/// The service log's warning when the sandbox user cannot read SDKs: what stops it, what
/// functions lose, and both ways out.
fn warn_unreadable(user: (u32, u32), runtimes_dir: &Path, at: &Blocked, withheld: &[&str]) {
    let lost = match withheld {
        [] => "no SDK installed there could be offered to functions".to_string(),
        names => format!(
            "functions run without the AWS SDK of {} (importing it fails with the language's own error)",
            names.join(", ")
        ),
    };
    tracing::warn!(
        runtimes_dir = %runtimes_dir.display(),
        sandbox_uid = user.0,
        "the sandbox user (uid {uid}) cannot read the runtimes' AWS SDKs in {dir}: {at}; {lost}. \
         Fix: install them where that user can read them and start the service with that directory \
         (`lambda-steps runtimes install --runtimes-dir {RECOMMENDED_DIR}`, then `--runtimes-dir {RECOMMENDED_DIR}` \
         or LAMBDA_STEPS_RUNTIMES_DIR={RECOMMENDED_DIR}), or open the way: `{chmod}`",
        uid = user.0,
        dir = runtimes_dir.display(),
        chmod = at.chmod(),
    );
}

/// Where the SDKs go when the service runs as root: readable by the sandbox user, and where
/// `scripts/start` puts them.
const RECOMMENDED_DIR: &str = "/opt/lambda-steps-runtimes";

#[cfg(test)]
mod tests {
    use super::install::{wanted, write_manifest_dir};
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
        assert!(
            said.contains("python: aws-durable-execution-sdk-python 3.0.0, boto3 1.44.5, botocore 1.44.5 (pypi)"),
            "{said}"
        );
        assert!(
            said.contains("nodejs: none (run `lambda-steps runtimes install`)"),
            "{said}"
        );
    }

    /// The host's own Ruby SDK is on Ruby's path, not in the closed directory: it stays.
    #[test]
    fn only_the_sdks_mounted_from_a_closed_directory_are_withheld() {
        use std::os::unix::fs::PermissionsExt;
        let private = tempfile::tempdir().unwrap();
        std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let runtimes = private.path().join("runtimes");
        let python = SdkManifest {
            packages: wanted("python"),
            module_dir: Some("python".into()),
            source: "pypi".into(),
        };
        write_manifest_dir(&runtimes.join("python"), &python).unwrap();
        std::fs::create_dir(runtimes.join("python/python")).unwrap();
        let debian = SdkManifest {
            packages: [("aws-sdk-core".to_string(), "3.168.1".to_string())].into(),
            module_dir: None,
            source: "debian".into(),
        };
        write_manifest_dir(&runtimes.join("ruby"), &debian).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("not root: user code runs as this user, the engine checks nothing");
            return;
        }
        let mut sdks = RuntimeSdks::discover(&runtimes);
        sdks.withhold_unreadable((65534, 65534), &runtimes);
        let said = sdks.describe();
        assert!(sdks.ruby.is_some(), "{said}");
        assert!(sdks.python.is_none(), "{said}");
        assert_eq!(sdks.withheld, ["python"]);
        assert!(
            said.contains("python: none (installed, but the sandbox user cannot read it"),
            "{said}"
        );
        assert!(said.contains("ruby: aws-sdk-core 3.168.1 (debian)"), "{said}");
    }
}
