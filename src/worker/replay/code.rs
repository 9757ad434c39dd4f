//! The code of the function a run reached, fetched for its replay: GetFunction for the
//! recorded version with the project's credentials, the package downloaded from
//! `Code.Location` (a presigned URL on AWS) and checked against its `CodeSha256`, and the
//! layers' Python and Node.js packages merged in where GetLayerVersion gives them.

use std::io::{Read, Seek, Write};
use std::time::Duration;

use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use base64::Engine as _;
use sha2::Digest;

use crate::lambda::directory::ProjectLambda;
use crate::queue::logs::RunLog;

/// Largest package downloaded: Lambda's 250 MB unzipped limit bounds a zip too.
const MOST_BYTES: usize = 250 * 1024 * 1024;
/// A control-plane call or download gets this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The function to build on the engine: its configuration and its code.
pub struct FetchedFunction {
    pub function: GetFunctionOutput,
    pub zip: Vec<u8>,
}

/// Why the code could not be had.
#[derive(Debug)]
pub enum FetchError {
    /// The recorded code is gone (or is an image): the replay is refused, and says why.
    Refused(String),
    /// Lambda or the download failed.
    Failed(String),
}

/// What to fetch.
pub struct Wanted<'a> {
    pub name: &'a str,
    /// The recorded version (`$LATEST` or a number).
    pub version: &'a str,
    /// The recorded `CodeSha256`; None when nothing was recorded.
    pub code_sha256: Option<&'a str>,
    /// Take the current code when the recorded code is gone.
    pub accept_current_code: bool,
    /// The qualifier the original step named (for the current code).
    pub qualifier: Option<&'a str>,
}

/// GetFunction for the recorded version; when its code is not the recorded code any more,
/// a published version that still holds it; else the current code if the caller accepts it.
pub async fn fetch(lambda: &ProjectLambda, log: &RunLog, wanted: &Wanted<'_>) -> Result<FetchedFunction, FetchError> {
    let at_version = get_function(lambda, wanted.name, wanted.version).await?;
    let current_sha = at_version
        .as_ref()
        .and_then(|f| f.configuration())
        .and_then(|c| c.code_sha256())
        .map(str::to_string);
    let function = match (at_version, wanted.code_sha256) {
        (Some(function), None) => function,
        (Some(function), Some(sha)) if current_sha.as_deref() == Some(sha) => function,
        (found, recorded) => {
            let kept = match recorded {
                Some(sha) => version_with_code(lambda, wanted.name, sha).await,
                None => None,
            };
            let what_changed = match (&found, recorded) {
                (Some(_), Some(sha)) => format!(
                    "the code of {}:{} changed since the run (CodeSha256 {} now, {sha} then)",
                    wanted.name,
                    wanted.version,
                    current_sha.as_deref().unwrap_or("unknown")
                ),
                _ => format!("version {} of {} no longer exists", wanted.version, wanted.name),
            };
            if let Some(version) = kept {
                log.info(format!(
                    "{what_changed}; published version {version} holds the recorded code: replaying that"
                ));
                get_function(lambda, wanted.name, &version)
                    .await?
                    .ok_or_else(|| FetchError::Failed(format!("version {version} of {} vanished", wanted.name)))?
            } else if wanted.accept_current_code {
                let current = wanted.qualifier.unwrap_or("$LATEST");
                log.warn(format!(
                    "{what_changed} and no published version holds the recorded code; replaying the current code of {}:{current}, as asked (accept_current_code)",
                    wanted.name
                ));
                get_function(lambda, wanted.name, current)
                    .await?
                    .ok_or_else(|| FetchError::Failed(format!("{}:{current} does not exist", wanted.name)))?
            } else {
                return Err(FetchError::Refused(format!(
                    "{what_changed}, and no published version holds the recorded code: the code that ran is gone, so the replay stops here. Replay with accept_current_code to run the current code instead"
                )));
            }
        }
    };
    let configuration = function
        .configuration()
        .ok_or_else(|| FetchError::Failed("GetFunction answered no configuration".into()))?;
    if configuration.package_type().map(|p| p.as_str()) == Some("Image") {
        return Err(FetchError::Refused(format!(
            "{} is a container image: the embedded engine runs .zip packages only (Python, Node.js, Ruby)",
            wanted.name
        )));
    }
    let location = function
        .code()
        .and_then(|c| c.location())
        .ok_or_else(|| FetchError::Failed("GetFunction answered no Code.Location to download the code from".into()))?;
    // The engine of this process gives its own data directory's file; nothing else may.
    let own_engine = matches!(lambda.target, crate::lambda::client::LambdaTarget::Embedded(_));
    let zip = match location.strip_prefix("file://") {
        Some(path) if own_engine => tokio::fs::read(path)
            .await
            .map_err(|e| FetchError::Failed(format!("reading the engine's copy of the code failed: {e}")))?,
        _ => download(location).await?,
    };
    let expected = configuration.code_sha256().unwrap_or_default();
    let actual = sha256_base64(&zip);
    if actual != expected {
        return Err(FetchError::Failed(format!(
            "the downloaded code has CodeSha256 {actual}, not the {expected} Lambda gave: it was not used"
        )));
    }
    log.info(format!(
        "fetched the code of {}:{} ({} bytes, CodeSha256 {actual} checked)",
        wanted.name,
        configuration.version().unwrap_or("$LATEST"),
        zip.len()
    ));
    Ok(FetchedFunction { function, zip })
}

