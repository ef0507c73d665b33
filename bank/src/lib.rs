//! Kagi demo bank.
#![forbid(unsafe_code)]
