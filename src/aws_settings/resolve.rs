//! A project's AWS settings resolved, project over framework over default: as the settings
//! API shows them (each value with where it came from), and as the Lambda layer reads them
//! (`ResolvedAws`, typed, one field per setting).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::definition::{Endpoint, FunctionCredentials, Name};
use super::framework::Framework;

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Project,
    Framework,
    Default,
}

impl Source {
    fn word(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Framework => "framework",
            Self::Default => "default",
        }
    }
}

/// One resolved setting, as `GET .../settings` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Resolved {
    pub value: Option<String>,
    pub source: Option<Source>,
}

/// A project's settings as the Lambda layer uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedAws {
    pub access_key: Option<String>,
    /// Where the secret of `access_key` is in key storage.
    pub secret_key_path: Option<String>,
    pub region: String,
    pub endpoint: Endpoint,
    pub assume_role_arn: Option<String>,
    pub external_id: Option<String>,
    /// The execution role of custom-code functions.
    pub lambda_role_arn: Option<String>,
    pub function_credentials: FunctionCredentials,
    /// Where user code's AWS calls go (embedded engine only).
    pub function_endpoint_url: Option<String>,
}

/// A resolved value its setting's rule refuses: one stored before the rule was as it is,
/// or a framework value given without `Framework::load`.
#[derive(Debug, thiserror::Error)]
#[error("{key} (set by the {}) {rule}", .from.word())]
pub struct Misconfigured {
    key: String,
    from: Source,
    rule: &'static str,
}

/// The value of a setting and its source: the project's (stored under `project.aws.<name>`),
/// else the framework's, else the default.
fn lookup<'a>(
    framework: &'a BTreeMap<Name, String>,
    project: &'a BTreeMap<String, String>,
    name: Name,
) -> Option<(&'a str, Source)> {
    project
        .get(&name.project_key())
        .map(|v| (v.as_str(), Source::Project))
        .or_else(|| framework.get(&name).map(|v| (v.as_str(), Source::Framework)))
        .or_else(|| name.setting().default.map(|v| (v, Source::Default)))
}

/// Every setting of a project, resolved: `project.aws.<name>` → value and source.
pub fn resolve(framework: &Framework, project: &BTreeMap<String, String>) -> BTreeMap<String, Resolved> {
    Name::all()
        .map(|name| {
            let found = lookup(framework.values(), project, name);
            let resolved = Resolved {
                value: found.map(|(v, _)| v.to_string()),
                source: found.map(|(_, source)| source),
            };
            (name.project_key(), resolved)
        })
        .collect()
}

/// A project's settings, typed; the error names the setting whose value its rule refuses.
pub fn resolve_project(
    framework: &Framework,
    project: &BTreeMap<String, String>,
) -> Result<ResolvedAws, Misconfigured> {
    resolve_aws(framework.values(), project)
}

/// Settings typed from framework values and project values (by project key).
pub(super) fn resolve_aws(
    framework: &BTreeMap<Name, String>,
    project: &BTreeMap<String, String>,
) -> Result<ResolvedAws, Misconfigured> {
    // A value its setting's rule accepts, parsed into the setting's type.
    let parsed = |name: Name| -> Result<Option<&str>, Misconfigured> {
        match lookup(framework, project, name) {
            None => Ok(None),
            Some((value, source)) => name.check(value).map(|()| Some(value)).map_err(|rule| Misconfigured {
                key: name.framework_key(),
                from: source,
                rule,
            }),
        }
    };
    let text = |name: Name| parsed(name).map(|v| v.map(str::to_string));
    Ok(ResolvedAws {
        access_key: text(Name::AccessKey)?,
        secret_key_path: text(Name::SecretKeyPath)?,
        region: typed(Name::Region, parsed(Name::Region)?, |v| Some(v.to_string()))?,
        endpoint: typed(Name::EndpointUrl, parsed(Name::EndpointUrl)?, Endpoint::parse)?,
        assume_role_arn: text(Name::AssumeRoleArn)?,
        external_id: text(Name::ExternalId)?,
        lambda_role_arn: text(Name::LambdaRoleArn)?,
        function_credentials: typed(
            Name::FunctionCredentials,
            parsed(Name::FunctionCredentials)?,
            FunctionCredentials::parse,
        )?,
        function_endpoint_url: text(Name::FunctionEndpointUrl)?,
    })
}

/// A checked value of a setting with a default (so always there), as its type; the type's
/// parse is the one its rule checks with.
fn typed<T>(name: Name, value: Option<&str>, parse: impl Fn(&str) -> Option<T>) -> Result<T, Misconfigured> {
    value.and_then(parse).ok_or(Misconfigured {
        key: name.framework_key(),
        from: Source::Default,
        rule: name.setting().rule.message,
    })
}
