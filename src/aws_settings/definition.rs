//! Each AWS setting defined once: its name, its default, the rule a value must follow (as
//! code, as the message that refuses a value, and as the spec states it) and what it
//! means. The framework file and variables, the project settings API, the resolved view,
//! the spec and the typed `ResolvedAws` all read this table; nothing else names a setting.

/// A string with no NUL character: Postgres cannot store one, so the service refuses it.
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// One AWS setting, `aws.<name>` in the framework and `project.aws.<name>` in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Name {
    AccessKey,
    SecretKeyPath,
    Region,
    EndpointUrl,
    AssumeRoleArn,
    ExternalId,
    LambdaRoleArn,
    FunctionCredentials,
    FunctionEndpointUrl,
}

/// What a setting is: the one place its name, default and rule are written.
pub struct Setting {
    pub name: Name,
    /// The short name: `aws.<short>`, `project.aws.<short>`, `LAMBDA_STEPS_AWS_<SHORT>`.
    pub short: &'static str,
    /// The value when neither the project nor the framework sets it.
    pub default: Option<&'static str>,
    pub rule: Rule,
    /// What it means and takes; the spec (and so the console) adds the default.
    pub description: &'static str,
}

impl Setting {
    /// The description with the default, as the spec says it.
    pub fn described(&self) -> String {
        match self.default {
            Some(default) => format!("{} Default: `{default}`.", self.description),
            None => self.description.to_string(),
        }
    }
}

/// What a value of a setting must be.
pub struct Rule {
    pub accepts: fn(&str) -> bool,
    /// Why a value is refused, after the setting's name.
    pub message: &'static str,
    /// The rule as the spec states it: a pattern and a longest length.
    pub pattern: &'static str,
    pub max_length: Option<usize>,
}

/// Every setting, in `Name`'s order (the order the spec lists them).
pub const SETTINGS: [Setting; 9] = [
    Setting {
        name: Name::AccessKey,
        short: "access_key",
        default: None,
        rule: Rule {
            accepts: |v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_alphanumeric()),
            message: "must be an access key id (letters and digits)",
            pattern: "^[A-Za-z0-9]*$",
            max_length: Some(128),
        },
        description: "The access key id the project's AWS calls sign with (its secret at `secret_key_path`): letters and digits; unset: the AWS default credential chain.",
    },
    Setting {
        name: Name::SecretKeyPath,
        short: "secret_key_path",
        default: None,
        rule: Rule {
            accepts: |v| !v.is_empty() && !v.contains("..") && v.chars().count() <= 512,
            message: "must be a key storage path (the secret itself is stored with PUT /v1/keys/{path})",
            pattern: "^(\\.?[^.\\u0000])*\\.?$",
            max_length: Some(512),
        },
        description: "The key storage path of the secret key, never the key itself (the secret is stored with `PUT /v1/keys/{path}`); no `..`.",
    },
    Setting {
        name: Name::Region,
        short: "region",
        default: Some("us-east-1"),
        rule: ANY_STRING,
        description: "The region of the Lambda calls, e.g. `eu-west-1`.",
    },
    Setting {
        name: Name::EndpointUrl,
        short: "endpoint_url",
        default: Some("embedded"),
        rule: Rule {
            accepts: |v| Endpoint::parse(v).is_some(),
            message: "must be embedded, aws, or an http(s) URL",
            pattern: "^(embedded|aws|https?://[^\\u0000]*)$",
            max_length: None,
        },
        description: "Where the project's runs go: `embedded` (the engine in this service), `aws`, or the http(s) URL of a Lambda-compatible endpoint.",
    },
    Setting {
        name: Name::AssumeRoleArn,
        short: "assume_role_arn",
        default: None,
        rule: ANY_STRING,
        description: "A role the credentials assume (STS at the same endpoint); the role's credentials sign the Lambda calls.",
    },
    Setting {
        name: Name::ExternalId,
        short: "external_id",
        default: None,
        rule: ANY_STRING,
        description: "The external id of `assume_role_arn`.",
    },
    Setting {
        name: Name::LambdaRoleArn,
        short: "lambda_role_arn",
        default: None,
        rule: ANY_STRING,
        description: "The execution role of custom-code functions; unset: find or create `lambda-steps-execution`.",
    },
    Setting {
        name: Name::FunctionCredentials,
        short: "function_credentials",
        default: Some("role"),
        rule: Rule {
            accepts: |v| FunctionCredentials::parse(v).is_some(),
            message: "must be role or none",
            pattern: "^(role|none)$",
            max_length: None,
        },
        description: "Embedded engine only: `role` (user code gets its execution role's temporary credentials, assumed with the project's) or `none`.",
    },
    Setting {
        name: Name::FunctionEndpointUrl,
        short: "function_endpoint_url",
        default: None,
        rule: Rule {
            accepts: |v| is_http_url(v) && v.chars().count() <= 2048 && !v.contains('\0'),
            message: "must be an http(s) URL",
            pattern: "^https?://[^\\u0000]*$",
            max_length: Some(2048),
        },
        description: "Embedded engine only: an http(s) URL where user code's AWS calls go (`AWS_ENDPOINT_URL`, and STS AssumeRole); unset: AWS.",
    },
];

