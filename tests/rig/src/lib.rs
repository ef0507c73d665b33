//! Test rig for Kagi's integration tests: a private pcscd per test process with its own
//! vsmartcard vpcd readers, virtual PIV tokens (`kagi-vtoken`) plugged into them, and helpers to
//! run external tools.
//!
//! Test processes run side by side, each on its own pcscd socket and vpcd ports; the tests of
//! one process take turns through [`Rig::lock`] (or [`Rig::start`], which takes it).
//! Everything the rig starts is stopped by PID when its handle is dropped, also on panic.
//!
//! ```no_run
//! use kagi_rig::{Rig, VToken};
//! let rig = Rig::start().unwrap();            // turn + private pcscd
//! let token = VToken::builder().reader(0).spawn().unwrap();
//! // ... talk PC/SC to kagi_rig::READER_0 ...
//! drop(token);
//! drop(rig);
//! ```

mod cmd;
mod host;
pub mod testca;
mod lock;
mod paths;
mod pcscd;
pub mod postgres;
pub mod service;
mod skip;
pub mod tools;
mod vtoken;

pub use cmd::{run_with_timeout, CmdOutput};
pub use host::{host_bin, FromHost, Host, REPLY_TIMEOUT};
pub use lock::{Rig, RigLock};
pub use paths::{temp_dir, workspace_root};
pub use skip::{skip, skip_line, SKIP_PREFIX};
pub use postgres::{Postgres, PG_ROLE};
pub use pcscd::{
    card_present, pcscd_answers, pcscd_socket, use_private_socket, vpcd_port, wait_card_state, Pcscd, CSOCK_ENV, PCSCD_PID,
    PCSCD_SOCKET, SYSTEM_VPCD_PORT,
};
pub use tempfile::TempDir;
pub use vtoken::{
    attestation_root_pem, cert_tag, certificate_object, key_history_object, replug_count, vtoken_bin, ApduCount, REPLUG_LOG_ENV, ManagementKey, SlotKey,
    TokenContents, TokenKey,
    VToken, VTokenBuilder, ALG_3DES, ALG_AES128, ALG_AES192, ALG_AES256, ALG_ECCP256, ALG_RSA2048, FACTORY_MGMT_KEY,
    TAG_ADMIN_DATA, TAG_KEY_HISTORY, TAG_PRINTED_INFO,
};

/// Name of the first vpcd reader (port [`vpcd_port`]`(0)`; 35963 for the system's pcscd).
pub const READER_0: &str = "Virtual PCD 00 00";
/// Name of the second vpcd reader (port [`vpcd_port`]`(1)`; 35964 for the system's pcscd).
pub const READER_1: &str = "Virtual PCD 00 01";
/// Both vpcd readers, by index.
pub const READERS: [&str; 2] = [READER_0, READER_1];

/// Conventional defaults of a fresh virtual token.
pub const DEFAULT_PIN: &str = "123456";
pub const DEFAULT_PUK: &str = "12345678";
pub const DEFAULT_MGMT_KEY_HEX: &str = "010203040506070801020304050607080102030405060708";
