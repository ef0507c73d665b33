//! What a virtual token holds before it is plugged in (keys and certificates from `keys.rs`,
//! data objects, PIN / PUK / management key, the token's options), and a read-back of its
//! state file afterwards for "byte-identical after" assertions.
//!
//! The state file format belongs to `kagi-vtoken` (`tests/virtual-token/src/state.rs`):
//! `pin`, `puk`, `mgmt_alg`, `mgmt_key` (hex), `keys` (`"9a": {"type":"ecc_p256","d":hex}` or
//! `{"type":"rsa2048","p","q","e"}`), `key_info` (origin, PIN / touch policy), `objects`
//! (`"5fc105": hex of the whole 53 TLV`) and `options`. The rig lets the token create a fresh
//! file (`--init-only`: serial, CHUID) and changes only these fields.

use super::keys::{ManagementKey, SlotKey, ALG_ECCP256, ALG_RSA2048};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::process::Command;

/// Key History Object tag (SP 800-73-4 Part 1 §3.3.3).
pub const TAG_KEY_HISTORY: u32 = 0x5FC10C;
/// Printed Information (PIN-protected read; YubiKey tools keep the management key in it).
pub const TAG_PRINTED_INFO: u32 = 0x5FC109;
/// YubiKey ADMIN DATA ("pivman data").
pub const TAG_ADMIN_DATA: u32 = 0x5FFF00;