/// GetFunction; None when Lambda says there is no such function or version.
async fn get_function(
    lambda: &ProjectLambda,
    name: &str,
    qualifier: &str,
) -> Result<Option<GetFunctionOutput>, FetchError> {
    let asked = lambda
        .clients
        .control
        .get_function()
        .function_name(name)
        .qualifier(qualifier)
        .send();
    match tokio::time::timeout(CALL_TIMEOUT, asked).await {
        Ok(Ok(function)) => Ok(Some(function)),
        Ok(Err(e))
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Ok(Err(e)) => Err(FetchError::Failed(format!(
            "GetFunction {name}:{qualifier} failed with the project's credentials: {}",
            aws_sdk_lambda::error::DisplayErrorContext(&e)
        ))),
        Err(_) => Err(FetchError::Failed(format!(
            "GetFunction {name}:{qualifier} did not answer in time"
        ))),
    }
}

/// A published version whose code is `sha`, when the endpoint lists versions.
async fn version_with_code(lambda: &ProjectLambda, name: &str, sha: &str) -> Option<String> {
    let mut pages = lambda
        .clients
        .control
        .list_versions_by_function()
        .function_name(name)
        .into_paginator()
        .items()
        .send();
    let mut found = None;
    while let Some(Ok(version)) = pages.next().await {
        if version.code_sha256() == Some(sha) && version.version().is_some_and(|v| v != "$LATEST") {
            found = version.version().map(str::to_string);
        }
    }
    found
}

/// Downloads a package from its (presigned) URL: never a file:// or other scheme.
async fn download(location: &str) -> Result<Vec<u8>, FetchError> {
    let url = reqwest::Url::parse(location)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            FetchError::Failed(
                "Code.Location is not an http(s) URL (this endpoint gives no downloadable code)".to_string(),
            )
        })?;
    // The URL is presigned: its query is a credential, so it is never logged.
    let shown = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.path()
    );
    let failed = |why: String| FetchError::Failed(format!("downloading the code from {shown} failed: {why}"));
    let client = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let mut response = client.get(url).send().await.map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("it answered {}", response.status())));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MOST_BYTES {
            return Err(failed(format!("it is over {MOST_BYTES} bytes")));
        }
    }
    Ok(bytes)
}

/// Base64 of the SHA-256, as Lambda writes `CodeSha256`.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

/// Adds the function's layers where they can be carried: GetLayerVersionByArn, the
/// package checked against its `CodeSha256`, and the files Lambda puts on the runtime's
/// path from `/opt` (`python/`, `python/lib/python3.x/site-packages/`,
/// `nodejs/node_modules/`, `nodejs/nodeNN/node_modules/`) moved beside the function's code.
/// The function's own files win; everything else of a layer (binaries, extensions, Ruby
/// gems) is not carried, and the log says so.
pub async fn with_layers(lambda: &ProjectLambda, log: &RunLog, zip: Vec<u8>, layers: &[String]) -> Vec<u8> {
    let mut packages = Vec::new();
    for arn in layers {
        let asked = lambda.clients.control.get_layer_version_by_arn().arn(arn).send();
        let content = match tokio::time::timeout(CALL_TIMEOUT, asked).await {
            Ok(Ok(layer)) => layer.content().cloned(),
            Ok(Err(e)) => {
                log.warn(format!(
                    "layer {arn} not carried over: GetLayerVersion failed ({})",
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                ));
                continue;
            }
            Err(_) => {
                log.warn(format!(
                    "layer {arn} not carried over: GetLayerVersion did not answer in time"
                ));
                continue;
            }
        };
        let Some(location) = content.as_ref().and_then(|c| c.location()) else {
            log.warn(format!("layer {arn} not carried over: no Content.Location"));
            continue;
        };
        match download(location).await {
            Ok(bytes) if Some(sha256_base64(&bytes).as_str()) == content.as_ref().and_then(|c| c.code_sha256()) => {
                packages.push((arn.clone(), bytes));
            }
            Ok(_) => log.warn(format!(
                "layer {arn} not carried over: its package does not match its CodeSha256"
            )),
            Err(FetchError::Failed(why) | FetchError::Refused(why)) => {
                log.warn(format!("layer {arn} not carried over: {why}"))
            }
        }
    }
    if packages.is_empty() {
        return zip;
    }
    let code = std::sync::Arc::new(zip);
    let merged = {
        let code = code.clone();
        tokio::task::spawn_blocking(move || merge_layers(&code, &packages)).await
    };
    match merged {
        Ok(Ok((merged, notes))) => {
            for note in notes {
                log.info(note);
            }
            merged
        }
        Ok(Err(e)) => {
            log.warn(format!("layers not carried over: merging them failed ({e})"));
            std::sync::Arc::unwrap_or_clone(code)
        }
        Err(e) => {
            log.warn(format!("layers not carried over: {e}"));
            std::sync::Arc::unwrap_or_clone(code)
        }
    }
}

