//! The framework's AWS settings: a TOML file (`[aws]` table), `LAMBDA_STEPS_AWS_*`
//! variables over it, the command line over both; each value checked by its setting's rule
//! when read, so a wrong one stops the start with the setting named.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use super::definition::Name;
use super::resolve::{ResolvedAws, resolve_aws};

/// Framework settings, checked, and what they resolve to with no project settings.
#[derive(Debug, Clone)]
pub struct Framework {
    values: BTreeMap<Name, String>,
    aws: ResolvedAws,
}

impl Framework {
    /// The TOML file (if any; default `lambda-steps.toml` when present), then the
    /// environment over it, then `flags` (the command line's) over both.
    pub fn load(file: Option<&Path>, flags: impl IntoIterator<Item = (Name, String)>) -> anyhow::Result<Self> {
        let mut values = BTreeMap::new();
        let default_file = Path::new("lambda-steps.toml");
        if let Some(file) = file.or_else(|| default_file.exists().then_some(default_file)) {
            values.extend(from_file(file)?);
        }
        for name in Name::all() {
            if let Ok(value) = std::env::var(name.variable()) {
                name.check(&value)
                    .map_err(|rule| anyhow::anyhow!("{}: {rule}", name.variable()))?;
                values.insert(name, value);
            }
        }
        for (name, value) in flags {
            name.check(&value)
                .map_err(|rule| anyhow::anyhow!("{}: {rule}", name.framework_key()))?;
            values.insert(name, value);
        }
        Self::of(values)
    }

    /// Settings given as they are (checked all the same), for tests and embedding.
    pub fn of(values: BTreeMap<Name, String>) -> anyhow::Result<Self> {
        let aws = resolve_aws(&values, &BTreeMap::new())?;
        Ok(Self { values, aws })
    }

    /// The framework's value of a setting, if it sets one.
    pub fn get(&self, name: Name) -> Option<&str> {
        self.values.get(&name).map(String::as_str)
    }

    pub(super) fn values(&self) -> &BTreeMap<Name, String> {
        &self.values
    }

    /// The framework's settings over the defaults: what a project with no settings gets.
    pub fn aws(&self) -> &ResolvedAws {
        &self.aws
    }
}

/// The `[aws]` table of a framework file.
fn from_file(file: &Path) -> anyhow::Result<BTreeMap<Name, String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let table: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    let mut values = BTreeMap::new();
    let Some(aws) = table.get("aws").and_then(|v| v.as_table()) else {
        return Ok(values);
    };
    for (key, value) in aws {
        let name = Name::from_short(key).with_context(|| format!("{}: unknown setting aws.{key}", file.display()))?;
        let value = value
            .as_str()
            .with_context(|| format!("{}: aws.{key} must be a string", file.display()))?;
        name.check(value)
            .map_err(|rule| anyhow::anyhow!("{}: aws.{key} {rule}", file.display()))?;
        values.insert(name, value.to_string());
    }
    Ok(values)
}
