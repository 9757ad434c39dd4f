//! What the derives cannot say about the spec, said here, so the committed spec is exact
//! enough for generators (schemathesis, client libraries):
//!
//! - `Step` is a union discriminated by `type`. utoipa renders a `#[serde(tag = "type")]`
//!   enum as `oneOf` of `allOf` parts, where one part (the variant's struct, with
//!   `additionalProperties: false` from `deny_unknown_fields`) forbids `type` and the other
//!   requires it: no value can satisfy it. Here each variant's schema gets `type` as its own
//!   required property (an enum of its one value), and `Step` becomes `oneOf` of the two
//!   flat variant schemas with a `discriminator`.
//! - Rules that live in code as lists (runtimes, environment variable names) are copied
//!   from those lists, so the spec cannot drift from them.
//! - The project settings body: one property per setting name, with each name's own rule.
//! - Request bodies: a secret as raw bytes, optional bodies, a token's project that goes
//!   with its role.
//! - A run's events as server-sent events.
//! - Links written as OpenAPI spells them (see `to_json`).

use utoipa::openapi::path::PathItem;
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{
    AdditionalProperties, Discriminator, KnownFormat, Object, ObjectBuilder, OneOf, Ref, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{Content, OpenApi, RefOr, Required};

use crate::domain::function_tags::{AWS_MAX_TAGS, RUNNER_TAGS};
use lambda_rules::{KNOWN_RUNTIMES, Language, RESERVED_ENVIRONMENT_KEYS};

use crate::aws_settings::NO_NUL;

/// The ASCII punctuation a function tag may not hold: `check_tags` allows `_ . : / = + - @`.
const TAG_REFUSED_PUNCTUATION: &str = "!\"#$%&'()*,;<>?[\\]^`{|}~";

/// The pattern of a function tag's key or value: none of the control characters or the
/// ASCII punctuation `crate::domain::function_tags::check_tags` refuses.
fn tag_text() -> String {
    let punctuation: String = TAG_REFUSED_PUNCTUATION
        .chars()
        .map(|c| match c {
            '[' | '\\' | ']' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect();
    format!("^[^\\u0000-\\u001f\\u007f-\\u009f{punctuation}]*$")
}

/// The `type` of each step kind and the schema of its fields.
const STEP_KINDS: [(&str, &str); 2] = [
    ("lambda_invoke", "InvokeStep"),
    ("lambda_custom_code", "CustomCodeStep"),
];

pub struct StepUnion;

impl utoipa::Modify for StepUnion {
    fn modify(&self, openapi: &mut OpenApi) {
        let schemas = &mut openapi.components.get_or_insert_with(Default::default).schemas;
        for (kind, name) in STEP_KINDS {
            let object = object_mut(schemas.get_mut(name), name);
            let tag = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind]))
                .description(Some("The step kind."))
                .build();
            object.properties.insert("type".into(), tag.into());
            object.required.insert(0, "type".into());
        }
        let mut step = OneOf::new();
        step.items = STEP_KINDS
            .iter()
            .map(|(_, name)| Ref::from_schema_name(*name).into())
            .collect();
        step.discriminator = Some(Discriminator::with_mapping(
            "type",
            STEP_KINDS.map(|(kind, name)| (kind, format!("#/components/schemas/{name}"))),
        ));
        step.description =
            Some("A step: invoke an existing function, or create one from code, run it and clean it up.".into());
        schemas.insert("Step".into(), Schema::OneOf(step).into());

        let custom = object_mut(schemas.get_mut("CustomCodeStep"), "CustomCodeStep");
        let runtimes = KNOWN_RUNTIMES
            .iter()
            .filter(|r| !matches!(Language::of(r), Some(Language::Provided) | None));
        property_mut(custom, "runtime").enum_values = Some(runtimes.map(|r| (*r).into()).collect());
        let environment = property_mut(custom, "environment");
        environment.property_names = Some(Box::new(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z][A-Za-z0-9_]*$"))
                .build()
                .into(),
        ));
        environment.additional_properties = Some(Box::new(AdditionalProperties::RefOr(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(NO_NUL))
                .build()
                .into(),
        )));
        environment.description = Some(format!(
            "Variables of the function: names of letters, digits and `_` starting with a letter, none of Lambda's reserved names ({}).",
            RESERVED_ENVIRONMENT_KEYS.join(", ")
        ));

        // A tag's rules, as far as a pattern states them portably: the characters no tag
        // may hold are refused here; letters, numbers and spaces beyond ASCII, and the
        // reserved `aws:` and `lambda-steps:` keys, stay in the description.
        let tags = property_mut(custom, "tags");
        tags.max_properties = Some(AWS_MAX_TAGS - RUNNER_TAGS);
        tags.property_names = Some(Box::new(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(128))
                .pattern(Some(tag_text()))
                .build()
                .into(),
        ));
        tags.additional_properties = Some(Box::new(AdditionalProperties::RefOr(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(256))
                .pattern(Some(tag_text()))
                .build()
                .into(),
        )));
    }
}

