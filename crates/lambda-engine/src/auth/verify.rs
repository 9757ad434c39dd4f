//! Checking a signed request against the engine's key, as AWS checks it: first what the
//! headers alone show (a signature at all, a known key, the service, `X-Amz-Date` within 15
//! minutes of now), so a caller that cannot pass is refused before its body is read; then
//! the signature over the canonical request, derived with the HMAC-SHA256 chain (date,
//! region, service, `aws4_request`) and compared in constant time.

use axum::http::{HeaderMap, Method, Uri};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use super::authorization::Authorization;
use super::canonical::CanonicalRequest;
use super::key::EngineKey;
use super::refusal::Refusal;

/// How far `X-Amz-Date` may be from the engine's clock, either way.
const WINDOW: TimeDelta = TimeDelta::minutes(15);

const AMZ_DATE: &str = "%Y%m%dT%H%M%SZ";

/// A request whose headers pass; its signature is still to check.
#[derive(Debug)]
pub struct Claimed {
    authorization: Authorization,
    amz_date: String,
}

/// Checks what the headers show of a request to `service` (`lambda` or `logs`) at `now`.
pub fn claimed(headers: &HeaderMap, key: &EngineKey, service: &str, now: DateTime<Utc>) -> Result<Claimed, Refusal> {
    let Some(header) = headers.get("authorization") else {
        return Err(Refusal::MissingToken);
    };
    let authorization = Authorization::parse(&String::from_utf8_lossy(header.as_bytes()))?;
    let credential = &authorization.credential;
    // The engine's key is a long-term key: a session token is one it never issued.
    if credential.access_key_id != key.access_key_id || headers.contains_key("x-amz-security-token") {
        return Err(Refusal::UnknownKey);
    }
    if credential.service != service {
        return Err(Refusal::InvalidSignature(format!(
            "Credential should be scoped to correct service: '{service}'. "
        )));
    }
    if !authorization.signed_headers.iter().any(|h| h == "host") {
        return Err(Refusal::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Refusal::Incomplete("Authorization header requires existence of a 'X-Amz-Date' header.".into()))?
        .to_string();
    let signed_at = NaiveDateTime::parse_from_str(&amz_date, AMZ_DATE)
        .map_err(|_| {
            Refusal::Incomplete(format!(
                "X-Amz-Date '{amz_date}' is not of the form YYYYMMDD'T'HHMMSS'Z'."
            ))
        })?
        .and_utc();
    let format = |t: DateTime<Utc>| t.format(AMZ_DATE).to_string();
    if signed_at < now - WINDOW {
        return Err(Refusal::InvalidSignature(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format(now - WINDOW),
            format(now)
        )));
    }
    if signed_at > now + WINDOW {
        return Err(Refusal::InvalidSignature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format(now + WINDOW),
            format(now)
        )));
    }
    if !amz_date.starts_with(&credential.date) {
        return Err(Refusal::InvalidSignature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            credential.date,
            &amz_date[..8]
        )));
    }
    Ok(Claimed {
        authorization,
        amz_date,
    })
}

impl Claimed {
    /// Checks the signature over the request with `payload_hash`, the hash of its body.
    pub fn verify(
        &self,
        key: &EngineKey,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        payload_hash: &str,
    ) -> Result<(), Refusal> {
        let authorization = &self.authorization;
        let canonical = CanonicalRequest::new(method, uri, headers, &authorization.signed_headers, payload_hash);
        let string_to_sign = canonical.string_to_sign(&self.amz_date, &authorization.credential.scope());
        let expected = signature(
            key.secret_access_key.expose(),
            &authorization.credential,
            &string_to_sign,
        );
        if bool::from(expected.as_bytes().ct_eq(authorization.signature.as_bytes())) {
            Ok(())
        } else {
            tracing::debug!(canonical_request = canonical.as_str(), "a signature did not match");
            Err(Refusal::mismatch())
        }
    }
}

