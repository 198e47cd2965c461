//! Catalog (stub).