/// The rule of a setting that is any text (a region, an ARN, an id).
const ANY_STRING: Rule = Rule {
    accepts: |v| !v.is_empty() && v.chars().count() <= 2048,
    message: "must be a non-empty string",
    pattern: NO_NUL,
    max_length: Some(2048),
};

/// The prefix of a project setting's key.
const PROJECT_PREFIX: &str = "project.aws.";

impl Name {
    /// Every name, in the table's order.
    pub fn all() -> impl Iterator<Item = Name> {
        SETTINGS.iter().map(|setting| setting.name)
    }

    pub fn setting(self) -> &'static Setting {
        &SETTINGS[self as usize]
    }

    pub fn short(self) -> &'static str {
        self.setting().short
    }

    /// `project.aws.<name>`: the key of the settings API and of the resolved view.
    pub fn project_key(self) -> String {
        format!("{PROJECT_PREFIX}{}", self.short())
    }

    /// `aws.<name>`: how the framework file and error messages name it.
    pub fn framework_key(self) -> String {
        format!("aws.{}", self.short())
    }

    /// `LAMBDA_STEPS_AWS_<NAME>`: the variable that sets it for the framework.
    pub fn variable(self) -> String {
        format!("LAMBDA_STEPS_AWS_{}", self.short().to_uppercase())
    }

    /// The setting of a short name (`region`).
    pub fn from_short(short: &str) -> Option<Self> {
        Self::all().find(|name| name.short() == short)
    }

    /// The setting of a project key (`project.aws.region`).
    pub fn from_project_key(key: &str) -> Option<Self> {
        key.strip_prefix(PROJECT_PREFIX).and_then(Self::from_short)
    }

    /// Checks a value against the setting's rule; the error is the rule in words.
    pub fn check(self, value: &str) -> Result<(), &'static str> {
        let rule = &self.setting().rule;
        if (rule.accepts)(value) {
            Ok(())
        } else {
            Err(rule.message)
        }
    }
}

/// Where a project's Lambda calls go (`endpoint_url`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The engine in this process.
    Embedded,
    /// AWS Lambda itself.
    Aws,
    /// A Lambda-compatible endpoint (moto, LocalStack, an engine elsewhere). Kept as the
    /// http(s) text it was given: the SDK takes it as text, and the rule the API has always
    /// applied (and the spec states) is that prefix, not a full URL parse.
    Url(String),
}

impl Endpoint {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "embedded" => Some(Self::Embedded),
            "aws" => Some(Self::Aws),
            url if is_http_url(url) => Some(Self::Url(url.to_string())),
            _ => None,
        }
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

fn is_http_url(value: &str) -> bool {
    value.starts_with("http://") || value.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_its_names() {
        for (index, setting) in SETTINGS.iter().enumerate() {
            assert_eq!(setting.name as usize, index, "{}", setting.short);
        }
    }

    #[test]
    fn every_default_follows_its_own_rule() {
        for setting in &SETTINGS {
            if let Some(default) = setting.default {
                assert_eq!(setting.name.check(default), Ok(()), "{}", setting.short);
            }
        }
    }

    #[test]
    fn the_books_settings_page_names_every_setting() {
        let page =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src/reference/settings.md")).unwrap();
        for name in Name::all() {
            assert!(page.contains(&format!("`{}`", name.project_key())), "{}", name.short());
        }
    }

    #[test]
    fn names_are_found_by_their_keys() {
        assert_eq!(Name::from_project_key("project.aws.region"), Some(Name::Region));
        assert_eq!(Name::from_project_key("aws.region"), None);
        assert_eq!(Name::from_project_key("project.aws.secret_key"), None);
        assert_eq!(Name::EndpointUrl.variable(), "LAMBDA_STEPS_AWS_ENDPOINT_URL");
    }
}
