//! The AWS SDK each runtime ships, as AWS's managed runtimes put it in `/var/runtime`:
//! boto3 and botocore for Python, the AWS SDK for JavaScript v3 clients for Node.js, and
//! aws-sdk-core with service gems for Ruby. `lambda-steps runtimes install` (install.rs)
//! puts them in the runtimes directory (one directory per language, with a manifest naming
//! what is in it); the engine finds them at start and puts them on each runtime's module
//! path after the function's own code, so a function's bundled copy still wins as on AWS.

mod install;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::lambda_rules::Language;

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

/// The SDK of a language as `runtimes install` left it in `root`, if any.
fn read_manifest(root: &Path) -> Option<SdkManifest> {
    serde_json::from_str(&std::fs::read_to_string(root.join(MANIFEST)).ok()?).ok()
}

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
        assert!(said.contains("python: boto3 1.44.5, botocore 1.44.5 (pypi)"), "{said}");
        assert!(
            said.contains("nodejs: none (run `lambda-steps runtimes install`)"),
            "{said}"
        );
    }
}
