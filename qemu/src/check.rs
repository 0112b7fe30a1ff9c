//! Pass/fail bookkeeping: every check is counted, every failed one is logged and counted,
//! and `main` turns the totals into the semihosting exit status.

use core::sync::atomic::{AtomicU32, Ordering};

static CHECKS: AtomicU32 = AtomicU32::new(0);
static FAILURES: AtomicU32 = AtomicU32::new(0);

/// Counts one check; returns `ok`.
pub fn record(ok: bool) -> bool {
    CHECKS.fetch_add(1, Ordering::Relaxed);
    if !ok {
        FAILURES.fetch_add(1, Ordering::Relaxed);
    }
    ok
}

/// `(checks run, checks failed)` so far.
pub fn totals() -> (u32, u32) {
    (CHECKS.load(Ordering::Relaxed), FAILURES.load(Ordering::Relaxed))
}

/// Failures so far (to tell whether one part of the run added any).
pub fn failures() -> u32 {
    FAILURES.load(Ordering::Relaxed)
}

/// Counts a check and logs the defmt message (format string and arguments) if it failed.
/// Evaluates to the condition.
macro_rules! check {
    ($ok:expr, $($msg:tt)+) => {{
        let ok: bool = $ok;
        if !$crate::check::record(ok) {
            defmt::error!($($msg)+);
        }
        ok
    }};
}
pub(crate) use check;

/// Checks that `got` is exactly the concatenation of `want` (hand-written expected bytes,
/// possibly in several pieces), logging both in hex on a mismatch.
pub fn bytes(what: &str, got: &[u8], want: &[&[u8]]) -> bool {
    let want_len: usize = want.iter().map(|w| w.len()).sum();
    let mut equal = got.len() == want_len;
    let mut rest = got;
    for piece in want {
        match rest.split_at_checked(piece.len()) {
            Some((head, tail)) if equal => {
                equal = head == *piece;
                rest = tail;
            }
            _ => equal = false,
        }
    }
    if !record(equal) {
        defmt::error!("{=str}: bytes differ, got {=[u8]:02x}", what, got);
        for piece in want {
            defmt::error!("{=str}: expected (part) {=[u8]:02x}", what, piece);
        }
    }
    equal
}
