//! A gem source of the test's own, since rubygems.org may be out of reach: two gems built
//! with `gem build` (`hello_steps` 1.2.0, plain Ruby, and `native_steps` 0.1.0, with a C
//! extension to build), indexed with `gem generate_index` and served over HTTP; and a `gem`
//! command that uses only this source, for the service's `--gem`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use axum::http::{StatusCode, Uri};

pub struct GemSource {
    /// A `gem` that fetches from this source only.
    pub gem: PathBuf,
    _dir: tempfile::TempDir,
}

impl GemSource {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("gems")).unwrap();
        build_gem(
            &dir.path().join("hello"),
            &repo,
            "hello_steps",
            "1.2.0",
            &[(
                "lib/hello_steps.rb",
                "module HelloSteps\n  def self.hi\n    'hi from a gem'\n  end\nend\n",
            )],
            "",
        );
        build_gem(
            &dir.path().join("native"),
            &repo,
            "native_steps",
            "0.1.0",
            &[
                ("lib/native_steps.rb", "require 'native_steps/native_steps'\n"),
                (
                    "ext/native_steps/extconf.rb",
                    "require 'mkmf'\ncreate_makefile('native_steps/native_steps')\n",
                ),
            ],
            "  s.extensions = ['ext/native_steps/extconf.rb']\n",
        );
        let indexed = std::process::Command::new("gem")
            .args(["generate_index", "--directory"])
            .arg(&repo)
            .output()
            .expect("gem runs (scripts/deps.sh installs ruby)");
        assert!(indexed.status.success(), "{}", String::from_utf8_lossy(&indexed.stderr));

        let served = repo.clone();
        let router = axum::Router::new().fallback(move |uri: Uri| {
            let path = served.join(uri.path().trim_start_matches('/'));
            async move {
                match std::fs::read(&path) {
                    Ok(bytes) if !uri.path().contains("..") => (StatusCode::OK, bytes),
                    _ => (StatusCode::NOT_FOUND, Vec::new()),
                }
            }
        });
        let url = super::fake_endpoint(router).await;
        let gemrc = dir.path().join("gemrc");
        std::fs::write(&gemrc, format!("---\n:sources:\n- {url}/\n")).unwrap();
        let gem = dir.path().join("gem");
        std::fs::write(
            &gem,
            format!("#!/bin/sh\nGEMRC='{}' exec gem \"$@\"\n", gemrc.display()),
        )
        .unwrap();
        std::fs::set_permissions(&gem, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { gem, _dir: dir }
    }
}

fn build_gem(work: &Path, repo: &Path, name: &str, version: &str, files: &[(&str, &str)], extra: &str) {
    for (path, content) in files {
        let path = work.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let listed: Vec<String> = files.iter().map(|(p, _)| format!("{p:?}")).collect();
    let spec = format!(
        "Gem::Specification.new do |s|\n  s.name = {name:?}\n  s.version = {version:?}\n  s.summary = 'a test gem'\n  s.authors = ['lambda-steps']\n  s.license = 'MIT'\n  s.files = [{}]\n{extra}end\n",
        listed.join(", ")
    );
    std::fs::write(work.join(format!("{name}.gemspec")), spec).unwrap();
    let built = std::process::Command::new("gem")
        .args(["build", &format!("{name}.gemspec")])
        .current_dir(work)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let file = format!("{name}-{version}.gem");
    std::fs::rename(work.join(&file), repo.join("gems").join(&file)).unwrap();
}
