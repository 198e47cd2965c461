//! Progress reporting for long work. The library reports; front ends (the CLI's progress bar,
//! a job status in an API) decide how to show it.

/// Receives progress of a long operation. Implementations must be cheap and thread-safe:
/// parallel pipeline stages call them from rayon threads.
pub trait Progress: Sync {
    /// Work of `total` steps begins.
    fn start(&self, _total: u64, _what: &str) {}
    /// `n` more steps are done.
    fn inc(&self, _n: u64) {}
    /// What is being worked on now (a source name).
    fn message(&self, _msg: &str) {}
    /// The work is over.
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
