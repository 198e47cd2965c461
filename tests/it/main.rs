//! Integration tests: one binary, one module per area.

mod cli;
mod common;
mod filters;
mod hybrid;
mod ingest;
mod languages;
mod real_model;
mod serve;
mod versions;
mod web_sources;
