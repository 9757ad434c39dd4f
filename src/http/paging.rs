//! Cursor pages of the list routes: one `limit` rule, and the next cursor taken from the
//! one row read past the page.

use crate::error::ApiError;

/// The page size when a list asks for none.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page a list answers.
pub const MAX_LIMIT: i64 = 200;

/// The `limit` query parameter, checked (1 to 200, default 50).
pub fn limit(asked: Option<i64>) -> Result<i64, ApiError> {
    let limit = asked.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidField {
            field: "limit".into(),
            message: format!("must be between 1 and {MAX_LIMIT}"),
        });
    }
    Ok(limit)
}

/// Cuts `rows`, read with `limit + 1`, to the page; answers the next page's cursor (that of
/// the page's last row) when there is more.
pub fn next_cursor<T>(rows: &mut Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(cursor_of)
}
