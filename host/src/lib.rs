//! Kagi's native messaging host as a library: the binary in `main.rs` only wires these together.
//!
//! - [`piv`]: PIV (NIST SP 800-73-4) commands built and parsed without I/O.
//! - [`card`]: the one transport trait, PIV sessions over it, and the PC/SC backend.
//! - [`nm`]: native messaging on stdin/stdout.
//! - [`service`]: request dispatch and the per-connection state.
#![forbid(unsafe_code)]

pub mod card;
pub mod error;
pub mod piv;

pub use error::{Error, Result};