/// Request bodies the path attributes cannot state exactly.
pub struct RequestBodies;

impl utoipa::Modify for RequestBodies {
    fn modify(&self, openapi: &mut OpenApi) {
        // A secret is raw bytes (not an array of numbers), 1 to 64 KiB of them.
        let secret = |format: Option<SchemaFormat>| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(format)
                .min_length(Some(1))
                .max_length(Some(crate::http::keys::MAX_SECRET_BYTES))
                .build()
        };
        let put_key = request_body_mut(openapi, "/v1/keys/{path}", |p| &mut p.put);
        put_key.content.insert(
            "application/octet-stream".into(),
            Content::new(Some(secret(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))))),
        );
        put_key
            .content
            .insert("text/plain".into(), Content::new(Some(secret(None))));

        // Without a body, a saved step runs with its own payload; `null` is not a body.
        let run_saved = request_body_mut(openapi, "/v1/projects/{project}/steps/{name}/runs", |p| &mut p.post);
        run_saved.required = Some(Required::False);
        run_saved.content.insert(
            "application/json".into(),
            Content::new(Some(Ref::from_schema_name("RunSavedStep"))),
        );

        // Any body is an event, the empty one too: JSON as it is, anything else as a string.
        let hook = request_body_mut(openapi, "/v1/hooks/{id}", |p| &mut p.post);
        hook.required = Some(Required::False);
        hook.content.insert(
            "text/plain".into(),
            Content::new(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(NO_NUL))
                    .build(),
            )),
        );

        // `project` goes with the role: none for `admin`, required for `runner` and `reader`.
        let schemas = &mut openapi.components.get_or_insert_with(Default::default).schemas;
        let token = object_mut(schemas.get_mut("NewToken"), "NewToken").clone();
        let name = token.properties["name"].clone();
        let variant = |roles: &[&str], project: Object, required: &[&str]| {
            let mut builder = ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("name", name.clone())
                .property(
                    "role",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(roles.to_vec())),
                )
                .property("project", project);
            for field in required {
                builder = builder.required(*field);
            }
            // The handler refuses fields it does not know, as the derived schemas say.
            builder = builder.additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
            Schema::Object(builder.build())
        };
        let mut new_token = OneOf::new();
        new_token.items = vec![
            variant(
                &["admin"],
                ObjectBuilder::new()
                    .schema_type(Type::Null)
                    .description(Some("An admin token is not bound to a project."))
                    .build(),
                &["name", "role"],
            )
            .into(),
            variant(
                &["runner", "reader"],
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(NO_NUL))
                    .description(Some("The project the token may run (`runner`) or read (`reader`)."))
                    .build(),
                &["name", "role", "project"],
            )
            .into(),
        ];
        new_token.description = token.description.clone();
        schemas.insert("NewToken".into(), Schema::OneOf(new_token).into());
    }
}

fn request_body_mut<'a>(
    openapi: &'a mut OpenApi,
    path: &str,
    operation: impl FnOnce(&mut PathItem) -> &mut Option<utoipa::openapi::path::Operation>,
) -> &'a mut RequestBody {
    let item = openapi
        .paths
        .paths
        .get_mut(path)
        .unwrap_or_else(|| panic!("{path} is in the spec"));
    operation(item)
        .as_mut()
        .and_then(|o| o.request_body.as_mut())
        .unwrap_or_else(|| panic!("{path} takes a body"))
}

/// One event of `GET /v1/runs/{id}/events`, as OpenAPI 3.1 describes a server-sent event.
pub struct RunEvent;

impl utoipa::PartialSchema for RunEvent {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A server-sent event: `log` (`id` is the entry's seq, `data` a LogEntry, with the `phase` a runner line was written in), `status` (`data`: `{\"status\"}` when the run's status changes) or `end` (`data`: `{\"status\", \"last_seq\"}`, the last event).",
            ))
            .property(
                "event",
                ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["log", "status", "end"])),
            )
            .property(
                "data",
                ObjectBuilder::new().schema_type(Type::String).content_media_type("application/json"),
            )
            .property("id", ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]+$")))
            .property("retry", ObjectBuilder::new().schema_type(Type::Integer))
            .required("event")
            .required("data")
            .into()
    }
}

