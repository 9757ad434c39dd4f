//! What users run and read: the command line client, the Rundeck plugin, the generated
//! OpenAPI client, the book's walkthroughs and the first minute of a new user.

mod airflow;
mod ansible;
mod book;
pub mod cli;
mod first_minute;
mod generated_client;
mod orchestrators;
mod python_client;
mod rundeck;
