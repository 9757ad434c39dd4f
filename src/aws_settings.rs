//! AWS settings by Rundeck's names, resolved project over framework over default:
//! framework settings come from a TOML file (`[aws]` table) and `LAMBDA_STEPS_AWS_*`
//! variables (the environment wins); project settings are stored per project. A secret
//! key is only ever a path into key storage, opened in memory when a client is built.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use utoipa::ToSchema;

/// The setting names, as `aws.<name>` (framework) and `project.aws.<name>` (project).
pub const NAMES: &[&str] = &[
    "access_key",
    "secret_key_path",
    "region",
    "endpoint_url",
    "assume_role_arn",
    "external_id",
    "lambda_role_arn",
    "function_credentials",
    "function_endpoint_url",
];

/// Values when neither level sets them.
fn default_of(name: &str) -> Option<&'static str> {
    match name {
        "region" => Some("us-east-1"),
        "endpoint_url" => Some("embedded"),
        "function_credentials" => Some("role"),
        _ => None,
    }
}

/// What user code on the embedded engine gets as credentials (`function_credentials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionCredentials {
    /// Its execution role's temporary credentials, assumed with the project's.
    Role,
    /// None at all.
    None,
}

impl FunctionCredentials {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "role" => Some(Self::Role),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// Framework settings, by short name.
#[derive(Debug, Clone, Default)]
pub struct Framework(BTreeMap<String, String>);

impl Framework {
    /// The TOML file (if any), then the environment over it.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut values = BTreeMap::new();
        let default_file = Path::new("lambda-steps.toml");
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        if let Some(file) = file {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            let table: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
            if let Some(aws) = table.get("aws").and_then(|v| v.as_table()) {
                for (key, value) in aws {
                    anyhow::ensure!(
                        NAMES.contains(&key.as_str()),
                        "{}: unknown setting aws.{key}",
                        file.display()
                    );
                    let value = value
                        .as_str()
                        .with_context(|| format!("{}: aws.{key} must be a string", file.display()))?;
                    values.insert(key.clone(), value.to_string());
                }
            }
        }
        for name in NAMES {
            if let Ok(value) = std::env::var(format!("LAMBDA_STEPS_AWS_{}", name.to_uppercase())) {
                values.insert(name.to_string(), value);
            }
        }
        Ok(Self(values))
    }

