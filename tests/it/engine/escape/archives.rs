//! Hostile code archives uploaded with the engine's own key: a size header that lies, a
//! deflate bomb, paths that leave the task root, a symlink out. Each must be refused as AWS
//! refuses it, before anything is allocated or written, and the engine must keep serving.

use std::io::Write;

use serde_json::{Value, json};

use super::scene::Observations;

const HANDLER: &str = "def handler(e, c):\n    return 'ran'\n";

/// Each archive's CreateFunction, by case.
pub async fn upload_each(client: &aws_sdk_lambda::Client) -> Observations {
    let mut observations = Observations::new();
    for (case, archive) in [
        ("zip.lying_size", lying_size()),
        ("zip.deflate_bomb", deflate_bomb()),
        ("zip.parent_path", with_entry("../escape.py")),
        ("zip.absolute_path", with_entry("/tmp/escape.py")),
        ("zip.symlink_out", symlink_out()),
    ] {
        let name = format!("hostile-{}", uuid::Uuid::new_v4().simple());
        let answer = crate::support::create_request(client, &name, "python3.12", "app.handler", archive)
            .send()
            .await;
        let mut seen = match answer {
            Ok(_) => {
                let _ = client.delete_function().function_name(&name).send().await;
                json!({"status": 201, "created": true})
            }
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let error = e.into_service_error();
                json!({
                    "status": status,
                    "error_type": aws_sdk_lambda::error::ProvideErrorMetadata::code(&error),
                    "message": aws_sdk_lambda::error::ProvideErrorMetadata::message(&error),
                })
            }
        };
        seen["engine_still_serves"] = Value::Bool(client.list_functions().send().await.is_ok());
        observations.insert(case.to_string(), seen);
    }
    observations
}

fn options() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default().unix_permissions(0o644)
}

/// A valid function with one more entry named `name`.
fn with_entry(name: &str) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    out.start_file("app.py", options()).unwrap();
    out.write_all(HANDLER.as_bytes()).unwrap();
    out.start_file(name, options()).unwrap();
    out.write_all(b"print('outside the task root')\n").unwrap();
    out.finish().unwrap().into_inner()
}

/// A valid function with 300 MB of zeros deflated into a few hundred KB: above Lambda's
/// 250 MB unzipped limit. Python's zlib (the test venv's) deflates it in a second, where
/// the test's own unoptimised build would take many.
fn deflate_bomb() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.zip");
    let script = "import sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
        \x20   z.writestr('app.py', sys.argv[2])\n\
        \x20   with z.open('zeros.bin', 'w') as f:\n\
        \x20       for _ in range(300):\n\
        \x20           f.write(bytes(1 << 20))\n";
    let out = std::process::Command::new(crate::support::venv().join("bin/python"))
        .args(["-c", script])
        .arg(&path)
        .arg(HANDLER)
        .output()
        .expect("the venv's python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(&path).unwrap()
}

/// The deflate bomb with headers (local and central) that claim its zeros are 1 KB: a check
/// that trusts them passes it.
fn lying_size() -> Vec<u8> {
    let mut bytes = deflate_bomb();
    let name = b"zeros.bin";
    // The uncompressed size sits 22 bytes into a local header (name at 30), 24 into a
    // central one (name at 46).
    for (signature, size_at, name_at) in [(0x0403_4b50u32, 22, 30), (0x0201_4b50u32, 24, 46)] {
        let at = (0..bytes.len() - name_at - name.len())
            .find(|&at| {
                bytes[at..at + 4] == signature.to_le_bytes() && &bytes[at + name_at..at + name_at + name.len()] == name
            })
            .expect("the zip has the header");
        bytes[at + size_at..at + size_at + 4].copy_from_slice(&1024u32.to_le_bytes());
    }
    bytes
}

/// A valid function with a symlink entry pointing at the host's /etc/passwd.
fn symlink_out() -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    out.start_file("app.py", options()).unwrap();
    out.write_all(HANDLER.as_bytes()).unwrap();
    out.add_symlink("passwd", "/etc/passwd", options()).unwrap();
    out.finish().unwrap().into_inner()
}
