//! JSON the service stores: what Postgres's `jsonb` and this service's own parser can take
//! and give back unchanged. Checked at the edge (a 422 naming the field), so no stored run
//! holds a value that would stop a claim batch or a run list when read back.
//!
//! Three things do not survive the trip:
//! - a NUL character (`\u0000`): jsonb and text columns refuse it;
//! - a number Postgres keeps exactly but this service cannot read back as it was sent:
//!   jsonb prints numbers in plain notation (`1e308` comes back as a 309-digit integer),
//!   which serde_json reads back as another value or not at all ("number out of range");
//! - nesting deeper than [`MAX_DEPTH`]: serde_json stops at 128 levels, and a step holds
//!   its payload two levels down.

use super::step::InvalidField;

/// The deepest nesting a stored JSON value may have.
pub const MAX_DEPTH: usize = 64;

/// Checks a request value; the error names the field at fault, under `field`.
pub fn check_storable(value: &serde_json::Value, field: &str) -> Result<(), InvalidField> {
    walk(value, field, 1)
}

fn walk(value: &serde_json::Value, field: &str, depth: usize) -> Result<(), InvalidField> {
    if depth > MAX_DEPTH {
        return Err(InvalidField::new(
            field,
            format!("nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    match value {
        serde_json::Value::String(text) if text.contains('\0') => Err(InvalidField::new(
            field,
            "contains a NUL character (\\u0000), which cannot be stored",
        )),
        serde_json::Value::Number(number) if !reads_back(number) => Err(InvalidField::new(
            field,
            format!(
                "holds the number {number}, which cannot be stored and read back exactly (numbers are IEEE doubles of at most about 1e300 in size, or 64-bit integers)"
            ),
        )),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| walk(item, &format!("{field}[{i}]"), depth + 1)),
        serde_json::Value::Object(members) => members.iter().try_for_each(|(key, item)| {
            let path = if field.is_empty() {
                key.clone()
            } else {
                format!("{field}.{key}")
            };
            if key.contains('\0') {
                return Err(InvalidField::new(
                    field,
                    "has a key with a NUL character (\\u0000), which cannot be stored",
                ));
            }
            walk(item, &path, depth + 1)
        }),
        _ => Ok(()),
    }
}

/// Whether the number reads back unchanged after jsonb prints it in plain notation.
fn reads_back(number: &serde_json::Number) -> bool {
    let Some(float) = number.as_f64().filter(|_| number.is_f64()) else {
        return true; // 64-bit integers print and parse exactly
    };
    let plain = plain_notation(&number.to_string());
    match serde_json::from_str::<serde_json::Number>(&plain) {
        Ok(back) => back.as_f64() == Some(float),
        Err(_) => false,
    }
}

/// `1.5e3` as `1500`, `2e-3` as `0.002`: how Postgres's numeric prints what it was given.
fn plain_notation(text: &str) -> String {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => return text.to_string(),
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let point = whole.len() as i64 + exponent;
    let (integer, decimals) = if point <= 0 {
        ("0".to_string(), format!("{}{digits}", "0".repeat((-point) as usize)))
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let integer = integer.trim_start_matches('0');
    let integer = if integer.is_empty() { "0" } else { integer };
    if decimals.is_empty() {
        format!("{sign}{integer}")
    } else {
        format!("{sign}{integer}.{decimals}")
    }
}

/// A value made storable, for what the service did not choose (a function's answer, its
/// error document): NUL characters become U+FFFD, numbers that would not read back become
/// their text, and whatever nests too deep becomes its JSON text.
pub fn storable(value: serde_json::Value) -> serde_json::Value {
    make_storable(value, 1)
}

fn make_storable(value: serde_json::Value, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        return Value::String(value.to_string().replace('\0', "\u{FFFD}"));
    }
    match value {
        Value::String(text) if text.contains('\0') => Value::String(text.replace('\0', "\u{FFFD}")),
        Value::Number(number) if !reads_back(&number) => Value::String(number.to_string()),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| make_storable(v, depth + 1)).collect()),
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.replace('\0', "\u{FFFD}"), make_storable(v, depth + 1)))
                .collect(),
        ),
        other => other,
    }
}

