//! Kagi's wire types, shared by the native host, the extension's WASM and the demo bank.
//!
//! - [`frame`]: native messaging framing (4-byte native-endian length + UTF-8 JSON).
//! - [`request`]: what the extension sends (`status`, `authenticate`, `enroll.begin`, `enroll.finish`,
//!   `pin.change`, `pin.unblock`, `diagnose`, `confirm`).
//! - [`diagnose`]: the `diagnose` reply (doctor's checks for a support desk).
//! - [`issuers`]: the bank's CA certificates a request names.
//! - [`message`]: what the host sends (hello, replies echoing the request id, pushed events).
//! - [`error`]: stable error codes the UI maps to Japanese/English text.
//! - [`login`]: the `kagi-auth:1` login token, its digest, origin and nonce rules.
//! - [`tx`] (feature `tx`, default, with the NFC tables; `tx-core` without them): the `kagi-tx:1` transaction confirmation: typed densai requests, their strict
//!   parser, text rules, body encoding and signed message, and the window's rendering helpers.
//! - [`summary`]: token and certificate summaries.
//! - [`ids`]: the extension ids and native host name the host and manifests agree on.
//!
//! This crate does no I/O beyond `std::io::{Read, Write}` helpers and compiles for
//! `wasm32-unknown-unknown`. The protocol is documented with JSON examples in `docs/protocol.md`.
#![forbid(unsafe_code)]

mod args;
mod b64;
pub mod diagnose;
pub mod error;
pub mod frame;
pub mod ids;
pub mod issuers;
pub mod login;
pub mod message;
pub mod request;
pub mod summary;
#[cfg(feature = "tx-core")]
pub mod tx;

pub use diagnose::{CheckStatus, DiagnoseCertificate, DiagnoseCheck, DiagnoseResult, DiagnoseToken};
pub use error::{ErrorCode, ProtoError, WireError};
pub use login::{LoginToken, Nonce, Origin, SignatureAlgorithm};
pub use message::{Event, Hello, Outgoing, Reply};
pub use issuers::Issuers;
#[cfg(feature = "tx-core")]
pub use tx::{Transaction, TxSignature};
pub use request::{CertId, Command, KeyAlgorithm, Pin, Request, FACTORY_PIN};
pub use summary::{
    CertSummary, EnrollBeginResult, EnrollFinishResult, ManagementKeyState, PinResult, ReaderInfo, StatusResult, Subject, TokenSummary,
};

/// Version of this wire protocol; bumped on incompatible changes. Sent in the hello.
pub const PROTOCOL_VERSION: u32 = 2;
