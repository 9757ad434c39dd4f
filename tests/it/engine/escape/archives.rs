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

/// A valid function whose entry's headers (local and central) claim just under 4 GiB.
fn lying_size() -> Vec<u8> {
    let mut bytes = crate::support::zip(&[("app.py", HANDLER)]);
    let claim = 0xFFFF_FFF0u32.to_le_bytes();
    // The uncompressed size sits 22 bytes into a local header, 24 into a central one.
    for (signature, offset) in [(0x0403_4b50u32, 22), (0x0201_4b50u32, 24)] {
        let at = bytes
            .windows(4)
            .position(|w| w == signature.to_le_bytes())
            .expect("the zip has the header");
        bytes[at + offset..at + offset + 4].copy_from_slice(&claim);
    }
    bytes
}

/// 300 MB of zeros, deflated: above Lambda's 250 MB unzipped limit, a few hundred KB zipped.
/// One megabyte is deflated once and copied raw 300 times, so building it costs nothing.
fn deflate_bomb() -> Vec<u8> {
    let deflated = options().compression_method(zip::CompressionMethod::Deflated);
    let mut one = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    one.start_file("zeros", deflated).unwrap();
    one.write_all(&vec![0u8; 1 << 20]).unwrap();
    let mut one = zip::ZipArchive::new(one.finish().unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    out.start_file("app.py", options()).unwrap();
    out.write_all(HANDLER.as_bytes()).unwrap();
    for i in 0..300 {
        out.raw_copy_file_rename(one.by_index(0).unwrap(), format!("zeros-{i}.bin"))
            .unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// A valid function with a symlink entry pointing at the host's /etc/passwd.
fn symlink_out() -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    out.start_file("app.py", options()).unwrap();
    out.write_all(HANDLER.as_bytes()).unwrap();
    out.add_symlink("passwd", "/etc/passwd", options()).unwrap();
    out.finish().unwrap().into_inner()
}
