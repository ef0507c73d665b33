//! The PIV card application protocol (NIST SP 800-73-4), sans-IO: APDU builders and parsers,
//! no I/O. The transport and the exchange loop live in [`crate::card`].

pub mod apdu;
pub mod attest;
pub mod commands;
pub mod keys;
pub mod mgmt;
pub mod objects;
pub mod pkcs1;
pub mod status;
pub mod tlv;
pub mod yubikey;

pub use apdu::{Command, Response};
pub use commands::{Chuid, Discovery, KeyHistory, SelectInfo};
pub use keys::PublicKey;
pub use objects::{KeyAlgorithm, ManagementAlgorithm, ManagementKey, Pin, RetiredIndex, Slot, PIV_AID};
pub use status::Status;
