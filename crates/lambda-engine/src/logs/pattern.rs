//! CloudWatch Logs filter patterns of terms: `ERROR`, `"exact phrase"`, `?ERROR ?WARN`
//! (any of them), `-DEBUG` (none of them). Matching is case-sensitive and by substring, as
//! CloudWatch matches unstructured log events; an empty pattern matches every event.
//! JSON (`{ $.x = 1 }`), space-delimited (`[a, b]`) and regex (`%...%`) patterns are
//! refused, so a caller learns the engine does not evaluate them rather than seeing nothing.

/// Why a filter pattern was refused: InvalidParameterException's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter pattern: {0}")]
pub struct PatternRefused(String);

/// A parsed filter pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterPattern {
    /// Every one must appear.
    all: Vec<String>,
    /// At least one must appear (when there are any).
    any: Vec<String>,
    /// None may appear.
    none: Vec<String>,
}

impl FilterPattern {
    /// Parses a pattern; the error is InvalidParameterException's message.
    pub fn parse(pattern: &str) -> Result<Self, PatternRefused> {
        let trimmed = pattern.trim();
        if trimmed.starts_with('{') || trimmed.starts_with('[') || trimmed.starts_with('%') {
            return Err(PatternRefused(format!(
                "the embedded engine evaluates terms and quoted phrases only: {pattern}"
            )));
        }
        let mut parsed = Self::default();
        let mut rest = trimmed;
        while !rest.is_empty() {
            let (kind, after) = match rest.as_bytes()[0] {
                b'?' => (Kind::Any, &rest[1..]),
                b'-' if rest.len() > 1 => (Kind::None, &rest[1..]),
                _ => (Kind::All, rest),
            };
            let (term, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| PatternRefused(format!("unterminated quote: {pattern}")))?;
                (quoted[..end].to_string(), &quoted[end + 1..])
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (after[..end].to_string(), &after[end..])
            };
            if !term.is_empty() {
                match kind {
                    Kind::All => parsed.all.push(term),
                    Kind::Any => parsed.any.push(term),
                    Kind::None => parsed.none.push(term),
                }
            }
            rest = remaining.trim_start();
        }
        Ok(parsed)
    }

    /// What an event's stored JSON line must hold for its message to match: every `all`
    /// term, and one of the `any` terms when that list is not empty. Only terms JSON writes
    /// unchanged count (no quote, backslash or control character), so a line without them
    /// cannot match and need not be parsed; a line with them may still not match.
    pub fn line_terms(&self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let verbatim = |t: &String| !t.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
        let all = self
            .all
            .iter()
            .filter(|t| verbatim(t))
            .map(|t| t.as_bytes().to_vec())
            .collect();
        let any = if self.any.iter().all(verbatim) {
            self.any.iter().map(|t| t.as_bytes().to_vec()).collect()
        } else {
            Vec::new()
        };
        (all, any)
    }

    pub fn matches(&self, message: &str) -> bool {
        self.all.iter().all(|t| message.contains(t.as_str()))
            && (self.any.is_empty() || self.any.iter().any(|t| message.contains(t.as_str())))
            && !self.none.iter().any(|t| message.contains(t.as_str()))
    }
}

enum Kind {
    All,
    Any,
    None,
}

#[cfg(test)]
mod tests {
    use super::FilterPattern;

    fn matches(pattern: &str, message: &str) -> bool {
        FilterPattern::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn empty_pattern_matches_everything() {
        assert!(matches("", "anything"));
        assert!(matches("   ", ""));
    }

    #[test]
    fn every_term_must_appear_case_sensitively() {
        assert!(matches("ERROR disk", "[ERROR] the disk is full"));
        assert!(!matches("ERROR disk", "[ERROR] the network is down"));
        assert!(!matches("error", "[ERROR] x"));
    }

    #[test]
    fn quoted_phrases_match_whole() {
        assert!(matches("\"disk is full\"", "the disk is full"));
        assert!(!matches("\"disk is full\"", "full is the disk"));
        assert!(matches("ERROR \"is full\"", "ERROR: disk is full"));
    }

    #[test]
    fn optional_terms_need_one_and_excluded_terms_none() {
        assert!(matches("?ERROR ?WARN", "WARN low"));
        assert!(!matches("?ERROR ?WARN", "INFO fine"));
        assert!(matches("ERROR -retry", "ERROR gave up"));
        assert!(!matches("ERROR -retry", "ERROR will retry"));
    }

    #[test]
    fn only_terms_json_writes_unchanged_are_looked_for_in_stored_lines() {
        let terms = |pattern: &str| FilterPattern::parse(pattern).unwrap().line_terms();
        let bytes = |terms: &[&str]| terms.iter().map(|t| t.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(terms("\"RequestId: 42\" -DEBUG"), (bytes(&["RequestId: 42"]), vec![]));
        assert_eq!(terms("ERROR ?a ?b"), (bytes(&["ERROR"]), bytes(&["a", "b"])));
        // A backslash is stored escaped: such a term cannot rule a line out.
        assert_eq!(terms("C:\\tmp ?x ?y\\z"), (vec![], vec![]));
    }

    #[test]
    fn structured_patterns_are_refused() {
        assert!(FilterPattern::parse("{ $.level = \"x\" }").is_err());
        assert!(FilterPattern::parse("[ip, user]").is_err());
        assert!(FilterPattern::parse("\"open").is_err());
    }
}
