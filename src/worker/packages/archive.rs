//! The cached bundle as a zip: written from the installed tree, measured against Lambda's
//! limits on code size.

use std::io::Write;
use std::path::Path;

use super::{MAX_UNPACKED_BYTES, MAX_ZIPPED_BYTES, PackageError};

/// Refuses packages over Lambda's limits (the function's own code comes on top).
pub fn check_limits(zipped: u64, unpacked: u64) -> Result<(), PackageError> {
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    if zipped > MAX_ZIPPED_BYTES {
        return Err(PackageError::TooLarge(format!(
            "the function's code with its packages is {:.1} MB zipped; Lambda takes at most 50 MB in a direct upload",
            mb(zipped)
        )));
    }
    if unpacked > MAX_UNPACKED_BYTES {
        return Err(PackageError::TooLarge(format!(
            "the function's code with its packages is {:.1} MB unpacked; Lambda takes at most 250 MB",
            mb(unpacked)
        )));
    }
    Ok(())
}

/// The sum of the zip's uncompressed sizes.
pub fn unpacked_size(zip: &Path) -> std::io::Result<u64> {
    let archive = zip::ZipArchive::new(std::fs::File::open(zip)?).map_err(std::io::Error::other)?;
    Ok(archive.decompressed_size().map_or(0, |n| n as u64))
}

/// Zips the files under `root` (symbolic links left out: npm's `.bin` shims) under
/// `prefix`, keeping the executable bit; answers the unpacked size.
pub(super) fn zip_tree(root: &Path, prefix: &str, into: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::PermissionsExt;
    let mut writer = zip::ZipWriter::new(std::fs::File::create(into)?);
    let mut unpacked = 0;
    let mut pending = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    for path in files {
        let relative = path.strip_prefix(root).map_err(std::io::Error::other)?;
        let name = format!("{prefix}{}", relative.to_string_lossy());
        let metadata = std::fs::metadata(&path)?;
        let mode = if metadata.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        let options = zip::write::SimpleFileOptions::default()
            .unix_permissions(mode)
            .large_file(metadata.len() >= u64::from(u32::MAX));
        writer.start_file(name, options).map_err(std::io::Error::other)?;
        std::io::copy(&mut std::fs::File::open(&path)?, &mut writer)?;
        unpacked += metadata.len();
    }
    writer.finish().map_err(std::io::Error::other)?.flush()?;
    Ok(unpacked)
}
