//! Integration tests: one binary, one module per area.

mod cli;
mod common;
mod ingest;
mod versions;
mod web_sources;
