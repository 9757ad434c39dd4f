//! The canonical request and the string to sign, rebuilt from the request as it arrived, by
//! AWS's rules for every service but S3: the path's dot segments and repeated slashes
//! removed and each segment URI-encoded once more (the SDKs sign the encoded path encoded
//! again), the query's names and values decoded, encoded strictly and sorted, the signed
//! headers only (values trimmed, inner runs of spaces made one, repeats joined by commas),
//! and the hash of the body.

use axum::http::{HeaderMap, Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use sha2::{Digest, Sha256};

/// Everything but SigV4's unreserved characters (`A-Z a-z 0-9 - _ . ~`) is encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The canonical request of one signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest(String);

impl CanonicalRequest {
    /// `payload_hash` is the lower-case hex SHA-256 of the body (see `payload_hash`).
    pub fn new(method: &Method, uri: &Uri, headers: &HeaderMap, signed_headers: &[String], payload_hash: &str) -> Self {
        let mut text = String::with_capacity(512);
        text.push_str(method.as_str());
        text.push('\n');
        text.push_str(&canonical_path(uri.path()));
        text.push('\n');
        text.push_str(&canonical_query(uri.query().unwrap_or_default()));
        text.push('\n');
        for name in signed_headers {
            let values: Vec<String> = headers
                .get_all(name.as_str())
                .iter()
                .map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            text.push_str(name);
            text.push(':');
            text.push_str(&values.join(","));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&signed_headers.join(";"));
        text.push('\n');
        text.push_str(payload_hash);
        Self(text)
    }

    /// The string to sign: the algorithm, the request's time (`X-Amz-Date`), the credential
    /// scope and the hash of this canonical request.
    pub fn string_to_sign(&self, amz_date: &str, scope: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex_sha256(self.0.as_bytes())
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The hash of a body as the canonical request ends with it.
pub fn payload_hash(body: &[u8]) -> String {
    hex_sha256(body)
}

fn hex_sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The path as it arrived (already percent-encoded), without `.` and `..` segments or
/// empty ones, each segment encoded again.
fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    if segments.is_empty() {
        return "/".into();
    }
    let mut canonical = String::with_capacity(path.len() * 2);
    for segment in &segments {
        canonical.push('/');
        canonical.extend(percent_encode(segment.as_bytes(), STRICT));
    }
    if path.ends_with('/') {
        canonical.push('/');
    }
    canonical
}

/// The query's pairs decoded, encoded strictly, sorted by name then value; a name without
/// `=` has an empty value.
fn canonical_query(query: &str) -> String {
    let encode = |raw: &str| -> String {
        let decoded: Vec<u8> = percent_decode_str(raw).collect();
        percent_encode(&decoded, STRICT).to_string()
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (encode(name), encode(value))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_normalised_then_encoded_again() {
        for (path, canonical) in [
            ("", "/"),
            ("/", "/"),
            ("//example//", "/example/"),
            ("/example/..", "/"),
            ("/a/./b/../c", "/a/c"),
            (
                "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            ),
            // What the SDKs send for a function ARN and a qualifier.
            (
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello/invocations",
                "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A000000000000%253Afunction%253Ahello/invocations",
            ),
            ("/2015-03-31/functions/", "/2015-03-31/functions/"),
            ("/example%20space/", "/example%2520space/"),
        ] {
            assert_eq!(canonical_path(path), canonical, "{path}");
        }
    }

    #[test]
    fn the_query_is_decoded_encoded_strictly_and_sorted() {
        for (query, canonical) in [
            ("", ""),
            ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
            ("Param1=value2&Param1=value1", "Param1=value1&Param1=value2"),
            ("Param1", "Param1="),
            ("Qualifier=%24LATEST", "Qualifier=%24LATEST"),
            ("Qualifier=$LATEST", "Qualifier=%24LATEST"),
            ("q=a+b&r=a%20b", "q=a%2Bb&r=a%20b"),
            ("%E1%88%B4=bar", "%E1%88%B4=bar"),
            ("-._~=-._~", "-._~=-._~"),
        ] {
            assert_eq!(canonical_query(query), canonical, "{query}");
        }
    }
}
