//! Function code unpacked for execution: each distinct zip is extracted once into the
//! engine's work directory, readable by the sandbox user, and shared by every execution
//! environment running it.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
        let lock = self
            .extracting
            .lock()
            .expect("code cache lock")
            .entry(key.clone())
            .or_default()
            .clone();
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

/// Extracts a zip with world-readable modes, keeping the executable bit; refuses paths
/// that would land outside the target.
fn extract(zip: &Path, target: &Path) -> Result<(), CodeError> {
    let fail = |what: &'static str, e: &dyn std::fmt::Display| CodeError::Unpack {
        what,
        detail: e.to_string(),
    };
    let _ = std::fs::remove_dir_all(target);
    std::fs::create_dir_all(target).map_err(|e| fail("creating directory", &e))?;
    let file = std::fs::File::open(zip).map_err(|e| fail("opening zip", &e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| fail("reading zip", &e))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| fail("reading entry", &e))?;
        let Some(relative) = entry.enclosed_name() else {
            continue;
        };
        let path = target.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| fail("creating directory", &e))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail("creating directory", &e))?;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(|e| fail("reading entry", &e))?;
        std::fs::write(&path, &bytes).map_err(|e| fail("writing file", &e))?;
        let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mode = if executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(|e| fail("setting mode", &e))?;
    }
    open_directories(target).map_err(|e| fail("setting mode", &e))
}

fn open_directories(dir: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            open_directories(&entry.path())?;
        }
    }
    Ok(())
}
