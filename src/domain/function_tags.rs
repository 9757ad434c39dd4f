//! A custom-code step's `description` and `tags`, with AWS's limits, so CreateFunction does
//! not refuse them after the run was accepted.

use std::collections::BTreeMap;

use super::step::InvalidField;

/// The prefix of the tags the runner puts on its own functions (`lambda-steps:run-id`,
/// `lambda-steps:expires-at`); a step may not set or shadow them.
pub const RESERVED_TAG_PREFIX: &str = "lambda-steps:";
/// How many tags the runner adds itself.
pub const RUNNER_TAGS: usize = 2;
/// AWS's limit of tags on one resource.
pub const AWS_MAX_TAGS: usize = 50;
/// Longest description Lambda takes, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 256;

pub fn check_description(description: Option<&str>) -> Result<(), InvalidField> {
    let Some(description) = description else {
        return Ok(());
    };
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(InvalidField::new(
            "step.description",
            format!("is over {MAX_DESCRIPTION_CHARS} characters (Lambda's limit)"),
        ));
    }
    Ok(())
}

/// AWS's tag rules: keys of 1 to 128 and values of at most 256 characters, made of
/// letters, numbers, spaces and `_ . : / = + - @`; `aws:` belongs to AWS and
/// `lambda-steps:` to this service; at most 50 tags on a function, two of them the runner's.
pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), InvalidField> {
    let most = AWS_MAX_TAGS - RUNNER_TAGS;
    if tags.len() > most {
        return Err(InvalidField::new(
            "step.tags",
            format!(
                "has {} tags; at most {most} (Lambda's limit is {AWS_MAX_TAGS} and the service adds {RUNNER_TAGS} of its own)",
                tags.len()
            ),
        ));
    }
    for (key, value) in tags {
        let field = || format!("step.tags.{key}");
        let length = key.chars().count();
        if !(1..=128).contains(&length) {
            return Err(InvalidField::new(&field(), "a tag key has 1 to 128 characters"));
        }
        if !key.chars().all(allowed) {
            return Err(InvalidField::new(
                &field(),
                "a tag key holds only letters, numbers, spaces and _ . : / = + - @",
            ));
        }
        let lowered = key.to_lowercase();
        if lowered.starts_with(RESERVED_TAG_PREFIX) {
            return Err(InvalidField::new(
                &field(),
                format!("tags under {RESERVED_TAG_PREFIX} are the service's own"),
            ));
        }
        if lowered.starts_with("aws:") {
            return Err(InvalidField::new(&field(), "tags under aws: are AWS's own"));
        }
        if value.chars().count() > 256 {
            return Err(InvalidField::new(&field(), "a tag value has at most 256 characters"));
        }
        if !value.chars().all(allowed) {
            return Err(InvalidField::new(
                &field(),
                "a tag value holds only letters, numbers, spaces and _ . : / = + - @",
            ));
        }
    }
    Ok(())
}

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn field(pairs: &[(&str, &str)]) -> Option<String> {
        check_tags(&tags(pairs)).err().map(|e| e.field)
    }

    #[test]
    fn takes_what_aws_takes() {
        assert_eq!(
            field(&[
                ("team", "sre"),
                ("cost-center", ""),
                ("équipe", "nuit 2"),
                ("a/b=c+d@e", "x:y")
            ]),
            None
        );
        assert!(check_description(Some(&"d".repeat(256))).is_ok());
    }

    #[test]
    fn refuses_what_aws_or_the_service_would_naming_the_tag() {
        assert_eq!(
            field(&[("lambda-steps:run-id", "x")]).as_deref(),
            Some("step.tags.lambda-steps:run-id")
        );
        assert_eq!(
            field(&[("Lambda-Steps:x", "x")]).as_deref(),
            Some("step.tags.Lambda-Steps:x")
        );
        assert_eq!(field(&[("aws:x", "x")]).as_deref(), Some("step.tags.aws:x"));
        assert_eq!(field(&[("", "x")]).as_deref(), Some("step.tags."));
        assert_eq!(field(&[("k", "a;b")]).as_deref(), Some("step.tags.k"));
        assert_eq!(field(&[("k\n", "x")]).as_deref(), Some("step.tags.k\n"));
        let long_key = "k".repeat(129);
        assert!(field(&[(&long_key, "x")]).is_some());
        let long_value = "v".repeat(257);
        assert_eq!(field(&[("k", &long_value)]).as_deref(), Some("step.tags.k"));
        let many: Vec<(String, String)> = (0..49).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(check_tags(&many.into_iter().collect()).unwrap_err().field, "step.tags");
        assert_eq!(
            check_description(Some(&"d".repeat(257))).unwrap_err().field,
            "step.description"
        );
    }
}