/// Deserializes `value` into `T`; a failure names the field at fault under `prefix`
/// (`step.timeout_seconds`), or `body` for a request body's top level.
pub fn deserialize_at<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, InvalidField> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path == ".") {
            (true, true) => "body".to_string(),
            (true, false) => path,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{path}"),
        };
        InvalidField::new(&field, humane(&e.into_inner().to_string()))
    })
}

/// serde's messages in a JSON user's words: no Rust type names.
pub fn humane(message: &str) -> String {
    const WORDS: &[(&str, &str)] = &[
        ("invalid type: map", "invalid type: object"),
        ("invalid type: sequence", "invalid type: array"),
        ("expected a map", "expected a JSON object"),
        ("expected a sequence", "expected a JSON array"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number from 0 to 4294967295"),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected usize", "expected a whole number of 0 or more"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a borrowed string", "expected a string"),
        ("expected a string", "expected a string"),
    ];
    let mut text = message.to_string();
    for (rust, json) in WORDS {
        text = text.replace(rust, json);
    }
    for kind in ["internally tagged enum ", "tuple struct ", "struct ", "enum "] {
        while let Some(at) = text.find(&format!("expected {kind}")) {
            let name_start = at + "expected ".len() + kind.len();
            let name_end = text[name_start..]
                .find(|c: char| !c.is_alphanumeric() && c != '_')
                .map_or(text.len(), |i| name_start + i);
            let wanted = if kind.contains("enum") {
                "one of the values this field takes"
            } else {
                "a JSON object"
            };
            text.replace_range(at..name_end, &format!("expected {wanted}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_notation_is_postgres_numeric_output() {
        assert_eq!(plain_notation("1.5e3"), "1500");
        assert_eq!(plain_notation("2e-3"), "0.002");
        assert_eq!(plain_notation("-1.25e1"), "-12.5");
        assert_eq!(plain_notation("0.5"), "0.5");
        assert_eq!(plain_notation("1e0"), "1");
    }

    #[test]
    fn refuses_what_cannot_come_back() {
        let huge: serde_json::Value = serde_json::from_str(r#"{"x": 1.7976931348623157e308}"#).unwrap();
        assert_eq!(
            check_storable(&huge, "step.payload").unwrap_err().field,
            "step.payload.x"
        );
        let nul = json!({"a": ["ok", "b\u{0}"]});
        assert_eq!(check_storable(&nul, "p").unwrap_err().field, "p.a[1]");
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH {
            deep = json!([deep]);
        }
        assert!(check_storable(&deep, "p").unwrap_err().message.contains("deeper"));
    }

    #[test]
    fn accepts_ordinary_json() {
        let value = json!({"n": 1.5, "small": 1e-7, "big": 12345678901234567890u64, "neg": -9007199254740993i64,
            "e": 2.718281828459045e-5, "s": "text", "list": [null, true, {"k": 0.1}]});
        check_storable(&value, "p").unwrap();
        let not_too_big: serde_json::Value = serde_json::from_str("1e300").unwrap();
        check_storable(&not_too_big, "p").unwrap();
    }

    #[test]
    fn storable_mends_a_functions_answer() {
        let huge: serde_json::Value =
            serde_json::from_str(r#"{"x": 1.7976931348623157e308, "s": "a\u0000b"}"#).unwrap();
        let mended = storable(huge);
        check_storable(&mended, "p").unwrap();
        assert_eq!(mended["s"], "a\u{FFFD}b");
        assert_eq!(mended["x"], "1.7976931348623157e+308");
    }

    #[test]
    fn no_rust_type_names() {
        assert_eq!(
            humane("invalid type: string \"x\", expected struct RunSavedStep"),
            "invalid type: string \"x\", expected a JSON object"
        );
        assert_eq!(
            humane("invalid type: map, expected u32 at line 1"),
            "invalid type: object, expected a whole number from 0 to 4294967295 at line 1"
        );
        assert_eq!(
            humane("invalid type: integer `1`, expected enum InvocationType"),
            "invalid type: integer `1`, expected one of the values this field takes"
        );
    }
}
