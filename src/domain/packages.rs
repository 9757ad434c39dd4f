//! A custom-code step's `packages`: each runtime's own package specifiers, checked at the
//! edge so that what reaches an installer is a package from its registry and nothing else
//! (no options such as `--index-url`, no paths, no URLs, no git sources).

use super::step::InvalidField;
use lambda_rules::Language;

/// Most packages one step may list.
pub const MAX_PACKAGES: usize = 50;
/// Longest specifier, in characters.
pub const MAX_SPECIFIER_CHARS: usize = 200;

/// Checks every specifier for the runtime's language; the error names `step.packages[i]`.
pub fn check(language: Language, packages: &[String]) -> Result<(), InvalidField> {
    if packages.len() > MAX_PACKAGES {
        return Err(InvalidField::new(
            "step.packages",
            format!("lists {} packages; at most {MAX_PACKAGES}", packages.len()),
        ));
    }
    for (i, specifier) in packages.iter().enumerate() {
        let field = format!("step.packages[{i}]");
        if specifier.trim().is_empty() {
            return Err(InvalidField::new(&field, "is empty"));
        }
        if specifier.chars().count() > MAX_SPECIFIER_CHARS {
            return Err(InvalidField::new(
                &field,
                format!("is over {MAX_SPECIFIER_CHARS} characters"),
            ));
        }
        if specifier.trim_start().starts_with('-') {
            return Err(InvalidField::new(
                &field,
                "is an installer option; only package names (with versions) are taken",
            ));
        }
        let checked = match language {
            Language::Python => python(specifier),
            Language::Node => node(specifier),
            Language::Ruby => ruby(specifier),
            Language::Provided => Err("this runtime takes no packages"),
        };
        checked.map_err(|why| InvalidField::new(&field, format!("{specifier:?}: {why}")))?;
    }
    Ok(())
}

/// A pip requirement line without a direct reference: `name[extras] specifiers ; marker`.
fn python(specifier: &str) -> Result<(), &'static str> {
    let spec = specifier.trim();
    if !spec.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with the package's name (a pip requirement such as requests==2.32.3)");
    }
    // '@' (a direct reference), '/', '\\' and ':' (paths and URLs) and '#' are not in a
    // requirement from an index.
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.[],<>=!~*;() '\"".contains(c);
    if let Some(bad) = spec.chars().find(|c| !allowed(*c)) {
        return Err(match bad {
            '@' | '/' | '\\' | ':' => "must name a package from the index, not a URL, path or direct reference",
            _ => "has a character a pip requirement does not (name, [extras], version specifiers, ; marker)",
        });
    }
    Ok(())
}

/// npm's `name`, `name@version` or `@scope/name@version`, the version a semver range or a tag.
fn node(specifier: &str) -> Result<(), &'static str> {
    const FORM: &str = "must be an npm package as name@version (or @scope/name@version), not a URL, path or git source";
    let (scope, rest) = match specifier.strip_prefix('@') {
        Some(scoped) => {
            let (scope, rest) = scoped.split_once('/').ok_or(FORM)?;
            (Some(scope), rest)
        }
        None => (None, specifier),
    };
    let (name, version) = match rest.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (rest, None),
    };
    let npm_name = |part: &str| {
        !part.is_empty()
            && part.len() <= 214
            && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~".contains(c))
    };
    if !npm_name(name) || scope.is_some_and(|s| !npm_name(s)) {
        return Err(FORM);
    }
    if let Some(version) = version {
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".^~<>=|*+- ".contains(c);
        if version.trim().is_empty() || !version.chars().all(allowed) {
            return Err(FORM);
        }
    }
    Ok(())
}

/// A gem: `name` or `name:version`.
fn ruby(specifier: &str) -> Result<(), &'static str> {
    const FORM: &str = "must be a gem as name or name:version (e.g. rake:13.2.1)";
    let (name, version) = match specifier.split_once(':') {
        Some((name, version)) => (name, Some(version)),
        None => (specifier, None),
    };
    let name_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let version_ok = version.is_none_or(|v| {
        v.starts_with(|c: char| c.is_ascii_digit()) && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
    });
    if name_ok && version_ok { Ok(()) } else { Err(FORM) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(language: Language, packages: &[&str]) -> Option<String> {
        let packages: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
        check(language, &packages).err().map(|e| e.field)
    }

    #[test]
    fn takes_each_runtimes_own_specifiers() {
        let python = [
            "six==1.16.0",
            "requests>=2,<3",
            "boto3",
            "uvicorn[standard]~=0.30",
            "tomli; python_version < \"3.11\"",
        ];
        assert_eq!(field(Language::Python, &python), None);
        let node = [
            "is-number@7.0.0",
            "@aws-sdk/client-s3@^3.600.0",
            "left-pad",
            "lodash@latest",
        ];
        assert_eq!(field(Language::Node, &node), None);
        assert_eq!(field(Language::Ruby, &["rake", "rake:13.2.1"]), None);
    }

    #[test]
    fn refuses_options_paths_urls_and_git_naming_the_entry() {
        for bad in [
            "--index-url=https://evil.example/simple",
            "-e .",
            "./local",
            "pkg @ https://example.com/pkg.whl",
            "git+https://github.com/a/b",
            "/tmp/x.whl",
            "",
        ] {
            assert_eq!(
                field(Language::Python, &["six", bad]).as_deref(),
                Some("step.packages[1]"),
                "{bad:?}"
            );
        }
        for bad in [
            "github:user/repo",
            "file:../x",
            "https://example.com/x.tgz",
            "user/repo",
            "x@npm:y",
            "--registry=x",
        ] {
            assert_eq!(
                field(Language::Node, &[bad]).as_deref(),
                Some("step.packages[0]"),
                "{bad:?}"
            );
        }
        for bad in ["rake:>1", "../x.gem", "--source=x", "rake:1.0:2"] {
            assert_eq!(
                field(Language::Ruby, &[bad]).as_deref(),
                Some("step.packages[0]"),
                "{bad:?}"
            );
        }
        let long = "a".repeat(MAX_SPECIFIER_CHARS + 1);
        assert_eq!(field(Language::Python, &[&long]).as_deref(), Some("step.packages[0]"));
        let many = vec!["six"; MAX_PACKAGES + 1];
        assert_eq!(field(Language::Python, &many).as_deref(), Some("step.packages"));
    }
}
