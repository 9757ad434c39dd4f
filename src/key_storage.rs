//! Key storage's cryptography: AES-256-GCM under a master key that comes from
//! `LAMBDA_STEPS_MASTER_KEY` (base64 of 32 bytes) or from a key file created with mode
//! 0600 at first start. Also the bootstrap admin token, kept the same way.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::Context;
use base64::Engine as _;

/// A secret value from the environment or a flag: never printed, never logged.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// The key every stored secret is encrypted under.
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// An encrypted value: a fresh 96-bit nonce and the ciphertext with its tag.
pub struct Sealed {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl MasterKey {
    /// From the setting, or from `master.key` in the data directory (created at first start).
    pub fn load(configured: Option<&Secret>, data_dir: &Path) -> anyhow::Result<Self> {
        let bytes = match configured {
            Some(secret) => base64::engine::general_purpose::STANDARD
                .decode(secret.0.trim())
                .context("LAMBDA_STEPS_MASTER_KEY is not base64")?,
            None => {
                let path = data_dir.join("master.key");
                let text = read_or_create(&path, || {
                    let mut key = [0u8; 32];
                    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
                    base64::engine::general_purpose::STANDARD.encode(key)
                })?;
                base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .with_context(|| format!("{} is not base64", path.display()))?
            }
        };
        anyhow::ensure!(
            bytes.len() == 32,
            "the master key must be 32 bytes (base64 of 32 random bytes)"
        );
        Ok(Self(Aes256Gcm::new_from_slice(&bytes).expect("32-byte key")))
    }

    pub fn seal(&self, plaintext: &[u8]) -> Sealed {
        let mut nonce = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
        let ciphertext = self
            .0
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .expect("AES-GCM encryption does not fail for in-memory data");
        Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    pub fn open(&self, sealed: &Sealed) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(sealed.nonce.len() == 12, "a stored nonce is not 12 bytes");
        self.0
            .decrypt(Nonce::from_slice(&sealed.nonce), sealed.ciphertext.as_ref())
            .map_err(|_| anyhow::anyhow!("a stored secret does not decrypt under this master key"))
    }
}

/// The bootstrap admin token: from the setting, or `admin-token` in the data directory
/// (created at first start, and said where on the console).
pub fn admin_token(configured: Option<&Secret>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(token) = configured {
        tracing::info!("admin token: from LAMBDA_STEPS_ADMIN_TOKEN");
        return Ok(token.0.trim().to_string());
    }
    let path = data_dir.join("admin-token");
    let existed = path.exists();
    let token = read_or_create(&path, crate::domain::access::new_token)?;
    if existed {
        tracing::info!(path = %path.display(), "admin token: in this file");
    } else {
        tracing::info!(path = %path.display(), "admin token: generated and written to this file (mode 0600); use it as `Authorization: Bearer <token>`");
    }
    Ok(token.trim().to_string())
}

/// Reads a file, or creates it (mode 0600, never overwriting) with `make()`.
fn read_or_create(path: &Path, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(text);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let value = make();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{value}")?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_under_their_key_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::load(None, dir.path()).unwrap();
        let sealed = key.seal(b"wJalrXUtnFEMI");
        assert_ne!(sealed.ciphertext, b"wJalrXUtnFEMI");
        assert_eq!(key.open(&sealed).unwrap(), b"wJalrXUtnFEMI");
        let same = MasterKey::load(None, dir.path()).unwrap();
        assert_eq!(same.open(&sealed).unwrap(), b"wJalrXUtnFEMI", "the key file is reused");
        let other = MasterKey::load(None, tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open(&sealed).is_err());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "[redacted]");
    }
}
