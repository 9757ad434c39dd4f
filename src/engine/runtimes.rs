//! The runtimes the engine knows, and how each starts on this host: which interpreter
//! (found on the host, whatever minor version the runtime names) and which bundled
//! bootstrap speaks the Runtime API for it.

use std::path::{Path, PathBuf};

/// The language family of a runtime identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    Node,
    Ruby,
    /// `provided.*`: the zip's own executable `bootstrap` is the runtime.
    Provided,
}

/// Every runtime identifier CreateFunction accepts.
pub const KNOWN_RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided",
    "provided.al2",
    "provided.al2023",
];

impl Language {
    pub fn of(runtime: &str) -> Option<Self> {
        if !KNOWN_RUNTIMES.contains(&runtime) {
            return None;
        }
        Some(if runtime.starts_with("python") {
            Self::Python
        } else if runtime.starts_with("nodejs") {
            Self::Node
        } else if runtime.starts_with("ruby") {
            Self::Ruby
        } else {
            Self::Provided
        })
    }

    /// The interpreter's command name, and what to install when it is missing.
    fn interpreter(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Python => Some(("python3", "Python 3 (Debian/Ubuntu: apt-get install python3)")),
            Self::Node => Some(("node", "Node.js 18 or newer (Debian/Ubuntu: apt-get install nodejs)")),
            Self::Ruby => Some(("ruby", "Ruby 3 (Debian/Ubuntu: apt-get install ruby)")),
            Self::Provided => None,
        }
    }

    /// The bundled bootstrap's file name and source.
    pub fn bootstrap(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Python => Some(("bootstrap.py", include_str!("bootstraps/bootstrap.py"))),
            Self::Node => Some(("bootstrap.mjs", include_str!("bootstraps/bootstrap.mjs"))),
            Self::Ruby => Some(("bootstrap.rb", include_str!("bootstraps/bootstrap.rb"))),
            Self::Provided => None,
        }
    }
}

/// Interpreters found on this host, one per language; `None` where missing.
#[derive(Debug, Clone, Default)]
pub struct Interpreters {
    pub python: Option<PathBuf>,
    pub node: Option<PathBuf>,
    pub ruby: Option<PathBuf>,
}

impl Interpreters {
    /// Finds each interpreter, preferring an explicit path, then the system directories
    /// (whose binaries the sandbox user can run), then `PATH`.
    pub fn discover(python: Option<PathBuf>, node: Option<PathBuf>, ruby: Option<PathBuf>) -> Self {
        // An explicit path that is not there counts as missing, so the error says so.
        let given = |path: Option<PathBuf>, name: &str| match path {
            Some(path) => is_executable(&path).then_some(path),
            None => find_command(name),
        };
        Self {
            python: given(python, "python3"),
            node: given(node, "node"),
            ruby: given(ruby, "ruby"),
        }
    }

    /// The interpreter of a language, or an error naming what to install.
    pub fn for_language(&self, language: Language) -> Result<Option<&Path>, RuntimeUnavailable> {
        let found = match language {
            Language::Python => &self.python,
            Language::Node => &self.node,
            Language::Ruby => &self.ruby,
            Language::Provided => return Ok(None),
        };
        match found {
            Some(path) => Ok(Some(path.as_path())),
            None => {
                let (command, install) = language.interpreter().expect("interpreted language");
                Err(RuntimeUnavailable::NoInterpreter { command, install })
            }
        }
    }
}

/// Why this host cannot run a runtime; the message names what to install.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeUnavailable {
    #[error("unknown runtime {0}")]
    Unknown(String),
    #[error(
        "The embedded Lambda engine cannot find `{command}` on this host to run this runtime: install {install}, or set its path in the engine settings"
    )]
    NoInterpreter {
        command: &'static str,
        install: &'static str,
    },
}

fn find_command(name: &str) -> Option<PathBuf> {
    let system = ["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from);
    let path = std::env::var_os("PATH").unwrap_or_default();
    system
        .into_iter()
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_runtime_identifiers_to_languages() {
        assert_eq!(Language::of("python3.12"), Some(Language::Python));
        assert_eq!(Language::of("nodejs20.x"), Some(Language::Node));
        assert_eq!(Language::of("ruby3.3"), Some(Language::Ruby));
        assert_eq!(Language::of("provided.al2023"), Some(Language::Provided));
        assert_eq!(Language::of("python2.7"), None);
        assert_eq!(Language::of("java21"), None);
    }

    #[test]
    fn a_missing_interpreter_names_what_to_install() {
        let none = Interpreters::default();
        let err = none.for_language(Language::Ruby).unwrap_err().to_string();
        assert!(err.contains("apt-get install ruby"), "{err}");
    }
}
