//! The `Authorization` header of a SigV4-signed request, parsed into its parts:
//! `AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request,
//! SignedHeaders=<h1;h2...>, Signature=<64 hex digits>`.

use super::refusal::Refusal;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The signer's key id and the scope the signing key was derived for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key_id: String,
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    /// `<date>/<region>/<service>/aws4_request`, as the string to sign has it.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }

    fn parse(value: &str) -> Result<Self, Refusal> {
        let malformed = || {
            Refusal::Incomplete(format!(
                "Authorization header requires 'Credential' parameter of the form \
                 <key id>/<date>/<region>/<service>/aws4_request; got '{value}'."
            ))
        };
        // The key id is everything before the last four parts.
        let mut parts = value.rsplitn(5, '/');
        let (Some(terminator), Some(service), Some(region), Some(date), Some(access_key_id)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
        if terminator != "aws4_request" || !date_ok || access_key_id.is_empty() || service.is_empty() {
            return Err(malformed());
        }
        Ok(Self {
            access_key_id: access_key_id.to_string(),
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
        })
    }
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub credential: CredentialScope,
    /// Lower-case header names, in the order signed.
    pub signed_headers: Vec<String>,
    /// Lower-case hex.
    pub signature: String,
}

impl Authorization {
    /// Parses the header; what is missing or malformed is refused as AWS refuses it
    /// (`IncompleteSignatureException`, naming the part).
    pub fn parse(header: &str) -> Result<Self, Refusal> {
        let header = header.trim();
        let Some(rest) = header
            .strip_prefix(ALGORITHM)
            .filter(|r| r.starts_with(char::is_whitespace))
        else {
            return Err(Refusal::Incomplete(format!(
                "Authorization header requires the {ALGORITHM} algorithm; got '{}'.",
                header.split_whitespace().next().unwrap_or_default()
            )));
        };
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let Some((name, value)) = part.trim().split_once('=') else {
                continue;
            };
            let value = value.trim();
            match name.trim() {
                "Credential" => credential = Some(CredentialScope::parse(value)?),
                "SignedHeaders" => {
                    signed_headers = Some(value.split(';').map(str::to_ascii_lowercase).collect::<Vec<_>>())
                }
                "Signature" => signature = Some(value.to_ascii_lowercase()),
                _ => {}
            }
        }
        let missing = |name: &str| Refusal::Incomplete(format!("Authorization header requires '{name}' parameter."));
        let signed_headers = signed_headers
            .filter(|h| h.iter().all(|n| !n.is_empty()))
            .ok_or_else(|| missing("SignedHeaders"))?;
        Ok(Self {
            credential: credential.ok_or_else(|| missing("Credential"))?,
            signed_headers,
            signature: signature
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("Signature"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_sdks_send() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, \
                      SignedHeaders=content-type;host;x-amz-date, \
                      Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let parsed = Authorization::parse(header).unwrap();
        assert_eq!(
            parsed.credential,
            CredentialScope {
                access_key_id: "AKIDEXAMPLE".into(),
                date: "20150830".into(),
                region: "us-east-1".into(),
                service: "lambda".into(),
            }
        );
        assert_eq!(parsed.credential.scope(), "20150830/us-east-1/lambda/aws4_request");
        assert_eq!(parsed.signed_headers, ["content-type", "host", "x-amz-date"]);
        assert_eq!(parsed.signature.len(), 64);
        // Without spaces after the commas, as botocore writes it.
        let tight = header.replace(", ", ",");
        assert_eq!(Authorization::parse(&tight).unwrap(), parsed);
    }

    #[test]
    fn refuses_what_is_not_a_sigv4_header_as_incomplete() {
        for bad in [
            "Bearer abc",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab",
            "AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=ab",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4, SignedHeaders=host, Signature=ab",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request, Signature=ab",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host",
        ] {
            let refused = Authorization::parse(bad).unwrap_err();
            assert!(matches!(refused, Refusal::Incomplete(_)), "{bad}: {refused:?}");
        }
    }
}