impl utoipa::ToSchema for RunEvent {
    fn name() -> std::borrow::Cow<'static, str> {
        "RunEvent".into()
    }
}

/// The body of `PUT /v1/projects/{project}/settings`: one optional property per setting
/// name, each with its rule, both from the settings' one definition (`aws_settings`).
pub struct ProjectSettings;

impl utoipa::PartialSchema for ProjectSettings {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "The project's settings, replaced as a whole; `null` or absent: not set (the framework's value or the default applies).",
            ))
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        for setting in &crate::aws_settings::SETTINGS {
            let rule = &setting.rule;
            let value = ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ]))
                .min_length(Some(1))
                .max_length(rule.max_length)
                .pattern(Some(rule.pattern))
                .description(Some(setting.described()));
            object = object.property(setting.name.project_key(), value);
        }
        object.into()
    }
}

impl utoipa::ToSchema for ProjectSettings {
    fn name() -> std::borrow::Cow<'static, str> {
        "ProjectSettings".into()
    }
}

/// The document as JSON. utoipa 5 writes a link's `operationId` and `requestBody` in
/// snake case (`operation_id`), which no OpenAPI tool reads, so they are renamed here.
pub fn to_json(openapi: &OpenApi) -> String {
    let mut doc = serde_json::to_value(openapi).expect("the spec serialises");
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        let operations = paths
            .values_mut()
            .filter_map(|p| p.as_object_mut())
            .flat_map(|p| p.values_mut());
        let responses = operations.filter_map(|o| o.get_mut("responses").and_then(|r| r.as_object_mut()));
        for response in responses.flat_map(|r| r.values_mut()) {
            let links = response.get_mut("links").and_then(|l| l.as_object_mut());
            for link in links
                .into_iter()
                .flat_map(|l| l.values_mut())
                .filter_map(|l| l.as_object_mut())
            {
                for (from, to) in [("operation_id", "operationId"), ("request_body", "requestBody")] {
                    if let Some(value) = link.remove(from) {
                        link.insert(to.into(), value);
                    }
                }
            }
        }
    }
    sort_keys(&mut doc);
    serde_json::to_string_pretty(&doc).expect("the spec serialises") + "\n"
}

/// Keys in one order whether or not a build enables serde_json's `preserve_order` (the test
/// build does, through a dev-dependency), so every build writes the same document.
fn sort_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

fn object_mut<'a>(schema: Option<&'a mut RefOr<Schema>>, name: &str) -> &'a mut Object {
    match schema {
        Some(RefOr::T(Schema::Object(object))) => object,
        _ => panic!("the {name} schema is an object"),
    }
}

fn property_mut<'a>(object: &'a mut Object, name: &str) -> &'a mut Object {
    object_mut(object.properties.get_mut(name), name)
}

#[cfg(test)]
mod tests {
    /// The spec's tag pattern and the code agree on every ASCII character: one the pattern
    /// refuses is refused, and one it allows is taken.
    #[test]
    fn the_tag_pattern_refuses_the_ascii_that_check_tags_refuses() {
        for byte in 0u8..128 {
            let c = char::from(byte);
            let by_pattern = c.is_ascii_control() || super::TAG_REFUSED_PUNCTUATION.contains(c);
            for tag in [(format!("k{c}"), "v".to_string()), ("k".to_string(), format!("v{c}"))] {
                let by_code = crate::domain::function_tags::check_tags(&[tag].into()).is_err();
                assert_eq!(by_pattern, by_code, "{c:?}");
            }
        }
    }

    #[test]
    fn every_step_kind_has_a_schema_with_its_type() {
        let doc: serde_json::Value = serde_json::from_str(&super::super::openapi_json()).unwrap();
        let schemas = &doc["components"]["schemas"];
        for (kind, name) in super::STEP_KINDS {
            assert_eq!(schemas[name]["properties"]["type"]["enum"], serde_json::json!([kind]));
            assert_eq!(schemas[name]["required"][0], "type");
            assert_eq!(schemas[name]["additionalProperties"], false);
            assert_eq!(
                schemas["Step"]["discriminator"]["mapping"][kind],
                format!("#/components/schemas/{name}")
            );
        }
    }
}
