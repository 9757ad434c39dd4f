//! The book's IAM policy against what the service really calls: moto records every
//! request it is sent, each is named as the IAM action it needs, and each must be allowed
//! by the policy the book tells operators to grant (`docs/src/operations/iam-policy.json`,
//! which the page `operations/aws.md` includes).

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::book_page;

/// Every action in the book's policy file.
pub fn book_policy() -> BTreeSet<String> {
    let page = book_page("operations/aws.md");
    assert!(
        page.contains("```json\n{{#include iam-policy.json}}\n```"),
        "the page shows the policy file"
    );
    let file = book_page("operations/iam-policy.json");
    let policy: serde_json::Value = serde_json::from_str(&file).expect("the book's policy is JSON");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        match &statement["Action"] {
            serde_json::Value::String(action) => {
                actions.insert(action.clone());
            }
            serde_json::Value::Array(list) => {
                actions.extend(list.iter().map(|a| a.as_str().unwrap().to_string()));
            }
            other => panic!("an Action is a string or a list: {other}"),
        }
    }
    actions
}

/// The IAM action of each request signed with `access_key` in a moto recording (one JSON
/// object per line).
pub fn actions_of(recording: &Path, access_key: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(recording).unwrap_or_default();
    let signed_by = format!("Credential={access_key}/");
    text.lines()
        .filter(|line| line.contains(&signed_by))
        .map(|line| action_of(&serde_json::from_str(line).expect("a recorded request")))
        .collect()
}

fn action_of(request: &serde_json::Value) -> String {
    let header = |name: &str| {
        request["headers"]
            .as_object()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    // The signing scope names the service: Credential=KEY/DATE/REGION/SERVICE/aws4_request.
    let authorization = header("authorization");
    let service = authorization
        .split('/')
        .nth(3)
        .unwrap_or_else(|| panic!("a signed request: {request}"));
    let method = request["method"].as_str().unwrap();
    let url = request["url"].as_str().unwrap();
    let path = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url)
        .split('?')
        .next()
        .unwrap();
    match service {
        "lambda" => format!("lambda:{}", lambda_action(method, path)),
        "logs" => format!("logs:{}", header("x-amz-target").rsplit('.').next().unwrap()),
        "iam" | "sts" => {
            let body = request["body"].as_str().unwrap_or_default();
            let body = if request["body_encoded"].as_bool() == Some(true) {
                use base64::Engine;
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(body).unwrap()).unwrap()
            } else {
                body.to_string()
            };
            let action = body
                .split('&')
                .find_map(|pair| pair.strip_prefix("Action="))
                .unwrap_or_else(|| panic!("an {service} query names its Action: {body}"));
            format!("{service}:{action}")
        }
        other => panic!("a call to {other}, which the book's policy does not cover: {method} {path}"),
    }
}

/// Lambda's REST routes, as IAM names them.
fn lambda_action(method: &str, path: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match (method, parts.as_slice()) {
        ("POST", ["2015-03-31", "functions"]) => "CreateFunction",
        ("GET", ["2015-03-31", "functions"]) => "ListFunctions",
        ("GET", ["2015-03-31", "functions", _]) => "GetFunction",
        ("DELETE", ["2015-03-31", "functions", _]) => "DeleteFunction",
        ("GET", ["2015-03-31", "functions", _, "configuration"]) => "GetFunctionConfiguration",
        ("POST", ["2015-03-31", "functions", _, "invocations"]) => "InvokeFunction",
        ("GET", ["2017-03-31", "tags", ..]) => "ListTags",
        _ => panic!("an unmapped Lambda call {method} {path}: name it here and allow it in the book's policy"),
    }
}
