//! AWS settings by Rundeck's names, resolved project over framework over default:
//! framework settings come from a TOML file (`[aws]` table), `LAMBDA_STEPS_AWS_*`
//! variables and the command line; project settings are stored per project. A secret key
//! is only ever a path into key storage, opened in memory when a client is built.
//!
//! `definition.rs` is the one place a setting is named, given its default and its rule;
//! the framework's reading (`framework.rs`), the settings API's check (here), the resolved
//! view and the typed `ResolvedAws` (`resolve.rs`) and the spec all come from it.

mod definition;
mod framework;
mod resolve;

pub use definition::{Endpoint, FunctionCredentials, NO_NUL, Name, Rule, SETTINGS, Setting};
pub use framework::Framework;
pub use resolve::{Misconfigured, Resolved, ResolvedAws, Source, resolve, resolve_project};

/// Why a project setting is refused; the message shown for its field.
#[derive(Debug, thiserror::Error)]
pub enum SettingRefused {
    #[error(
        "unknown setting; the names are {}",
        Name::all().map(Name::project_key).collect::<Vec<_>>().join(", ")
    )]
    UnknownName,
    /// The setting's rule, in words.
    #[error("{0}")]
    Invalid(&'static str),
}

/// The setting a project key names (`project.aws.region`).
pub fn setting_name(key: &str) -> Result<Name, SettingRefused> {
    Name::from_project_key(key).ok_or(SettingRefused::UnknownName)
}

/// Checks one project setting before it is stored.
pub fn validate(key: &str, value: &str) -> Result<(), SettingRefused> {
    setting_name(key)?.check(value).map_err(SettingRefused::Invalid)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn framework(values: &[(Name, &str)]) -> Framework {
        Framework::of(values.iter().map(|(n, v)| (*n, v.to_string())).collect()).unwrap()
    }

    #[test]
    fn project_wins_over_framework_over_default() {
        let framework = framework(&[(Name::Region, "eu-west-1"), (Name::AccessKey, "AKIDFRAMEWORK")]);
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

        let typed = resolve_project(&framework, &project).unwrap();
        assert_eq!(typed.access_key.as_deref(), Some("AKIDPROJECT"));
        assert_eq!(typed.region, "eu-west-1");
        assert_eq!(typed.endpoint, Endpoint::Embedded);
        assert_eq!(typed.function_credentials, FunctionCredentials::Role);
        assert_eq!(typed.lambda_role_arn, None);
    }

    #[test]
    fn a_stored_value_its_rule_now_refuses_names_the_setting_and_never_the_value() {
        let project = BTreeMap::from([("project.aws.endpoint_url".to_string(), "ftp://secretish".to_string())]);
        let refused = resolve_project(&framework(&[]), &project).unwrap_err().to_string();
        assert_eq!(
            refused,
            "aws.endpoint_url (set by the project) must be embedded, aws, or an http(s) URL"
        );
        let project = BTreeMap::from([("project.aws.endpoint_url".to_string(), "https://moto:5000".to_string())]);
        let typed = resolve_project(&framework(&[]), &project).unwrap();
        assert_eq!(typed.endpoint, Endpoint::Url("https://moto:5000".into()));
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
        let framework = Framework::load(Some(&file), [(Name::Region, "eu-north-1".to_string())]).unwrap();
        assert_eq!(framework.get(Name::AccessKey), Some("AKIDFILE"));
        assert_eq!(
            framework.get(Name::Region),
            Some("eu-north-1"),
            "a flag wins over the file"
        );
        assert_eq!(framework.aws().region, "eu-north-1");
        let resolved = resolve(&framework, &BTreeMap::new());
        assert_eq!(resolved["project.aws.secret_key_path"].source, Some(Source::Framework));
        std::fs::write(&file, "[aws]\nsecret_key = \"never a value\"\n").unwrap();
        let err = Framework::load(Some(&file), []).unwrap_err().to_string();
        assert!(err.contains("unknown setting aws.secret_key"), "{err}");
        std::fs::write(&file, "[aws]\nfunction_credentials = \"keys\"\n").unwrap();
        let err = Framework::load(Some(&file), []).unwrap_err().to_string();
        assert!(err.ends_with("aws.function_credentials must be role or none"), "{err}");
    }
}
