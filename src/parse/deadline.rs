//! The time one parse may take.
//!
//! Sizes are limited before parsing starts (bytes, archive entries, cells, pages), but a
//! file within every size limit can still be slow to read: a document.xml of deeply nested
//! runs, a workbook of a million tiny rows, a PDF whose content streams loop. A parse that
//! runs past its time refuses the file as `parse-timeout` instead of holding a worker for
//! minutes; the source keeps serving its last good version like after any other failure.
//!
//! The check is cooperative: each parser's own loops ask the deadline now and then (through
//! a [`Ticker`], so a tight loop reads the clock only every few thousand steps). Work inside a
//! third-party call (calamine building an XLS or ODS sheet, html5ever building a tree) is
//! bounded by the size limits instead and checked when it returns.

use crate::error::{Error, Reason, Result};
use std::time::{Duration, Instant};

/// When a parse has to be done by.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    started: Instant,
    limit: Duration,
}

impl Deadline {
    /// A deadline `limit` from now. A zero limit has always passed.
    pub fn after(limit: Duration) -> Deadline {
        Deadline {
            started: Instant::now(),
            limit,
        }
    }

    /// A deadline `limit` after `started` (a parse that began before its deadline was made).
    pub fn since(started: Instant, limit: Duration) -> Deadline {
        Deadline { started, limit }
    }

    /// Fails with `parse-timeout` once the time is up; `what` names the work in the message
    /// ("docx text extraction").
    pub fn check(&self, what: &str) -> Result<()> {
        if self.started.elapsed() >= self.limit {
            return Err(Error::rejected(
                Reason::ParseTimeout,
                format!(
                    "{what} took longer than the parse time limit ({})",
                    describe(self.limit)
                ),
            ));
        }
        Ok(())
    }

    /// A [`Ticker`] over this deadline for a loop doing `what`.
    pub fn ticker<'w>(&self, what: &'w str) -> Ticker<'w> {
        Ticker {
            deadline: *self,
            what,
            steps: 0,
        }
    }
}

/// Steps between two clock reads of a [`Ticker`]: a clock read costs about as much as a few
/// dozen steps of the cheapest loop (one XML event, one cell), so this keeps the overhead far
/// below 1% while still noticing a passed deadline within milliseconds.
const STEPS_PER_CHECK: u32 = 4096;

/// Checks a [`Deadline`] every [`STEPS_PER_CHECK`] steps of a loop (and at the first step, so
/// a deadline that has already passed is noticed at once).
pub struct Ticker<'w> {
    deadline: Deadline,
    what: &'w str,
    steps: u32,
}

impl Ticker<'_> {
    /// Counts one step of the loop.
    pub fn tick(&mut self) -> Result<()> {
        let due = self.steps.is_multiple_of(STEPS_PER_CHECK);
        self.steps = self.steps.wrapping_add(1);
        if due {
            self.deadline.check(self.what)
        } else {
            Ok(())
        }
    }
}

fn describe(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs_f32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_deadline_is_a_named_refusal() {
        let e = Deadline::after(Duration::ZERO)
            .check("docx text extraction")
            .unwrap_err();
        assert_eq!(e.reason(), Some(Reason::ParseTimeout));
        assert!(
            e.to_string()
                .contains("docx text extraction took longer than the parse time limit (0 ms)"),
            "{e}"
        );
        assert!(Deadline::after(Duration::from_secs(60)).check("x").is_ok());
    }

    #[test]
    fn a_ticker_reads_the_clock_at_its_first_step_and_then_every_few_thousand() {
        let mut t = Deadline::after(Duration::ZERO).ticker("x");
        assert!(t.tick().is_err(), "the first step checks");
        for _ in 1..STEPS_PER_CHECK {
            assert!(
                t.tick().is_ok(),
                "steps between checks do not read the clock"
            );
        }
        assert!(t.tick().is_err());
        let mut t = Deadline::after(Duration::from_secs(60)).ticker("x");
        for _ in 0..3 * STEPS_PER_CHECK {
            t.tick().unwrap();
        }
    }
}
