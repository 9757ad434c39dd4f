//! Running the installers: pip (wheels only), npm (scripts off) and gem (fetched, checked
//! for native extensions, then installed locally), each without the service's secrets.

use std::path::{Path, PathBuf};

use super::{Installers, PackageError, Plan, Platform, internal};
use lambda_rules::Language;

/// Installs into `staging`; answers the directory whose tree goes into the zip.
pub(super) async fn install(
    installers: &Installers,
    plan: &Plan,
    packages: &[String],
    staging: &Path,
) -> Result<PathBuf, PackageError> {
    let target = staging.join("install");
    std::fs::create_dir_all(&target).map_err(|e| internal("making the install directory", &e))?;
    match plan.language {
        Language::Python => {
            let mut args: Vec<String> = [
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--no-compile",
                "--only-binary=:all:",
                "--implementation",
                "cp",
            ]
            .map(String::from)
            .into();
            args.extend(["--python-version".into(), plan.version.clone()]);
            if plan.platform == Platform::Aws {
                args.extend(["--platform".into(), format!("manylinux2014_{}", plan.architecture)]);
            }
            args.extend(["--target".into(), target.display().to_string()]);
            args.extend(packages.iter().cloned());
            run(installers, &installers.pip, "pip", &args, staging).await?;
            Ok(target)
        }
        Language::Node => {
            // An empty project, so npm neither climbs to a parent's package.json nor saves one.
            std::fs::write(target.join("package.json"), "{}\n").map_err(|e| internal("writing package.json", &e))?;
            let mut args: Vec<String> = [
                "install",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--no-package-lock",
                "--omit=dev",
                "--prefix",
            ]
            .map(String::from)
            .into();
            args.push(target.display().to_string());
            if plan.platform == Platform::Aws {
                args.extend(["--os=linux".into(), format!("--cpu={}", npm_cpu(&plan.architecture))]);
            }
            args.extend(packages.iter().cloned());
            run(installers, &installers.npm, "npm", &args, staging).await?;
            Ok(target.join("node_modules"))
        }
        Language::Ruby => {
            let fetched = staging.join("fetched");
            std::fs::create_dir_all(&fetched).map_err(|e| internal("making the fetch directory", &e))?;
            for package in packages {
                let (name, version) = match package.split_once(':') {
                    Some((name, version)) => (name, Some(version)),
                    None => (package.as_str(), None),
                };
                let mut args = vec!["fetch".to_string(), name.to_string()];
                if let Some(version) = version {
                    args.extend(["--version".into(), version.into()]);
                }
                let before = gem_files(&fetched)?.len();
                let output = run(installers, &installers.gem, "gem fetch", &args, &fetched).await?;
                // gem fetch says it found nothing, and still exits 0.
                if gem_files(&fetched)?.len() == before {
                    return Err(PackageError::Install(format!(
                        "gem fetch found no gem for {package}: {}",
                        installer_message(&output.stderr, &output.stdout)
                    )));
                }
            }
            let gems = gem_files(&fetched)?;
            for gem in &gems {
                let spec = gem.display().to_string();
                let extensions = run(
                    installers,
                    &installers.gem,
                    "gem spec",
                    &["spec".into(), spec.clone(), "extensions".into()],
                    &fetched,
                )
                .await?;
                let has_extensions = String::from_utf8_lossy(&extensions.stdout)
                    .lines()
                    .any(|l| l.trim_start().starts_with("- "));
                if has_extensions {
                    return Err(PackageError::Install(format!(
                        "{} has native extensions to build, which is not done on the service's host; use a gem without them",
                        gem.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or(spec)
                    )));
                }
            }
            let mut args: Vec<String> = [
                "install",
                "--local",
                "--no-document",
                "--ignore-dependencies",
                "--install-dir",
            ]
            .map(String::from)
            .into();
            args.push(target.display().to_string());
            args.extend(gems.iter().map(|g| g.display().to_string()));
            run(installers, &installers.gem, "gem install", &args, &fetched).await?;
            // What a function requires: the gems and their specifications, not the caches.
            let _ = std::fs::remove_dir_all(target.join("cache"));
            Ok(target)
        }
        Language::Provided => Err(PackageError::Install("this runtime takes no packages".into())),
    }
}

