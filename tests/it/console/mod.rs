//! The web console in real headless Chromium against a real `serve`: sign in, the runs
//! list, a run's page with its live log, cancel, re-run and replay, roles, a 100,000-line log; and
//! what the server promises about the page itself (headers, budget, fallbacks).

mod admin;
mod approvals;
mod forms;
mod page;
mod replay;
mod run_page;
mod runs;
mod sign_in;
mod timeline;