fn err(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// The certificate object of a key slot (SP 800-73-4 Part 1 Table 3 / Appendix A):
/// 9A 5FC105, 9C 5FC10A, 9D 5FC10B, 9E 5FC101, retired 82–95 5FC10D–5FC120.
pub fn cert_tag(slot: u8) -> Option<u32> {
    match slot {
        0x9A => Some(0x5FC105),
        0x9C => Some(0x5FC10A),
        0x9D => Some(0x5FC10B),
        0x9E => Some(0x5FC101),
        0x82..=0x95 => Some(0x5FC10D + u32::from(slot - 0x82)),
        _ => None,
    }
}

/// BER-TLV with a definite length (ISO/IEC 7816-4 §5.2), tags of 1–3 bytes.
fn tlv(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    let tb = tag.to_be_bytes();
    let skip = tb.iter().position(|&b| b != 0).unwrap_or(3);
    out.extend_from_slice(&tb[skip..]);
    let n = value.len();
    match n {
        0..=0x7F => out.push(n as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, n as u8]),
        _ => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

/// Splits one TLV off `b`: (tag, value, rest). Tags as in PIV (1–3 bytes).
fn tlv_split(b: &[u8]) -> Option<(u32, &[u8], &[u8])> {
    let mut i = 0;
    let mut tag = u32::from(*b.first()?);
    i += 1;
    if tag & 0x1F == 0x1F {
        loop {
            let x = *b.get(i)?;
            tag = tag << 8 | u32::from(x);
            i += 1;
            if x & 0x80 == 0 || i >= 3 {
                break;
            }
        }
    }
    let l0 = *b.get(i)?;
    i += 1;
    let len = match l0 {
        0..=0x7F => usize::from(l0),
        0x81 => {
            i += 1;
            usize::from(*b.get(i - 1)?)
        }
        0x82 => {
            i += 2;
            usize::from(*b.get(i - 2)?) << 8 | usize::from(*b.get(i - 1)?)
        }
        _ => return None,
    };
    let value = b.get(i..i + len)?;
    Some((tag, value, &b[i + len..]))
}

/// A certificate object's contents (SP 800-73-4 Part 1 Appendix A): `70 cert, 71 00, FE 00`
/// (uncompressed), as yubico-piv-tool and Kagi's host write it.
pub fn certificate_object(der: &[u8]) -> Vec<u8> {
    let mut v = tlv(0x70, der);
    v.extend(tlv(0x71, &[0]));
    v.extend(tlv(0xFE, &[]));
    v
}

/// A Key History object's contents (SP 800-73-4 Part 1 §3.3.3, Table 19):
/// `C1 keysWithOnCardCerts, C2 keysWithOffCardCerts, [F3 offCardCertURL], FE 00`.
pub fn key_history_object(on_card: u8, off_card: u8, url: Option<&str>) -> Vec<u8> {
    let mut v = tlv(0xC1, &[on_card]);
    v.extend(tlv(0xC2, &[off_card]));
    if let Some(u) = url {
        v.extend(tlv(0xF3, u.as_bytes()));
    }
    v.extend(tlv(0xFE, &[]));
    v
}

/// What the rig writes into a token's state before its first plug-in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Contents {
    pub pin: Option<String>,
    pub puk: Option<String>,
    pub mgmt: Option<ManagementKey>,
    pub metadata: Option<bool>,
    pub aes_mgmt: Option<bool>,
    pub attestation: Option<bool>,
    pub keys: BTreeMap<u8, SlotKey>,
    /// Object contents (inside `53`) by tag.
    pub objects: BTreeMap<u32, Vec<u8>>,
}

impl Contents {
    pub fn is_empty(&self) -> bool {
        self.pin.is_none()
            && self.puk.is_none()
            && self.mgmt.is_none()
            && self.metadata.is_none()
            && self.aes_mgmt.is_none()
            && self.attestation.is_none()
            && self.keys.is_empty()
            && self.objects.is_empty()
    }

    /// Creates the state file with the token binary (`--init-only`, with the options), then
    /// writes the contents into it.
    pub fn write(&self, bin: &Path, state: &Path) -> io::Result<()> {
        let on_off = |b: bool| if b { "on" } else { "off" };
        let mut cmd = Command::new(bin);
        cmd.arg("--state").arg(state).arg("--init-only");
        if let Some(m) = self.metadata {
            cmd.args(["--metadata", on_off(m)]);
        }
        if let Some(a) = self.aes_mgmt {
            cmd.args(["--aes-management-key", on_off(a)]);
        }
        if let Some(a) = self.attestation {
            cmd.args(["--attestation", on_off(a)]);
        }
        let out = cmd.output().map_err(|e| err(&format!("{} --init-only", bin.display()), e))?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{} --init-only: {}\n{}",
                bin.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let text = std::fs::read_to_string(state)?;
        let mut st: Value = serde_json::from_str(&text).map_err(|e| err("state file", e))?;
        let m = st.as_object_mut().ok_or_else(|| io::Error::other("state file is not an object"))?;
        if let Some(p) = &self.pin {
            m.insert("pin".into(), json!(p));
        }
        if let Some(p) = &self.puk {
            m.insert("puk".into(), json!(p));
        }
        if let Some(k) = &self.mgmt {
            m.insert("mgmt_alg".into(), json!(k.alg));
            m.insert("mgmt_key".into(), json!(k.hex()));
        }
        for (slot, key) in &self.keys {
            let name = format!("{slot:02x}");
            entry(m, "keys").insert(name.clone(), key.stored.clone());
            // Imported, with the slot's default policies (SP 800-73-4 Part 1 Table 4b as a
            // YubiKey resolves them: 9C always, 9E never, the others once; touch never).
            let pin_policy = match slot {
                0x9C => 3,
                0x9E => 1,
                _ => 2,
            };
            entry(m, "key_info").insert(name, json!({"origin": 2, "pin_policy": pin_policy, "touch_policy": 1}));
        }
        for (tag, contents) in &self.objects {
            let name = if *tag > 0xFFFF { format!("{tag:06x}") } else if *tag > 0xFF { format!("{tag:04x}") } else { format!("{tag:02x}") };
            entry(m, "objects").insert(name, json!(hex::encode(tlv(0x53, contents))));
        }
        let tmp = state.with_extension("rig.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&st).map_err(|e| err("state file", e))?)?;
        std::fs::rename(&tmp, state)
    }
}

fn entry<'a>(m: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = m.entry(key.to_string()).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().expect("object just made")
}

/// A key as the token holds it (read from its state file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKey {
    /// PIV algorithm: 0x11 or 0x07.
    pub alg: u8,
    /// 1 generated on the token, 2 imported (YubiKey metadata origin).
    pub origin: u8,
    /// The private key material as the token stores it (opaque; compare for identity).
    pub material: String,
}

