//! Kagi's native messaging host as a library: the binary in `main.rs` only wires these together.
//!
//! - [`piv`]: PIV (NIST SP 800-73-4) commands built and parsed without I/O.
//! - [`card`]: the one transport trait, PIV sessions over it, and the PC/SC backend.
//! - [`nm`]: native messaging on stdin/stdout.
//! - [`service`]: request dispatch and the per-connection state; [`policy`]: the machine's
//!   host policy (which bank origins this host serves).
//! - [`token`]: what Kagi does with tokens (the bank's certificates only); [`issuer`]: whose
//!   certificate is whose.
//! - [`cli`], [`install`], [`doctor`]: the commands people and installers run (`install`,
//!   `uninstall`, `doctor`).
#![forbid(unsafe_code)]

pub mod card;
pub mod cli;
pub mod csr;
pub mod doctor;
pub mod error;
pub mod install;
pub mod issuer;
pub mod log;
pub mod nm;
pub mod piv;
pub mod policy;
pub mod service;
pub mod token;
pub mod x509;

pub use error::{Error, Result};
