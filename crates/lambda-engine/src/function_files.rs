//! The engine's function files (not to be confused with the Postgres `store`): every function, version, alias and tag in memory, each
//! function persisted as one JSON file and its code as content-addressed zips, so the
//! engine comes back with all of them after a restart.
//!
//! Layout under the data directory: `functions/{name}.json`, `code/{sha256-hex}.zip`.

use parking_lot::RwLock;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::error::{EngineError, EngineResult};
use super::model::{FunctionRecord, FunctionVersion};

/// The function store. Reads are cheap clones; writes persist before they return.
#[derive(Debug)]
pub struct FunctionFiles {
    root: PathBuf,
    functions: RwLock<HashMap<String, FunctionRecord>>,
}

/// A zip as uploaded, with the digests AWS reports for it.
pub struct CodeZip {
    pub bytes: Vec<u8>,
    pub sha256_base64: String,
    pub sha256_hex: String,
}

impl CodeZip {
    /// Checks that the bytes are a readable zip archive, as CreateFunction does.
    pub fn parse(bytes: Vec<u8>) -> EngineResult<Self> {
        zip::ZipArchive::new(std::io::Cursor::new(&bytes)).map_err(|_| {
            EngineError::invalid_parameter(
                "Could not unzip uploaded file. Please check your file, then try to upload again.",
            )
        })?;
        let digest = Sha256::digest(&bytes);
        use base64::Engine as _;
        Ok(Self {
            sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
            sha256_hex: digest.iter().map(|b| format!("{b:02x}")).collect(),
            bytes,
        })
    }
}

/// The file name of a stored zip from its base64 digest.
pub fn code_file_name(sha256_base64: &str) -> String {
    use base64::Engine as _;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(sha256_base64)
        .unwrap_or_default();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.zip")
}

impl FunctionFiles {
    /// Opens (creating if needed) the store under `data_dir` and loads every function.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let root = data_dir.to_path_buf();
        for dir in ["functions", "code"] {
            std::fs::create_dir_all(root.join(dir))
                .with_context(|| format!("creating {}", root.join(dir).display()))?;
        }
        let mut functions = HashMap::new();
        for entry in std::fs::read_dir(root.join("functions"))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let record: FunctionRecord =
                    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
                functions.insert(record.name.clone(), record);
            }
        }
        Ok(Self {
            root,
            functions: RwLock::new(functions),
        })
    }

    pub fn get(&self, name: &str) -> EngineResult<FunctionRecord> {
        self.functions
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    /// One version of a function, resolved through a qualifier (version or alias).
    pub fn resolve(&self, name: &str, qualifier: Option<&str>) -> EngineResult<FunctionVersion> {
        let functions = self.functions.read();
        let record = functions.get(name).ok_or_else(|| self.not_found(name))?;
        record.resolve(qualifier).map(|(v, _)| v.clone())
    }

    /// Every function, sorted by name.
    pub fn list(&self) -> Vec<FunctionRecord> {
        let mut all: Vec<_> = self.functions.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Stores a new function with its code; 409 if the name is taken.
    pub fn create(&self, record: FunctionRecord, code: &CodeZip) -> EngineResult<FunctionRecord> {
        let mut functions = self.functions.write();
        if functions.contains_key(&record.name) {
            return Err(EngineError::conflict(format!(
                "Function already exist: {}",
                record.name
            )));
        }
        self.write_code(code)?;
        self.write_record(&record)?;
        functions.insert(record.name.clone(), record.clone());
        Ok(record)
    }

    /// Applies `change` to a function and persists it, all under the write lock so
    /// concurrent changes to one function serialise.
    pub fn update<T>(
        &self,
        name: &str,
        code: Option<&CodeZip>,
        change: impl FnOnce(&mut FunctionRecord) -> EngineResult<T>,
    ) -> EngineResult<T> {
        let mut functions = self.functions.write();
        let record = functions.get_mut(name).ok_or_else(|| self.not_found(name))?;
        let mut changed = record.clone();
        let out = change(&mut changed)?;
        if let Some(code) = code {
            self.write_code(code)?;
        }
        self.write_record(&changed)?;
        *record = changed;
        Ok(out)
    }

    /// Removes a function, its file and any code no other function uses.
    pub fn delete(&self, name: &str) -> EngineResult<FunctionRecord> {
        let mut functions = self.functions.write();
        let record = functions.remove(name).ok_or_else(|| self.not_found(name))?;
        let path = self.record_path(name);
        std::fs::remove_file(&path).map_err(|e| EngineError::service(format!("removing {}: {e}", path.display())))?;
        self.collect_code(&functions);
        Ok(record)
    }

    /// Deletes zips no version of any function refers to any more.
    pub fn collect_code(&self, functions: &HashMap<String, FunctionRecord>) {
        let used: std::collections::HashSet<String> = functions
            .values()
            .flat_map(|f| std::iter::once(&f.latest).chain(f.versions.values()))
            .map(|v| code_file_name(&v.code_sha256))
            .collect();
        let Ok(entries) = std::fs::read_dir(self.root.join("code")) else {
            return;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            if !used.contains(&file) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Path of the stored zip of a version.
    pub fn code_path(&self, version: &FunctionVersion) -> PathBuf {
        self.root.join("code").join(code_file_name(&version.code_sha256))
    }

    fn not_found(&self, name: &str) -> EngineError {
        EngineError::not_found(format!("Function not found: {name}"))
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.root.join("functions").join(format!("{name}.json"))
    }

    fn write_code(&self, code: &CodeZip) -> EngineResult<()> {
        let path = self.root.join("code").join(format!("{}.zip", code.sha256_hex));
        if path.exists() {
            return Ok(());
        }
        write_atomically(&path, &code.bytes)
    }

    fn write_record(&self, record: &FunctionRecord) -> EngineResult<()> {
        let json = serde_json::to_vec_pretty(record).map_err(|e| EngineError::service(e.to_string()))?;
        write_atomically(&self.record_path(&record.name), &json)
    }
}

/// Write to a temporary sibling, fsync, rename: a crash leaves the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> EngineResult<()> {
    let fail = |e: std::io::Error| EngineError::service(format!("writing {}: {e}", path.display()));
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::File::create(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
