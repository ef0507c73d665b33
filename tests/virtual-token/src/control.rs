//! Control commands on stdin (with `--exit-on-stdin-eof`): a test arms a pull at a moment of
//! its choosing, e.g. right before it sends a request to the host, instead of counting the
//! APDUs of everything that came before (`--fail-after` counts from the plug-in).
//!
//! One command per line, each acknowledged with one line on stdout once it is in force (so the
//! test knows the next APDU already sees it):
//! - `fail-after N`: answer N more command APDUs, then drop the connection when the next one
//!   arrives, without executing it, and exit 3, as `--fail-after` does. Answer: `armed N`.
//! - `drop-after N`: answer N more command APDUs, execute the next one, then drop the connection
//!   instead of answering it and exit 3: the card did it, the answer is lost (a token pulled
//!   while its answer was on the way). Answer: `armed N after`.
//! - `power-loss N`: answer N more command APDUs; the next one loses power while the card
//!   executes it: only what a real token commits before its power fails survives (the model in
//!   README.md, *Power loss*: `Card::power_loss`), then the connection drops and the token exits
//!   3. Answer: `armed N power-loss`.
//! - `disarm`: forget an armed pull. Answer: `disarmed`.
//!
//! Anything else is answered `error <what>` and changes nothing.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Not armed.
const OFF: u64 = u64::MAX;

/// Set in the shared word for a `drop-after` pull (the count lives in the other bits).
const AFTER: u64 = 1 << 63;

/// Set in the shared word for a `power-loss` pull.
const POWER: u64 = 1 << 62;

/// The count's bits.
const COUNT: u64 = POWER - 1;

/// What to do with one command APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Execute and answer it.
    No,
    /// Drop the connection without executing it.
    Before,
    /// Execute it, then drop the connection instead of answering.
    After,
    /// Power fails while the card executes it: keep what a real token would have committed.
    PowerLoss,
}

/// The armed pull: APDUs still to answer, and whether the last one is executed ([`AFTER`]);
/// [`OFF`]: none armed. Shared between the stdin thread and the vpcd session.
#[derive(Clone, Debug)]
pub struct Armed(Arc<AtomicU64>);

impl Armed {
    pub fn new() -> Armed {
        Armed(Arc::new(AtomicU64::new(OFF)))
    }

    fn set(&self, word: u64) {
        self.0.store(word, Ordering::SeqCst);
    }

    /// Called for each command APDU before it is executed: whether the pull is due with this
    /// one; otherwise one more APDU is counted.
    pub fn take_one(&self) -> Cut {
        let mut cur = self.0.load(Ordering::SeqCst);
        loop {
            if cur == OFF {
                return Cut::No;
            }
            let n = cur & COUNT;
            if n == 0 {
                return match (cur & AFTER != 0, cur & POWER != 0) {
                    (true, _) => Cut::After,
                    (false, true) => Cut::PowerLoss,
                    (false, false) => Cut::Before,
                };
            }
            match self.0.compare_exchange(cur, cur - 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return Cut::No,
                Err(now) => cur = now,
            }
        }
    }
}

/// What one line asks for, and the line that answers it.
fn apply(armed: &Armed, line: &str) -> String {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(cmd @ ("fail-after" | "drop-after" | "power-loss")), Some(n), None) => match n.parse::<u64>() {
            Ok(n) if n <= COUNT => match cmd {
                "drop-after" => {
                    armed.set(n | AFTER);
                    format!("armed {n} after")
                }
                "power-loss" => {
                    armed.set(n | POWER);
                    format!("armed {n} power-loss")
                }
                _ => {
                    armed.set(n);
                    format!("armed {n}")
                }
            },
            _ => format!("error bad count {n:?}"),
        },
        (Some("disarm"), None, None) => {
            armed.set(OFF);
            "disarmed".to_string()
        }
        _ => format!("error unknown command {line:?}"),
    }
}

/// Reads commands from stdin until it closes.
pub fn serve_stdin(armed: &Armed) {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let answer = apply(armed, &line);
        if writeln!(out, "{answer}").and_then(|_| out.flush()).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_after_counts_from_the_arming() {
        let a = Armed::new();
        assert_eq!(a.take_one(), Cut::No, "not armed: never due");
        assert_eq!(apply(&a, "fail-after 2"), "armed 2");
        assert_eq!(a.take_one(), Cut::No);
        assert_eq!(a.take_one(), Cut::No);
        assert_eq!(a.take_one(), Cut::Before, "the third APDU is not executed");
        assert_eq!(a.take_one(), Cut::Before, "and stays due");
    }

    #[test]
    fn drop_after_executes_the_last_one() {
        let a = Armed::new();
        assert_eq!(apply(&a, "drop-after 1"), "armed 1 after");
        assert_eq!(a.take_one(), Cut::No);
        assert_eq!(a.take_one(), Cut::After, "the second APDU is executed, its answer lost");
    }

    #[test]
    fn power_loss_is_due_at_the_counted_apdu() {
        let a = Armed::new();
        assert_eq!(apply(&a, "power-loss 1"), "armed 1 power-loss");
        assert_eq!(a.take_one(), Cut::No);
        assert_eq!(a.take_one(), Cut::PowerLoss);
        assert!(apply(&a, "power-loss 4611686018427387904").starts_with("error"), "count too large");
    }

    #[test]
    fn disarm_and_bad_lines() {
        let a = Armed::new();
        assert_eq!(apply(&a, "fail-after 0"), "armed 0");
        assert_eq!(apply(&a, "disarm"), "disarmed");
        assert_eq!(a.take_one(), Cut::No);
        assert!(apply(&a, "fail-after x").starts_with("error"));
        assert!(apply(&a, "drop-after 9223372036854775808").starts_with("error"), "count too large");
        assert!(apply(&a, "fail-after 1 2").starts_with("error"));
        assert!(apply(&a, "explode").starts_with("error"));
        assert_eq!(a.take_one(), Cut::No, "errors change nothing");
    }
}
