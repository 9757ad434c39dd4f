//! Function code unpacked for execution: each distinct zip is extracted once into the
//! engine's work directory, readable by the sandbox users, and shared by every execution
//! environment running it. Under bubblewrap an environment sees its own function's tree
//! only (mounted at /var/task; the work directory is hidden); with `--isolation none` every
//! tree is readable by every function.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The extracted code trees, by zip digest.
#[derive(Debug)]
pub struct CodeCache {
    root: PathBuf,
    extracting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl CodeCache {
    pub fn new(root: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self {
            root,
            extracting: Mutex::new(HashMap::new()),
        })
    }

    /// The directory holding `zip`'s files, extracting it on first use.
    pub async fn unpacked(&self, zip: &Path) -> Result<PathBuf, CodeError> {
        let key = zip
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let dir = self.root.join(&key);
        if dir.exists() {
            return Ok(dir);
        }
        let lock = self.extracting.lock().entry(key.clone()).or_default().clone();
        let _guard = lock.lock().await;
        if dir.exists() {
            return Ok(dir);
        }
        let (zip, target, staging) = (
            zip.to_path_buf(),
            dir.clone(),
            self.root.join(format!(".{key}.partial")),
        );
        tokio::task::spawn_blocking(move || extract(&zip, &staging).and_then(|()| rename(&staging, &target)))
            .await
            .map_err(CodeError::Task)??;
        Ok(dir)
    }
}

/// Why a function's code could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("unpacking function code ({what}): {detail}")]
    Unpack { what: &'static str, detail: String },
    #[error("moving code into place: {0}")]
    Move(std::io::Error),
    /// The blocking task that extracts it panicked or was cancelled.
    #[error("{0}")]
    Task(tokio::task::JoinError),
}

fn rename(from: &Path, to: &Path) -> Result<(), CodeError> {
    std::fs::rename(from, to).map_err(CodeError::Move)
}

/// Extracts a stored zip (checked when it was uploaded, and checked again here: the
/// checks cost little next to the writes) into a fresh directory.
fn extract(zip: &Path, target: &Path) -> Result<(), CodeError> {
    let fail = |what: &'static str, e: &dyn std::fmt::Display| CodeError::Unpack {
        what,
        detail: e.to_string(),
    };
    let _ = std::fs::remove_dir_all(target);
    std::fs::create_dir_all(target).map_err(|e| fail("creating directory", &e))?;
    let file = std::fs::File::open(zip).map_err(|e| fail("opening zip", &e))?;
    super::archive::extract(std::io::BufReader::new(file), target).map_err(|e| fail("extracting", &e))?;
    Ok(())
}
