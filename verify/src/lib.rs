//! Verification of Kagi login tokens for bank servers.
#![forbid(unsafe_code)]
