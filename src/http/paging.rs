//! Lists, a page at a time. Every list answers a [`Page`]; a paged list reads which page
//! from a [`PageRequest`]: one `limit` rule, a [`Cursor`] of its own that it gives out and
//! reads back, and the next cursor taken from the one row read past the page.

use std::borrow::Cow;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, Ref, RefOr, Required};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::ApiError;
use crate::http::extract::QueryParams;

/// The page size when a list asks for none.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page a list answers.
pub const MAX_LIMIT: i64 = 200;

/// One page of a list: its items, and where the next page starts when there is one.
#[derive(Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A list answered whole, on one page.
    pub fn whole(items: Vec<T>) -> Self {
        Self {
            items,
            next_cursor: None,
        }
    }
}

/// What a list holds: the spec names the page of these `PAGE` (`RunPage`, ...).
pub trait Listed: ToSchema {
    const PAGE: &'static str;
}

/// Where a list's next page starts, as the list writes it into `next_cursor` and reads it
/// back from `cursor`.
pub trait Cursor: Sized {
    /// What every cursor of this list looks like, for the spec.
    const PATTERN: &'static str;
    /// The cursor `text` names, if it is one this list gave out.
    fn read(text: &str) -> Option<Self>;
    fn write(&self) -> String;
}

/// The page a list is asked for: `cursor` (absent: the first page) and `limit` (1 to 200,
/// default 50), checked; a list's own filters are read beside it.
pub struct PageRequest<C> {
    cursor: Option<C>,
    limit: i64,
}

impl<C: Cursor> PageRequest<C> {
    /// Where the page starts; `None` for the first page.
    pub fn cursor(&self) -> Option<&C> {
        self.cursor.as_ref()
    }

    /// How many rows to read: the page and one more, which says whether there is a next.
    pub fn rows(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts `rows`, read with [`Self::rows`], to the page; its next cursor is that of its
    /// last row when there is more.
    pub fn page<T>(&self, mut rows: Vec<T>, cursor_of: impl Fn(&T) -> C) -> Page<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if rows.len() <= limit {
            return Page::whole(rows);
        }
        rows.truncate(limit);
        let next_cursor = rows.last().map(|row| cursor_of(row).write());
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// `cursor` and `limit` as the query string has them.
#[derive(Deserialize)]
struct Asked {
    cursor: Option<String>,
    limit: Option<i64>,
}

impl<C: Cursor, S: Send + Sync> FromRequestParts<S> for PageRequest<C> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let QueryParams(asked) = QueryParams::<Asked>::from_request_parts(parts, state).await?;
        let limit = asked.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::InvalidField {
                field: "limit".into(),
                message: format!("must be between 1 and {MAX_LIMIT}"),
            });
        }
        let cursor = match asked.cursor {
            None => None,
            Some(text) => Some(C::read(&text).ok_or_else(|| ApiError::InvalidField {
                field: "cursor".into(),
                message: "must be the next_cursor of a previous page".into(),
            })?),
        };
        Ok(Self { cursor, limit })
    }
}

impl<C: Cursor> IntoParams for PageRequest<C> {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let query = || parameter_in().unwrap_or(ParameterIn::Query);
        let cursor = ParameterBuilder::new()
            .name("cursor")
            .parameter_in(query())
            .required(Required::False)
            .description(Some(
                "`next_cursor` of the previous page (any other string is refused, with a 422 naming `cursor`).",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .pattern(Some(C::PATTERN)),
            ));
        let limit = ParameterBuilder::new()
            .name("limit")
            .parameter_in(query())
            .required(Required::False)
            .description(Some(format!("1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).")))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(1))
                    .maximum(Some(MAX_LIMIT)),
            ));
        vec![cursor.build(), limit.build()]
    }
}

impl<T: Listed> PartialSchema for Page<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("items", ArrayBuilder::new().items(Ref::from_schema_name(T::name())))
            .required("items")
            .property(
                "next_cursor",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some("Pass as `cursor` for the next page; absent on the last page.")),
            )
            .into()
    }
}

impl<T: Listed> ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        T::PAGE.into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into(), T::schema()));
        T::schemas(schemas);
    }
}