fn npm_cpu(architecture: &str) -> &'static str {
    if architecture == "arm64" { "arm64" } else { "x64" }
}

fn gem_files(dir: &Path) -> Result<Vec<PathBuf>, PackageError> {
    let mut gems: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| internal("reading fetched gems", &e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "gem"))
        .collect();
    gems.sort();
    Ok(gems)
}

/// Runs an installer, without the service's own secrets in its environment; answers its
/// output, or its error lines as the run's message.
async fn run(
    installers: &Installers,
    program: &Path,
    what: &str,
    args: &[String],
    dir: &Path,
) -> Result<std::process::Output, PackageError> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("LAMBDA_STEPS_") || name.starts_with("AWS_") || name == "DATABASE_URL" {
            command.env_remove(name.as_ref());
        }
    }
    let output = match tokio::time::timeout(installers.timeout, command.output()).await {
        Err(_) => {
            return Err(PackageError::Install(format!(
                "{what} took longer than {} s and was stopped",
                installers.timeout.as_secs()
            )));
        }
        Ok(Err(e)) => {
            return Err(PackageError::Install(format!(
                "cannot run {what} ({}): {e}; install it on the service's host or set its path (--pip, --npm, --gem)",
                program.display()
            )));
        }
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(output);
    }
    let status = output
        .status
        .code()
        .map_or_else(|| "a signal".to_string(), |c| c.to_string());
    Err(PackageError::Install(format!(
        "{what} failed (exit status {status}): {}",
        installer_message(&output.stderr, &output.stdout)
    )))
}

/// The lines of an installer's output that say what went wrong, at most 2,000 characters.
fn installer_message(stderr: &[u8], stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(if stderr.iter().any(|b| !b.is_ascii_whitespace()) {
        stderr
    } else {
        stdout
    });
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    // npm ends with lines that say nothing of the package: a bare status code, where its
    // debug log is.
    let says_something = |line: &str| {
        let rest = line
            .trim_start_matches("npm error")
            .trim_start_matches("npm ERR!")
            .trim();
        !rest.is_empty() && !rest.bytes().all(|b| b.is_ascii_digit()) && !rest.starts_with("A complete log of this run")
    };
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("ERROR") || l.starts_with("npm error") || l.starts_with("npm ERR!"))
        .filter(|l| says_something(l))
        .collect();
    let chosen = if errors.is_empty() {
        &lines[lines.len().saturating_sub(10)..]
    } else {
        &errors[..]
    };
    let message = chosen.join("\n");
    match message.char_indices().nth(2000) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

pub(super) async fn ask(program: &Path, args: &[&str]) -> Option<String> {
    let output = tokio::process::Command::new(program).args(args).output().await.ok()?;
    let answer = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !answer.is_empty()).then_some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installers_error_lines_are_its_message() {
        let pip = b"Collecting x\nERROR: Could not find a version that satisfies the requirement no-such-pkg==1.0 (from versions: none)\nERROR: No matching distribution found for no-such-pkg==1.0\n";
        assert_eq!(
            installer_message(pip, b""),
            "ERROR: Could not find a version that satisfies the requirement no-such-pkg==1.0 (from versions: none)\nERROR: No matching distribution found for no-such-pkg==1.0"
        );
        assert_eq!(installer_message(b"", b"a\nb\n"), "a\nb");
        let npm = b"npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/nope - Not found\nnpm error 404\nnpm error A complete log of this run can be found in: /x.log\n";
        assert_eq!(
            installer_message(npm, b""),
            "npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/nope - Not found"
        );
    }
}
