//! A function's zip is hostile input: what its headers claim (sizes, entry counts, paths)
//! is never trusted to size an allocation or choose where a file goes. `inspect` checks an
//! upload against Lambda's limits before it is stored, decompressing every entry into a
//! counter; `extract` writes it out with the same checks, streaming each entry to disk.
//!
//! Links: Lambda keeps symbolic links that stay inside the task root (npm's `.bin`), so
//! the engine does too, and refuses one that is absolute, climbs out, or climbs out of a
//! link it goes through (`a -> ..` then `b -> a/../..`), and any entry placed under a link.
//! Links are created after every file is written, so no write ever goes through one. The
//! zip format has no hard links.

use std::collections::HashSet;
use std::io::{Read, Seek};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Lambda's limit on a CreateFunction or UpdateFunctionCode request, which carries the zip
/// base64-encoded: what AWS answers for a zip over 50 MB.
pub const MAX_REQUEST_BYTES: usize = 69_905_067;
/// Lambda's limit on the code unpacked (the real sizes of its files, not what headers say).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;
/// Most entries a zip may hold. Lambda names no count, but each entry is a file the engine
/// creates; 250 MB of real code (the largest `node_modules`) stays well below it.
pub const MAX_ENTRIES: usize = 100_000;
/// Longest symbolic link target (Linux's PATH_MAX).
const MAX_LINK_TARGET: u64 = 4096;

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

/// Why a zip is refused; the message is AWS's where AWS has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("Could not unzip uploaded file. Please check your file, then try to upload again.")]
    Unreadable,
    #[error("Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")]
    TooLargeUnzipped,
    #[error("Could not unzip uploaded file: it holds {0} entries; the embedded engine takes at most {MAX_ENTRIES}.")]
    TooManyEntries(usize),
    #[error("Could not unzip uploaded file: the entry {0:?} leaves the function's directory.")]
    PathOutside(String),
    #[error("Could not unzip uploaded file: the symbolic link {0:?} points outside the function's directory.")]
    LinkOutside(String),
    /// Writing the files out failed (disk full, say): not the caller's fault.
    #[error("unpacking function code: {0}")]
    Write(String),
}

/// What a zip that passed holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contents {
    pub entries: usize,
    /// The real size of its files, counted while decompressing.
    pub unzipped_bytes: u64,
}

/// Checks a zip against Lambda's limits, writing nothing and allocating nothing an entry
/// claims.
pub fn inspect(zip: &[u8]) -> Result<Contents, ArchiveError> {
    walk(std::io::Cursor::new(zip), None)
}

/// Writes a zip's files under `target` (which must exist and be empty), with the same
/// checks as `inspect`: world-readable, executable where the zip says so.
pub fn extract(zip: impl Read + Seek, target: &Path) -> Result<Contents, ArchiveError> {
    walk(zip, Some(target))
}

/// One pass over the entries: checks each, counts real bytes, and writes them when there
/// is a target. Links wait until every file is in place.
fn walk(zip: impl Read + Seek, target: Option<&Path>) -> Result<Contents, ArchiveError> {
    let mut archive = zip::ZipArchive::new(zip).map_err(|_| ArchiveError::Unreadable)?;
    if archive.len() > MAX_ENTRIES {
        return Err(ArchiveError::TooManyEntries(archive.len()));
    }
    let mut unzipped: u64 = 0;
    let mut links = Vec::new();
    let mut placed = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|_| ArchiveError::Unreadable)?;
        let name = entry.name().to_string();
        let relative = inside(&name).ok_or_else(|| ArchiveError::PathOutside(name.clone()))?;
        let mode = entry.unix_mode().unwrap_or(0);
        if mode & S_IFMT == S_IFLNK {
            let mut raw = Vec::new();
            (&mut entry)
                .take(MAX_LINK_TARGET + 1)
                .read_to_end(&mut raw)
                .map_err(|_| ArchiveError::Unreadable)?;
            let link_target = String::from_utf8(raw).map_err(|_| ArchiveError::LinkOutside(name.clone()))?;
            if link_target.len() as u64 > MAX_LINK_TARGET || !link_stays_inside(&relative, &link_target) {
                return Err(ArchiveError::LinkOutside(name));
            }
            links.push((relative, link_target));
            continue;
        }
        placed.push(relative.clone());
        if entry.is_dir() || relative.as_os_str().is_empty() {
            if let Some(target) = target {
                create_dir(&target.join(&relative))?;
            }
            continue;
        }
        let budget = MAX_UNZIPPED_BYTES - unzipped;
        let written = match target {
            Some(target) => write_file(&mut entry, &target.join(&relative), budget, mode & 0o111 != 0)?,
            None => std::io::copy(&mut (&mut entry).take(budget + 1), &mut std::io::sink())
                .map_err(|_| ArchiveError::Unreadable)?,
        };
        if written > budget {
            return Err(ArchiveError::TooLargeUnzipped);
        }
        unzipped += written;
    }
    check_links(&links, &placed)?;
    if let Some(target) = target {
        for (relative, link_target) in &links {
            let path = target.join(relative);
            if let Some(parent) = path.parent() {
                create_dir(parent)?;
            }
            std::os::unix::fs::symlink(link_target, &path).map_err(write_error(&path))?;
        }
        open_directories(target).map_err(write_error(target))?;
    }
    Ok(Contents {
        entries: archive.len(),
        unzipped_bytes: unzipped,
    })
}

