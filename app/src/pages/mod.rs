pub mod agent;
pub mod not_found;
pub mod orchestrator;
pub mod run;
pub mod sign_in;
pub mod tokens;
pub mod workflows;
