//! Who may do what, and what a hostile or careless caller cannot do.

mod hostile_input;
mod projects;
mod roles;