    /// Command-line flags (and their variables) over the file.
    pub fn with_flags(
        mut self,
        endpoint_url: Option<&str>,
        region: Option<&str>,
        lambda_role_arn: Option<&str>,
    ) -> Self {
        for (name, value) in [
            ("endpoint_url", endpoint_url),
            ("region", region),
            ("lambda_role_arn", lambda_role_arn),
        ] {
            if let Some(value) = value {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Project,
    Framework,
    Default,
}

/// One resolved setting, as `GET .../settings` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Resolved {
    pub value: Option<String>,
    pub source: Option<Source>,
}

/// Every setting of a project, resolved: `project.aws.<name>` → value and source.
pub fn resolve(framework: &Framework, project: &BTreeMap<String, String>) -> BTreeMap<String, Resolved> {
    NAMES
        .iter()
        .map(|name| {
            let key = format!("project.aws.{name}");
            let (value, source) = if let Some(v) = project.get(&key) {
                (Some(v.clone()), Some(Source::Project))
            } else if let Some(v) = framework.get(name) {
                (Some(v.to_string()), Some(Source::Framework))
            } else if let Some(v) = default_of(name) {
                (Some(v.to_string()), Some(Source::Default))
            } else {
                (None, None)
            };
            (key, Resolved { value, source })
        })
        .collect()
}

/// Why a project setting is refused; the message shown for its field.
#[derive(Debug, thiserror::Error)]
pub enum SettingRefused {
    #[error("unknown setting; the names are {}", NAMES.iter().map(|n| format!("project.aws.{n}")).collect::<Vec<_>>().join(", "))]
    UnknownName,
    /// The setting's rule, in words.
    #[error("{0}")]
    Invalid(&'static str),
}

/// Checks one project setting before it is stored.
/// The short name of a project setting's key (`project.aws.region` → `region`).
pub fn setting_name(key: &str) -> Result<&str, SettingRefused> {
    key.strip_prefix("project.aws.")
        .filter(|n| NAMES.contains(n))
        .ok_or(SettingRefused::UnknownName)
}

pub fn validate(key: &str, value: &str) -> Result<(), SettingRefused> {
    let name = setting_name(key)?;
    let ok = match name {
        "endpoint_url" => {
            value == "embedded" || value == "aws" || value.starts_with("http://") || value.starts_with("https://")
        }
        "secret_key_path" => !value.is_empty() && !value.contains("..") && value.chars().count() <= 512,
        "access_key" => !value.is_empty() && value.len() <= 128 && value.chars().all(|c| c.is_ascii_alphanumeric()),
        "function_credentials" => FunctionCredentials::parse(value).is_some(),
        "function_endpoint_url" => {
            (value.starts_with("http://") || value.starts_with("https://"))
                && value.chars().count() <= 2048
                && !value.contains('\0')
        }
        _ => !value.is_empty() && value.chars().count() <= 2048,
    };
    if ok {
        Ok(())
    } else {
        Err(SettingRefused::Invalid(match name {
            "endpoint_url" => "must be embedded, aws, or an http(s) URL",
            "secret_key_path" => "must be a key storage path (the secret itself is stored with PUT /v1/keys/{path})",
            "access_key" => "must be an access key id (letters and digits)",
            "function_credentials" => "must be role or none",
            "function_endpoint_url" => "must be an http(s) URL",
            _ => "must be a non-empty string",
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_wins_over_framework_over_default() {
        let framework = Framework(BTreeMap::from([
            ("region".into(), "eu-west-1".into()),
            ("access_key".into(), "AKIDFRAMEWORK".into()),
        ]));
        let project = BTreeMap::from([("project.aws.access_key".to_string(), "AKIDPROJECT".to_string())]);
        let resolved = resolve(&framework, &project);
        assert_eq!(resolved["project.aws.access_key"].value.as_deref(), Some("AKIDPROJECT"));
        assert_eq!(resolved["project.aws.access_key"].source, Some(Source::Project));
        assert_eq!(resolved["project.aws.region"].source, Some(Source::Framework));
        assert_eq!(resolved["project.aws.endpoint_url"].value.as_deref(), Some("embedded"));
        assert_eq!(resolved["project.aws.endpoint_url"].source, Some(Source::Default));
        assert_eq!(resolved["project.aws.lambda_role_arn"].value, None);
        assert!(validate("project.aws.secret_key", "x").is_err());
        assert!(validate("project.aws.endpoint_url", "ftp://x").is_err());
        assert!(validate("project.aws.region", "us-east-2").is_ok());
        assert_eq!(
            resolved["project.aws.function_credentials"].value.as_deref(),
            Some("role")
        );
        assert_eq!(
            resolved["project.aws.function_credentials"].source,
            Some(Source::Default)
        );
        assert_eq!(resolved["project.aws.function_endpoint_url"].value, None);
        assert!(validate("project.aws.function_credentials", "none").is_ok());
        assert!(validate("project.aws.function_credentials", "keys").is_err());
        assert!(validate("project.aws.function_endpoint_url", "http://127.0.0.1:5000").is_ok());
        assert!(validate("project.aws.function_endpoint_url", "embedded").is_err());
    }

    #[test]
    fn framework_settings_come_from_the_toml_file_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lambda-steps.toml");
        std::fs::write(
            &file,
            "[aws]\nregion = \"ap-south-1\"\naccess_key = \"AKIDFILE\"\nsecret_key_path = \"aws/key\"\n",
        )
        .unwrap();
        let framework = Framework::load(Some(&file))
            .unwrap()
            .with_flags(None, Some("eu-north-1"), None);
        assert_eq!(framework.get("access_key"), Some("AKIDFILE"));
        assert_eq!(framework.get("region"), Some("eu-north-1"), "a flag wins over the file");
        let resolved = resolve(&framework, &BTreeMap::new());
        assert_eq!(resolved["project.aws.secret_key_path"].source, Some(Source::Framework));
        std::fs::write(&file, "[aws]\nsecret_key = \"never a value\"\n").unwrap();
        let err = Framework::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("unknown setting aws.secret_key"), "{err}");
    }
}
