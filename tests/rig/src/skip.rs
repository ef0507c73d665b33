//! Reporting a test that cannot run: it prints `kagi-skip <test>: <reason>` where the test
//! command counts it (`scripts/test.sh`), instead of returning early and passing in silence.
//!
//! The line goes straight to the process's stderr, past the test harness's output capture (which
//! only takes `print!`/`eprint!`), so it reaches the suite's log also when the test "passes". A
//! skipped test still returns normally: cargo counts it as passed, and the test command moves it
//! from passed to skipped, and fails a run with skips in CI.

use std::io::Write;

/// The prefix the test command counts.
pub const SKIP_PREFIX: &str = "kagi-skip";

/// The line reporting that `test` did not run, and why.
pub fn skip_line(test: &str, reason: &str) -> String {
    // One line, whatever the reason says: the test command counts lines.
    let reason = reason.replace(['\n', '\r'], " ");
    format!("{SKIP_PREFIX} {test}: {reason}")
}

/// Reports that `test` did not run because of `reason`; the caller then returns.
pub fn skip(test: &str, reason: &str) {
    // Own line even if cargo's "test name ... " is pending on the terminal.
    let line = format!("\n{}\n", skip_line(test, reason));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_with_test_and_reason() {
        assert_eq!(skip_line("faults::a", "no pcscd\nof its own"), "kagi-skip faults::a: no pcscd of its own");
    }
}
