//! Control commands on stdin (with `--exit-on-stdin-eof`): a test arms a pull at a moment of
//! its choosing, e.g. right before it sends a request to the host, instead of counting the
//! APDUs of everything that came before (`--fail-after` counts from the plug-in).
//!
//! One command per line, each acknowledged with one line on stdout once it is in force (so the
//! test knows the next APDU already sees it):
//! - `fail-after N`: answer N more command APDUs, then drop the connection when the next one
//!   arrives and exit 3, as `--fail-after` does. Answer: `armed N`.
//! - `disarm`: forget an armed pull. Answer: `disarmed`.
//!
//! Anything else is answered `error <what>` and changes nothing.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Not armed.
const OFF: u64 = u64::MAX;

/// APDUs still to answer before the armed pull ([`OFF`]: none armed). Shared between the stdin
/// thread and the vpcd session.
#[derive(Clone, Debug)]
pub struct Armed(Arc<AtomicU64>);

impl Armed {
    pub fn new() -> Armed {
        Armed(Arc::new(AtomicU64::new(OFF)))
    }

    fn set(&self, n: u64) {
        self.0.store(n, Ordering::SeqCst);
    }

    /// Called for each command APDU before it is executed: true when the pull is due now (the
    /// APDU is then not executed); otherwise one more APDU is counted.
    pub fn take_one(&self) -> bool {
        let mut cur = self.0.load(Ordering::SeqCst);
        loop {
            let next = match cur {
                OFF => return false,
                0 => return true,
                n => n - 1,
            };
            match self.0.compare_exchange(cur, next, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return false,
                Err(now) => cur = now,
            }
        }
    }
}

/// What one line asks for, and the line that answers it.
fn apply(armed: &Armed, line: &str) -> String {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("fail-after"), Some(n), None) => match n.parse::<u64>() {
            Ok(n) if n < OFF => {
                armed.set(n);
                format!("armed {n}")
            }
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
        assert!(!a.take_one(), "not armed: never due");
        assert_eq!(apply(&a, "fail-after 2"), "armed 2");
        assert!(!a.take_one());
        assert!(!a.take_one());
        assert!(a.take_one(), "the third APDU is not answered");
        assert!(a.take_one(), "and stays due");
    }

    #[test]
    fn disarm_and_bad_lines() {
        let a = Armed::new();
        assert_eq!(apply(&a, "fail-after 0"), "armed 0");
        assert_eq!(apply(&a, "disarm"), "disarmed");
        assert!(!a.take_one());
        assert!(apply(&a, "fail-after x").starts_with("error"));
        assert!(apply(&a, "fail-after 1 2").starts_with("error"));
        assert!(apply(&a, "explode").starts_with("error"));
        assert!(!a.take_one(), "errors change nothing");
    }
}
