//! The token's persistent state (keys, data objects, PIN/PUK and their counters) and its
//! state file. Every change is written atomically: a temporary file in the same directory
//! is written and synced, then renamed over the state file.

use crate::crypto::{self, StoredKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Retry limit for PIN and PUK.
pub const DEFAULT_RETRIES: u8 = 3;

/// Factory PIN and PUK (the conventional defaults of PIV tokens, YubiKey included).
pub const DEFAULT_PIN: &str = "123456";
pub const DEFAULT_PUK: &str = "12345678";

/// Everything that survives a restart.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Persistent {
    /// Format version of this file.
    pub version: u32,
    /// PIN as ASCII (6–8 characters).
    pub pin: String,
    pub pin_retries_max: u8,
    pub pin_retries_left: u8,
    /// PUK as ASCII (6–8 characters).
    pub puk: String,
    pub puk_retries_max: u8,
    pub puk_retries_left: u8,
    /// Card management key 9B: algorithm id and hex key.
    pub mgmt_alg: u8,
    pub mgmt_key: String,
    /// Token serial number (answers the YubiKey GET SERIAL command).
    pub serial: u32,
    /// Asymmetric keys by key reference (hex "9a", "82", ...).
    pub keys: BTreeMap<String, StoredKey>,
    /// Data objects by tag (hex "5fc102", "7e", ...): the whole stored TLV as GET DATA
    /// returns it (`53 L value`, or `7E L value` for Discovery).
    pub objects: BTreeMap<String, String>,
    /// Touch policy of the management key as YubiKey GET METADATA reports it (1 never,
    /// 2 always: SET MANAGEMENT KEY with P2 FE). Absent in older state files: never.
    #[serde(default = "touch_never")]
    pub mgmt_touch: u8,
    /// Origin and policies of the keys in `keys`, by the same key reference. A key without
    /// an entry (older state files) counts as generated with the slot's default policies.
    #[serde(default)]
    pub key_info: BTreeMap<String, KeyInfo>,
    /// Which YubiKey behaviours this token has (absent: a YubiKey 5 with firmware 5.4).
    #[serde(default)]
    pub options: Options,
    /// The attestation key in slot F9 (its certificate is the object 5FFF01), made when the
    /// token first starts with attestation on (`attestation.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_key: Option<StoredKey>,
}

fn touch_never() -> u8 {
    crate::objects::TOUCH_NEVER
}

fn yes() -> bool {
    true
}

/// Where a key came from and when it may be used (YubiKey GET METADATA tags 02 and 03).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyInfo {
    /// 1 generated on the token, 2 imported (YubiKey `ORIGIN_GENERATED` / `ORIGIN_IMPORTED`).
    pub origin: u8,
    /// Resolved PIN policy: 1 never, 2 once per session, 3 always (before each use).
    pub pin_policy: u8,
    /// Resolved touch policy: 1 never, 2 always, 3 cached (recorded only: nobody touches).
    pub touch_policy: u8,
}

/// Behaviours in which PIV tokens differ; the defaults are those of a YubiKey 5 (5.4.x).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Options {
    /// Answers the YubiKey GET METADATA instruction (INS F7). Off: 6D00, like a PIV card
    /// that is not a YubiKey (or a YubiKey before 5.3).
    #[serde(default = "yes")]
    pub metadata: bool,
    /// Accepts AES management keys (SET MANAGEMENT KEY with alg 08/0A/0C, and GENERAL
    /// AUTHENTICATE with them). Off: like a YubiKey before 5.4, 3DES only.
    #[serde(default = "yes")]
    pub aes_management_key: bool,
    /// Answers the YubiKey ATTEST instruction (INS F9, firmware 4.3+) with a statement from
    /// its F9 key. Off: 6D00, like a PIV card that is not a YubiKey.
    #[serde(default = "yes")]
    pub attestation: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { metadata: true, aes_management_key: true, attestation: true }
    }
}

impl Persistent {
    /// A fresh token: default PIN/PUK/management key, random serial, CHUID with a random
    /// GUID and the Discovery object.
    pub fn fresh() -> Result<Self, crypto::CryptoError> {
        let rnd = crypto::random_bytes(20)?;
        let serial = u32::from_be_bytes([rnd[0] & 0x7F, rnd[1], rnd[2], rnd[3]]) | 0x0100_0000;
        let mut objects = BTreeMap::new();
        objects.insert(
            crate::objects::tag_key(crate::objects::TAG_CHUID),
            hex::encode(crate::objects::default_chuid(&rnd[4..20])),
        );
        Ok(Persistent {
            version: 1,
            pin: DEFAULT_PIN.into(),
            pin_retries_max: DEFAULT_RETRIES,
            pin_retries_left: DEFAULT_RETRIES,
            puk: DEFAULT_PUK.into(),
            puk_retries_max: DEFAULT_RETRIES,
            puk_retries_left: DEFAULT_RETRIES,
            mgmt_alg: crypto::ALG_3DES,
            mgmt_key: hex::encode(crypto::DEFAULT_MGMT_KEY),
            serial,
            keys: BTreeMap::new(),
            objects,
            mgmt_touch: crate::objects::TOUCH_NEVER,
            key_info: BTreeMap::new(),
            options: Options::default(),
            attestation_key: None,
        })
    }
}

/// Where the state lives: a file, or memory only.
pub struct Store {
    path: Option<PathBuf>,
}

impl Store {
    pub fn new(path: Option<PathBuf>) -> Self {
        Store { path }
    }

    /// Loads the state file, or creates a fresh state (and writes it) if there is none.
    pub fn load_or_create(&self) -> Result<Persistent, String> {
        if let Some(p) = &self.path {
            match std::fs::read(p) {
                Ok(bytes) => {
                    return serde_json::from_slice(&bytes)
                        .map_err(|e| format!("state file {}: {e}", p.display()))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("state file {}: {e}", p.display())),
            }
        }
        let st = Persistent::fresh().map_err(|e| e.0)?;
        self.save(&st).map_err(|e| format!("writing state: {e}"))?;
        Ok(st)
    }

    /// Writes the state atomically (no-op without a state file).
    pub fn save(&self, st: &Persistent) -> std::io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        write_atomic(path, &serde_json::to_vec_pretty(st).map_err(std::io::Error::other)?)
    }
}

/// temp file + fsync + rename + fsync(dir): the state file is always either old or new.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        let store = Store::new(Some(p.clone()));
        let mut st = store.load_or_create().unwrap();
        assert!(p.exists());
        st.pin_retries_left = 1;
        store.save(&st).unwrap();
        let again = Store::new(Some(p)).load_or_create().unwrap();
        assert_eq!(st, again);
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn older_state_files_get_yubikey_defaults() {
        let mut v = serde_json::to_value(Persistent::fresh().unwrap()).unwrap();
        let m = v.as_object_mut().unwrap();
        for k in ["mgmt_touch", "key_info", "options"] {
            m.remove(k);
        }
        let st: Persistent = serde_json::from_value(v).unwrap();
        assert_eq!(st.options, Options { metadata: true, aes_management_key: true, attestation: true });
        assert_eq!(st.mgmt_touch, crate::objects::TOUCH_NEVER);
        assert!(st.key_info.is_empty());
        let partial: Options = serde_json::from_str(r#"{"metadata":false}"#).unwrap();
        assert!(!partial.metadata && partial.aes_management_key);
    }
}
