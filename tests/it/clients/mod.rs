//! What users run and read: the command line client, the Rundeck plugin, the generated
//! OpenAPI client, the README's examples and the first minute of a new user.

mod airflow;
mod ansible;
pub mod cli;
mod first_minute;
mod generated_client;
mod orchestrators;
mod python_client;
mod readme;
mod rundeck;