/// The signature of `string_to_sign` under the key derived from `secret` for `scope`.
fn signature(secret: &str, scope: &super::authorization::CredentialScope, string_to_sign: &str) -> String {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), scope.date.as_bytes());
    for part in [scope.region.as_str(), scope.service.as_str(), "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hmac(&key, string_to_sign.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    //! AWS's published SigV4 test suite (aws-sig-v4-test-suite): its requests, credentials
    //! and date, and the signatures AWS publishes for them, checked by the engine's verifier.

    use axum::http::{HeaderName, HeaderValue};

    use super::*;
    use crate::auth::canonical::payload_hash;
    use crate::auth::key::KeySource;

    const SUITE_DATE: &str = "20150830T123600Z";

    fn suite_key() -> EngineKey {
        EngineKey {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".parse().unwrap(),
            source: KeySource::Settings,
        }
    }

    fn suite_now() -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(SUITE_DATE, AMZ_DATE).unwrap().and_utc()
    }

    /// A suite request: method, target, extra headers, body; signed with `signed_headers`
    /// and `signature`.
    struct Vector {
        name: &'static str,
        method: &'static str,
        target: &'static str,
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
        signed_headers: &'static str,
        signature: &'static str,
    }

    impl Vector {
        fn headers(&self, signature: &str) -> HeaderMap {
            let mut headers = HeaderMap::new();
            headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
            headers.insert("x-amz-date", HeaderValue::from_static(SUITE_DATE));
            for (name, value) in self.headers {
                headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
            }
            let authorization = format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders={}, Signature={signature}",
                self.signed_headers
            );
            headers.insert("authorization", authorization.parse().unwrap());
            headers
        }

        fn check(&self, signature: &str) -> Result<(), Refusal> {
            let headers = self.headers(signature);
            let claim = claimed(&headers, &suite_key(), "service", suite_now())?;
            let method: Method = self.method.parse().unwrap();
            let uri: Uri = self.target.parse().unwrap();
            claim.verify(
                &suite_key(),
                &method,
                &uri,
                &headers,
                &payload_hash(self.body.as_bytes()),
            )
        }
    }

    const VECTORS: &[Vector] = &[
        Vector {
            name: "get-vanilla",
            method: "GET",
            target: "/",
            headers: &[],
            body: "",
            signed_headers: "host;x-amz-date",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        },
        Vector {
            name: "get-unreserved",
            method: "GET",
            target: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            headers: &[],
            body: "",
            signed_headers: "host;x-amz-date",
            signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
        },
        Vector {
            name: "get-slashes",
            method: "GET",
            target: "//example//",
            headers: &[],
            body: "",
            signed_headers: "host;x-amz-date",
            signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
        },
        Vector {
            name: "get-vanilla-query-order-key-case",
            method: "GET",
            target: "/?Param2=value2&Param1=value1",
            headers: &[],
            body: "",
            signed_headers: "host;x-amz-date",
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        },
        Vector {
            name: "get-vanilla-query-order-value",
            method: "GET",
            target: "/?Param1=value2&Param1=value1",
            headers: &[],
            body: "",
            signed_headers: "host;x-amz-date",
            signature: "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
        },
        // The suite sends U+1234 raw; on the wire it is percent-encoded, which decodes to it.
        Vector {
            name: "get-vanilla-utf8-query",
            method: "GET",
            target: "/?%E1%88%B4=bar",
            headers: &[],
            body: "",
            signed_headers: "host;x-amz-date",
            signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        },
        Vector {
            name: "get-header-value-order",
            method: "GET",
            target: "/",
            headers: &[
                ("my-header1", "value4"),
                ("my-header1", "value1"),
                ("my-header1", "value3"),
                ("my-header1", "value2"),
            ],
            body: "",
            signed_headers: "host;my-header1;x-amz-date",
            signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
        },
        Vector {
            name: "get-header-key-duplicate",
            method: "GET",
            target: "/",
            headers: &[
                ("my-header1", "value2"),
                ("my-header1", "value2"),
                ("my-header1", "value1"),
            ],
            body: "",
            signed_headers: "host;my-header1;x-amz-date",
            signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        },
        Vector {
            name: "get-header-value-trim",
            method: "GET",
            target: "/",
            headers: &[("my-header1", " value1"), ("my-header2", "\"a   b   c\"")],
            body: "",
            signed_headers: "host;my-header1;my-header2;x-amz-date",
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        },
        Vector {
            name: "post-x-www-form-urlencoded",
            method: "POST",
            target: "/",
            headers: &[("content-type", "application/x-www-form-urlencoded")],
            body: "Param1=value1",
            signed_headers: "content-type;host;x-amz-date",
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        },
    ];

    #[test]
    fn the_published_vectors_verify_and_a_changed_signature_does_not() {
        for vector in VECTORS {
            assert_eq!(vector.check(vector.signature), Ok(()), "{}", vector.name);
            let mut changed = vector.signature.to_string();
            changed.replace_range(..1, if changed.starts_with('0') { "1" } else { "0" });
            assert_eq!(vector.check(&changed), Err(Refusal::mismatch()), "{}", vector.name);
        }
    }

    #[test]
    fn get_vanilla_rebuilds_the_published_canonical_request_and_string_to_sign() {
        let vector = &VECTORS[0];
        let headers = vector.headers(vector.signature);
        let canonical = CanonicalRequest::new(
            &Method::GET,
            &"/".parse().unwrap(),
            &headers,
            &["host".into(), "x-amz-date".into()],
            &payload_hash(b""),
        );
        assert_eq!(
            canonical.as_str(),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            canonical.string_to_sign(SUITE_DATE, "20150830/us-east-1/service/aws4_request"),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
    }

    #[test]
    fn a_changed_body_header_or_path_no_longer_verifies() {
        let vector = &VECTORS[9];
        let headers = vector.headers(vector.signature);
        let claim = claimed(&headers, &suite_key(), "service", suite_now()).unwrap();
        let (post, root): (Method, Uri) = (Method::POST, "/".parse().unwrap());
        let body = |b: &str| payload_hash(b.as_bytes());
        assert_eq!(
            claim.verify(&suite_key(), &post, &root, &headers, &body("Param1=value1")),
            Ok(())
        );
        let refused = Err(Refusal::mismatch());
        assert_eq!(
            claim.verify(&suite_key(), &post, &root, &headers, &body("Param1=value2")),
            refused
        );
        let other_path: Uri = "/other".parse().unwrap();
        assert_eq!(
            claim.verify(&suite_key(), &post, &other_path, &headers, &body("Param1=value1")),
            refused
        );
        let mut retyped = headers.clone();
        retyped.insert("content-type", HeaderValue::from_static("application/json"));
        assert_eq!(
            claim.verify(&suite_key(), &post, &root, &retyped, &body("Param1=value1")),
            refused
        );
    }

    #[test]
    fn the_headers_alone_refuse_a_missing_signature_another_key_service_or_time() {
        let vector = &VECTORS[0];
        let mut headers = vector.headers(vector.signature);
        let key = suite_key();
        let now = suite_now();
        assert!(claimed(&headers, &key, "service", now).is_ok());
        assert!(matches!(
            claimed(&headers, &key, "lambda", now),
            Err(Refusal::InvalidSignature(m)) if m == "Credential should be scoped to correct service: 'lambda'. "
        ));
        let late = now + TimeDelta::minutes(16);
        assert_eq!(
            claimed(&headers, &key, "service", late).unwrap_err(),
            Refusal::InvalidSignature(
                "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)"
                    .into()
            )
        );
        let early = now - TimeDelta::minutes(16);
        assert_eq!(
            claimed(&headers, &key, "service", early).unwrap_err(),
            Refusal::InvalidSignature(
                "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T122000Z + 15 min.)"
                    .into()
            )
        );
        let other = EngineKey {
            access_key_id: "AKIDOTHER".into(),
            ..suite_key()
        };
        assert_eq!(
            claimed(&headers, &other, "service", now).unwrap_err(),
            Refusal::UnknownKey
        );
        headers.insert("x-amz-security-token", HeaderValue::from_static("token"));
        assert_eq!(
            claimed(&headers, &key, "service", now).unwrap_err(),
            Refusal::UnknownKey
        );
        headers.remove("authorization");
        assert_eq!(
            claimed(&headers, &key, "service", now).unwrap_err(),
            Refusal::MissingToken
        );
    }
}
