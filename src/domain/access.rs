//! Who is calling and what they may do: `admin` everything; `runner` submits, cancels and
//! reads the runs of one project (and saves its steps); `reader` reads them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Runner,
    Reader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Runner => "runner",
            Self::Reader => "reader",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "admin" => Self::Admin,
            "runner" => Self::Runner,
            "reader" => Self::Reader,
            _ => return None,
        })
    }
}

/// The holder of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Project { project: String, role: Role },
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        matches!(self, Self::Admin)
    }

    /// May see the project's runs, logs and saved steps.
    pub fn may_read(&self, project: &str) -> bool {
        match self {
            Self::Admin => true,
            Self::Project { project: own, .. } => own == project,
        }
    }

    /// May submit and cancel the project's runs and save its steps.
    pub fn may_run(&self, project: &str) -> bool {
        match self {
            Self::Admin => true,
            Self::Project { project: own, role } => own == project && *role == Role::Runner,
        }
    }
}

/// A new API token: `lst_` and 43 characters of base64url from 32 random bytes.
pub fn new_token() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("lst_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored of a token: tokens carry 256 random bits, so a plain SHA-256 suffices.
pub fn token_hash(token: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_scope_callers_to_their_project() {
        let runner = Caller::Project {
            project: "a".into(),
            role: Role::Runner,
        };
        let reader = Caller::Project {
            project: "a".into(),
            role: Role::Reader,
        };
        assert!(runner.may_run("a") && runner.may_read("a"));
        assert!(!runner.may_run("b") && !runner.may_read("b"));
        assert!(reader.may_read("a") && !reader.may_run("a"));
        assert!(Caller::Admin.may_run("anything"));
    }

    #[test]
    fn tokens_are_random_and_stored_as_their_sha256() {
        let token = new_token();
        assert!(token.starts_with("lst_") && token.len() == 4 + 43, "{token}");
        assert_ne!(token, new_token());
        // SHA-256("abc"), FIPS 180-2 appendix B.1: what is stored must be the plain digest.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex: String = token_hash("abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, abc);
    }
}
