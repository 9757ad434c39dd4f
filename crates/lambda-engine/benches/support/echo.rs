//! The echo function both engine benchmarks invoke: this crate's `engine` bench and the
//! service's `engine_e2e` (which includes this file), so both measure the same handler.

/// The echo function both engine benchmarks invoke (Python, `app.handler` answers its
/// event), created as `name`.
pub async fn create_echo(lambda: &aws_sdk_lambda::Client, name: &str) {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("app.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"def handler(event, context):\n    return event\n")
        .unwrap();
    let zip = w.finish().unwrap().into_inner();
    lambda
        .create_function()
        .function_name(name)
        .runtime("python3.12".into())
        .role("arn:aws:iam::000000000000:role/bench")
        .handler("app.handler")
        .timeout(30)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                .build(),
        )
        .send()
        .await
        .expect("create the echo function");
}