/// A token's contents read from its state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenContents {
    /// Stored data objects by tag: the whole TLV GET DATA returns (`53 L value`; Discovery
    /// `7E`). Objects the token computes (Discovery, a Key History nobody wrote) are absent.
    pub objects: BTreeMap<u32, Vec<u8>>,
    /// Keys by slot.
    pub keys: BTreeMap<u8, TokenKey>,
    pub pin: String,
    pub puk: String,
    pub pin_retries_left: u8,
    pub puk_retries_left: u8,
    pub management_key: ManagementKey,
}

impl TokenContents {
    /// Reads a state file.
    pub fn read(state: &Path) -> io::Result<TokenContents> {
        let text = std::fs::read_to_string(state)?;
        let st: Value = serde_json::from_str(&text).map_err(|e| err("state file", e))?;
        let s = |k: &str| st[k].as_str().map(str::to_string).ok_or_else(|| io::Error::other(format!("state file: no {k}")));
        let n = |k: &str| st[k].as_u64().and_then(|v| u8::try_from(v).ok()).ok_or_else(|| io::Error::other(format!("state file: no {k}")));
        let mut objects = BTreeMap::new();
        for (k, v) in st["objects"].as_object().into_iter().flatten() {
            let tag = u32::from_str_radix(k, 16).map_err(|e| err("object tag", e))?;
            let bytes = hex::decode(v.as_str().unwrap_or_default()).map_err(|e| err("object", e))?;
            objects.insert(tag, bytes);
        }
        let mut keys = BTreeMap::new();
        for (k, v) in st["keys"].as_object().into_iter().flatten() {
            let slot = u8::from_str_radix(k, 16).map_err(|e| err("key slot", e))?;
            let alg = if v["type"] == "ecc_p256" { ALG_ECCP256 } else { ALG_RSA2048 };
            let origin = st["key_info"][k]["origin"].as_u64().unwrap_or(1) as u8;
            keys.insert(slot, TokenKey { alg, origin, material: v.to_string() });
        }
        let mgmt_key = hex::decode(s("mgmt_key")?).map_err(|e| err("mgmt_key", e))?;
        Ok(TokenContents {
            objects,
            keys,
            pin: s("pin")?,
            puk: s("puk")?,
            pin_retries_left: n("pin_retries_left")?,
            puk_retries_left: n("puk_retries_left")?,
            management_key: ManagementKey { alg: n("mgmt_alg")?, key: mgmt_key },
        })
    }

    /// The value inside an object's `53` wrapper.
    pub fn object(&self, tag: u32) -> Option<&[u8]> {
        let (t, value, rest) = tlv_split(self.objects.get(&tag)?)?;
        (t == 0x53 && rest.is_empty()).then_some(value)
    }

    /// The certificate (DER) in a slot's certificate object.
    pub fn certificate(&self, slot: u8) -> Option<Vec<u8>> {
        let mut rest = self.object(cert_tag(slot)?)?;
        while let Some((t, v, r)) = tlv_split(rest) {
            if t == 0x70 {
                return Some(v.to_vec());
            }
            rest = r;
        }
        None
    }

    /// Is there a private key in the slot?
    pub fn has_key(&self, slot: u8) -> bool {
        self.keys.contains_key(&slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_round_trip_and_objects() {
        let big = vec![0xAB; 300];
        let enc = tlv(0x5FC105, &big);
        assert_eq!(&enc[..6], [0x5F, 0xC1, 0x05, 0x82, 0x01, 0x2C]);
        let (t, v, rest) = tlv_split(&enc).unwrap();
        assert_eq!((t, v.len(), rest.len()), (0x5FC105, 300, 0));
        assert_eq!(key_history_object(1, 1, None), [0xC1, 1, 1, 0xC2, 1, 1, 0xFE, 0]);
        assert_eq!(certificate_object(&[0x30, 0]), [0x70, 2, 0x30, 0, 0x71, 1, 0, 0xFE, 0]);
        assert_eq!(cert_tag(0x83), Some(0x5FC10E));
        assert_eq!(cert_tag(0x9B), None);
    }
}