/// Where a layer's file lands beside the function's code, if the runtime would find it
/// there as it finds it under `/opt`.
fn carried_path(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix("nodejs/node_modules/") {
        return Some(format!("node_modules/{rest}"));
    }
    if let Some(rest) = name.strip_prefix("nodejs/") {
        let (dir, rest) = rest.split_once('/')?;
        return (dir.starts_with("node") && dir[4..].chars().all(|c| c.is_ascii_digit()))
            .then(|| rest.strip_prefix("node_modules/").map(|r| format!("node_modules/{r}")))
            .flatten();
    }
    let rest = name.strip_prefix("python/")?;
    if let Some(lib) = rest.strip_prefix("lib/") {
        let (_, inner) = lib.split_once('/')?;
        return inner.strip_prefix("site-packages/").map(str::to_string);
    }
    Some(rest.to_string())
}

type Notes = Vec<String>;

/// The function's zip with the layers' carried files added (the function's own first,
/// then the last layer's, as Lambda lays later layers over earlier ones).
fn merge_layers(zip: &[u8], layers: &[(String, Vec<u8>)]) -> zip::result::ZipResult<(Vec<u8>, Notes)> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut names = std::collections::HashSet::new();
    copy_all(
        &mut zip::ZipArchive::new(std::io::Cursor::new(zip))?,
        &mut writer,
        &mut names,
    )?;
    let mut notes = Vec::new();
    for (arn, bytes) in layers.iter().rev() {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
        let (mut carried, mut left) = (0, 0);
        for i in 0..archive.len() {
            let file = archive.by_index_raw(i)?;
            let name = file.name().to_string();
            if file.is_dir() {
                continue;
            }
            match carried_path(&name) {
                Some(path) if !path.is_empty() && names.insert(path.clone()) => {
                    writer.raw_copy_file_rename(file, &path)?;
                    carried += 1;
                }
                Some(_) => {}
                None => left += 1,
            }
        }
        notes.push(format!(
            "layer {arn}: {carried} file(s) carried beside the code{}",
            if left > 0 {
                format!("; {left} outside python/ and nodejs/ not carried (binaries, extensions, other runtimes)")
            } else {
                String::new()
            }
        ));
    }
    Ok((writer.finish()?.into_inner(), notes))
}

fn copy_all<R: Read + Seek, W: Write + Seek>(
    archive: &mut zip::ZipArchive<R>,
    writer: &mut zip::ZipWriter<W>,
    names: &mut std::collections::HashSet<String>,
) -> zip::result::ZipResult<()> {
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i)?;
        names.insert(file.name().to_string());
        writer.raw_copy_file(file)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_files_land_where_the_runtime_finds_them() {
        assert_eq!(
            carried_path("python/requests/__init__.py").as_deref(),
            Some("requests/__init__.py")
        );
        assert_eq!(
            carried_path("python/lib/python3.12/site-packages/six.py").as_deref(),
            Some("six.py")
        );
        assert_eq!(
            carried_path("nodejs/node_modules/left-pad/index.js").as_deref(),
            Some("node_modules/left-pad/index.js")
        );
        assert_eq!(
            carried_path("nodejs/node20/node_modules/x/i.js").as_deref(),
            Some("node_modules/x/i.js")
        );
        assert_eq!(carried_path("bin/tool"), None);
        assert_eq!(carried_path("extensions/agent"), None);
    }
}
