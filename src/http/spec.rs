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

use utoipa::openapi::schema::{
    AdditionalProperties, Discriminator, Object, ObjectBuilder, OneOf, Ref, Schema, Type,
};
use utoipa::openapi::{OpenApi, RefOr};

use crate::engine::model::RESERVED_ENVIRONMENT_KEYS;
use crate::engine::runtimes::{KNOWN_RUNTIMES, Language};

/// A string with no NUL character: Postgres cannot store one, so the service refuses it.
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// The `type` of each step kind and the schema of its fields.
const STEP_KINDS: [(&str, &str); 2] = [("lambda_invoke", "InvokeStep"), ("lambda_custom_code", "CustomCodeStep")];

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
    }
}

/// The body of `PUT /v1/projects/{project}/settings`: one optional property per setting
/// name, each with the rule `crate::settings::validate` applies to it.
pub struct ProjectSettings;

impl utoipa::PartialSchema for ProjectSettings {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "The project's settings, replaced as a whole; `null` or absent: not set (the framework's value or the default applies).",
            ))
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        for name in crate::settings::NAMES {
            let (pattern, max_length, description) = match *name {
                "endpoint_url" => (
                    "^(embedded|aws|https?://[^\\u0000]*)$",
                    None,
                    "`embedded`, `aws`, or an http(s) URL.",
                ),
                "secret_key_path" => (
                    "^(\\.?[^.\\u0000])*\\.?$",
                    Some(512),
                    "A key storage path (the secret itself is stored with `PUT /v1/keys/{path}`); no `..`.",
                ),
                "access_key" => ("^[A-Za-z0-9]*$", Some(128), "An access key id: letters and digits."),
                _ => (NO_NUL, Some(2048), "A non-empty string."),
            };
            let value = ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
                .min_length(Some(1))
                .max_length(max_length)
                .pattern(Some(pattern))
                .description(Some(description));
            object = object.property(format!("project.aws.{name}"), value);
        }
        object.into()
    }
}

impl utoipa::ToSchema for ProjectSettings {
    fn name() -> std::borrow::Cow<'static, str> {
        "ProjectSettings".into()
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
