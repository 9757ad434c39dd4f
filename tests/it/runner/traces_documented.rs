//! The operations guide's tracing page names every span and every attribute a trace holds:
//! what the tests' collector received is checked against the page, so a span or an
//! attribute the code adds (or the AWS SDK starts making) cannot go unmentioned.

use std::collections::BTreeSet;

use crate::support::book_page;
use crate::support::otlp::ReceivedSpan;

/// Panics naming each span name or attribute key of `spans` the page does not show in
/// backquotes.
pub(super) fn assert_on_the_tracing_page(spans: &[ReceivedSpan]) {
    let page = book_page("operations/tracing.md");
    let missing: BTreeSet<&str> = spans
        .iter()
        .flat_map(|span| std::iter::once(&span.name).chain(span.attributes.keys()))
        .filter(|name| !page.contains(&format!("`{name}`")))
        .map(String::as_str)
        .collect();
    assert!(
        missing.is_empty(),
        "spans and attributes a trace holds that docs/src/operations/tracing.md does not name: {missing:?}"
    );
}