/// Streams one entry to `path`, at most `budget + 1` bytes (one past the budget says it
/// is over); answers the bytes written.
fn write_file(entry: &mut impl Read, path: &Path, budget: u64, executable: bool) -> Result<u64, ArchiveError> {
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    let mode = if executable { 0o755 } else { 0o644 };
    let mut file = std::fs::File::create(path).map_err(write_error(path))?;
    let written = std::io::copy(&mut entry.take(budget + 1), &mut file).map_err(|e| match e.kind() {
        // A decompression error reads as InvalidData / InvalidInput; a disk error does not.
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput | std::io::ErrorKind::UnexpectedEof => {
            ArchiveError::Unreadable
        }
        _ => write_error(path)(e),
    })?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(write_error(path))?;
    Ok(written)
}

fn create_dir(path: &Path) -> Result<(), ArchiveError> {
    std::fs::create_dir_all(path).map_err(write_error(path))
}

fn write_error(path: &Path) -> impl Fn(std::io::Error) -> ArchiveError + '_ {
    move |e| ArchiveError::Write(format!("{}: {e}", path.display()))
}

/// An entry's name as a path under the task root, `.` and `..` resolved by name; `None`
/// when it is absolute or climbs above the root.
fn inside(name: &str) -> Option<PathBuf> {
    if name.contains('\0') {
        return None;
    }
    let mut clean = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !clean.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(clean)
}

/// Whether a link at `link` (relative to the task root) pointing at `target` resolves,
/// by name, to a place inside the task root.
fn link_stays_inside(link: &Path, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') {
        return false;
    }
    let from = link.parent().unwrap_or(Path::new(""));
    inside(&from.join(target).to_string_lossy()).is_some()
}

/// No entry under a link, and no link target that goes through a link and then `..`
/// (where the name and the real path part ways).
fn check_links(links: &[(PathBuf, String)], placed: &[PathBuf]) -> Result<(), ArchiveError> {
    let at: HashSet<&Path> = links.iter().map(|(path, _)| path.as_path()).collect();
    if at.is_empty() {
        return Ok(());
    }
    let shown = |path: &Path| path.display().to_string();
    for path in placed.iter().chain(links.iter().map(|(path, _)| path)) {
        if path.ancestors().skip(1).any(|above| at.contains(above)) {
            return Err(ArchiveError::PathOutside(shown(path)));
        }
    }
    for (path, target) in links {
        let mut walked = PathBuf::new();
        for component in path.parent().unwrap_or(Path::new("")).join(target).components() {
            match component {
                Component::ParentDir if at.contains(walked.as_path()) => {
                    return Err(ArchiveError::LinkOutside(shown(path)));
                }
                Component::ParentDir => {
                    walked.pop();
                }
                Component::Normal(part) => walked.push(part),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Every directory readable and enterable by the sandbox user, whatever the zip said.
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

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
