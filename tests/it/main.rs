//! Integration tests: one binary, one module per area.

mod cli;
mod common;
mod filters;
mod hybrid;
mod ingest;
mod languages;
mod serve;
mod versions;
mod web_sources;
