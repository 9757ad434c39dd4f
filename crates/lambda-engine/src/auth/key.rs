//! The engine's access key: the one key its Lambda and CloudWatch Logs APIs answer to. From
//! the settings (`LAMBDA_STEPS_ENGINE_ACCESS_KEY_ID` / `..._SECRET_ACCESS_KEY`), or generated
//! at first start into the data directory's `engine-credentials` (mode 0600), written as an
//! AWS shared credentials file so the AWS CLI and the SDKs can read it as it is
//! (`AWS_SHARED_CREDENTIALS_FILE`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;
use rand::Rng;

/// The file a generated key is kept in, in the data directory.
pub const KEY_FILE: &str = "engine-credentials";

/// A secret access key: never printed, never logged.
#[derive(Clone)]
pub struct SecretAccessKey(String);

impl SecretAccessKey {
    /// The secret itself, for signing and for `lambda-local` to print once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for SecretAccessKey {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.trim().to_string()))
    }
}

/// Where the key came from, for the startup lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `--engine-access-key-id` / `LAMBDA_STEPS_ENGINE_ACCESS_KEY_ID` and the secret's setting.
    Settings,
    /// This file (generated at first start, or kept from then).
    File(PathBuf),
}

/// The engine's access key id and secret.
#[derive(Debug, Clone)]
pub struct EngineKey {
    pub access_key_id: String,
    pub secret_access_key: SecretAccessKey,
    pub source: KeySource,
}

impl EngineKey {
    /// The key the settings give, else the data directory's (created when missing).
    pub fn load(
        access_key_id: Option<&str>,
        secret_access_key: Option<&SecretAccessKey>,
        data_dir: &Path,
    ) -> anyhow::Result<Self> {
        match (access_key_id, secret_access_key) {
            (Some(id), Some(secret)) => {
                anyhow::ensure!(
                    !id.trim().is_empty() && !secret.0.is_empty(),
                    "the engine's access key id and secret access key must not be empty"
                );
                Ok(Self {
                    access_key_id: id.trim().to_string(),
                    secret_access_key: secret.clone(),
                    source: KeySource::Settings,
                })
            }
            (None, None) => Self::from_file(&data_dir.join(KEY_FILE)),
            _ => anyhow::bail!(
                "set both LAMBDA_STEPS_ENGINE_ACCESS_KEY_ID and LAMBDA_STEPS_ENGINE_SECRET_ACCESS_KEY \
                 (or --engine-access-key-id and --engine-secret-access-key), or neither"
            ),
        }
    }

    /// The key in `path`, written there first when the file does not exist.
    fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_new(path)?,
            Err(e) => return Err(e).with_context(|| format!("reading the engine's key from {}", path.display())),
        };
        let value = |name: &str| {
            text.lines().find_map(|line| {
                let (key, value) = line.split_once('=')?;
                (key.trim() == name).then(|| value.trim().to_string())
            })
        };
        let (Some(access_key_id), Some(secret)) = (value("aws_access_key_id"), value("aws_secret_access_key")) else {
            anyhow::bail!(
                "{} has no aws_access_key_id and aws_secret_access_key; delete it to have a new key generated",
                path.display()
            );
        };
        Ok(Self {
            access_key_id,
            secret_access_key: SecretAccessKey(secret),
            source: KeySource::File(path.to_path_buf()),
        })
    }
}

/// Generates a key into a new file of mode 0600 and answers the file's text; when another
/// process created the file in between, answers that one's.
fn write_new(path: &Path) -> anyhow::Result<String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut rng = rand::rng();
    // AWS's shape: 20 upper-case characters for the id, 40 for the secret.
    let id: String = (0..16)
        .map(|_| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[rng.random_range(0..32)]))
        .collect();
    let mut secret = [0u8; 30];
    rng.fill(&mut secret);
    let text = format!(
        "# The access key of lambda-steps' embedded Lambda engine: its Lambda and CloudWatch Logs\n\
         # APIs answer only requests signed with it. An AWS shared credentials file:\n\
         # AWS_SHARED_CREDENTIALS_FILE=<this file> aws lambda list-functions --endpoint-url ...\n\
         [default]\n\
         aws_access_key_id = LSEK{id}\n\
         aws_secret_access_key = {}\n",
        // AWS's own alphabet for secrets: never a leading '-', which a command line would
        // take for a flag (`--engine-secret-access-key -j...`).
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret)
    );
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(mut file) => {
            file.write_all(text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(std::fs::read_to_string(path)?),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_private_kept_and_readable_by_aws_tools() {
        let dir = tempfile::tempdir().unwrap();
        let key = EngineKey::load(None, None, dir.path()).unwrap();
        assert_eq!(key.access_key_id.len(), 20, "{}", key.access_key_id);
        assert_eq!(key.secret_access_key.expose().len(), 40);
        let path = dir.path().join(KEY_FILE);
        assert_eq!(key.source, KeySource::File(path.clone()));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = EngineKey::load(None, None, dir.path()).unwrap();
        assert_eq!(again.access_key_id, key.access_key_id, "the file is reused");
        assert_eq!(again.secret_access_key.expose(), key.secret_access_key.expose());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[default]\naws_access_key_id = LSEK"), "{text}");
        assert_eq!(format!("{key:?}").matches(key.secret_access_key.expose()).count(), 0);
    }

    #[test]
    fn settings_give_both_halves_or_neither() {
        let dir = tempfile::tempdir().unwrap();
        let secret: SecretAccessKey = "s3cr3t".parse().unwrap();
        let key = EngineKey::load(Some("AKIDSET"), Some(&secret), dir.path()).unwrap();
        assert_eq!(
            (key.access_key_id.as_str(), key.source),
            ("AKIDSET", KeySource::Settings)
        );
        assert!(
            !dir.path().join(KEY_FILE).exists(),
            "no file when the settings give the key"
        );
        assert!(EngineKey::load(Some("AKIDSET"), None, dir.path()).is_err());
        assert!(EngineKey::load(None, Some(&secret), dir.path()).is_err());
    }
}
