//! Why a request's signature was refused, by AWS's error types and messages and knowing
//! nothing of HTTP: each API turns a refusal into its own error shape (the Lambda REST API's
//! `X-Amzn-ErrorType`, CloudWatch Logs' `__type`), so the SDKs raise their usual errors.

/// A refused caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header at all.
    MissingToken,
    /// An access key id (or session token) the engine does not know.
    UnknownKey,
    /// A signature that does not match, or a date outside the 15 minutes, or a scope for
    /// another service: AWS's message.
    InvalidSignature(String),
    /// An `Authorization` header without the parts SigV4 needs: what is missing.
    Incomplete(String),
}

impl Refusal {
    /// AWS's error type.
    pub fn aws_type(&self) -> &'static str {
        match self {
            Self::MissingToken => "MissingAuthenticationTokenException",
            Self::UnknownKey => "UnrecognizedClientException",
            Self::InvalidSignature(_) => "InvalidSignatureException",
            Self::Incomplete(_) => "IncompleteSignatureException",
        }
    }

    /// AWS's message.
    pub fn message(&self) -> String {
        match self {
            Self::MissingToken => "Missing Authentication Token".into(),
            Self::UnknownKey => "The security token included in the request is invalid.".into(),
            Self::InvalidSignature(message) | Self::Incomplete(message) => message.clone(),
        }
    }

    /// The signature did not match: AWS's words.
    pub fn mismatch() -> Self {
        Self::InvalidSignature(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
                .into(),
        )
    }
}

impl From<Refusal> for crate::error::EngineError {
    fn from(refusal: Refusal) -> Self {
        use crate::error::ErrorKind;
        let kind = match refusal {
            Refusal::MissingToken => ErrorKind::MissingAuthenticationToken,
            Refusal::UnknownKey => ErrorKind::UnrecognizedClient,
            Refusal::InvalidSignature(_) => ErrorKind::InvalidSignature,
            Refusal::Incomplete(_) => ErrorKind::IncompleteSignature,
        };
        Self::new(kind, refusal.message())
    }
}
