//! What a virtual token holds before it is plugged in, and what it holds afterwards: keys made
//! by the test (not by the token, as a customer's own YubiKey holds keys Kagi did not make),
//! certificates from a CA the test chooses, PIN / PUK / management key, the token's options,
//! and a read-back of the state file for "byte-identical after" assertions.
//!
//! The state file format belongs to `kagi-vtoken` (`tests/virtual-token/src/state.rs`):
//! `pin`, `puk`, `mgmt_alg`, `mgmt_key` (hex), `keys` (`"9a": {"type":"ecc_p256","d":hex}` or
//! `{"type":"rsa2048","p","q","e"}`), `key_info` (origin, PIN / touch policy), `objects`
//! (`"5fc105": hex of the whole 53 TLV`) and `options`. The rig lets the token create a fresh
//! file (`--init-only`: serial, CHUID) and changes only these fields.

use crate::testca::TestCa;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::process::Command;

/// PIV algorithm identifiers (SP 800-78-4 Table 6-2) used here.
pub const ALG_3DES: u8 = 0x03;
pub const ALG_AES128: u8 = 0x08;
pub const ALG_AES192: u8 = 0x0A;
pub const ALG_AES256: u8 = 0x0C;
pub const ALG_RSA2048: u8 = 0x07;
pub const ALG_ECCP256: u8 = 0x11;

/// The factory management key of PIV tokens (3DES 0102…08 three times).
pub const FACTORY_MGMT_KEY: [u8; 24] = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];

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

/// A management key: PIV algorithm (03 3DES, 08/0A/0C AES-128/192/256) and its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ManagementKey {
    pub alg: u8,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for ManagementKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ManagementKey {{ alg: {:#04x}, key: {} }}", self.alg, hex::encode(&self.key))
    }
}

impl ManagementKey {
    /// The factory 3DES key.
    pub fn factory() -> Self {
        ManagementKey { alg: ALG_3DES, key: FACTORY_MGMT_KEY.to_vec() }
    }
    /// A key of the given algorithm; panics on a length that does not fit it (test data).
    pub fn new(alg: u8, key: &[u8]) -> Self {
        let want = match alg {
            ALG_3DES | ALG_AES192 => 24,
            ALG_AES128 => 16,
            ALG_AES256 => 32,
            _ => panic!("management key algorithm {alg:#04x}"),
        };
        assert_eq!(key.len(), want, "management key length for alg {alg:#04x}");
        ManagementKey { alg, key: key.to_vec() }
    }
    /// A random key of the given algorithm.
    pub fn random(alg: u8) -> Self {
        let len = if alg == ALG_AES128 { 16 } else if alg == ALG_AES256 { 32 } else { 24 };
        let mut k = vec![0u8; len];
        getrandom::fill(&mut k).expect("random");
        Self::new(alg, &k)
    }
    /// Hex, as `yubico-piv-tool --key=<hex>` takes it.
    pub fn hex(&self) -> String {
        hex::encode(&self.key)
    }
}

/// A private key made by the test for a token slot (a "foreign" key: the token did not
/// generate it). P-256 keys come from rcgen (ring), RSA-2048 keys from `openssl genpkey`.
#[derive(Clone)]
pub struct SlotKey {
    alg: u8,
    pkcs8: Vec<u8>,
    /// The key in the state file's form (`{"type":"ecc_p256","d":hex}` / `rsa2048`).
    stored: Value,
}

impl std::fmt::Debug for SlotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotKey {{ alg: {:#04x}, pkcs8: {} bytes }}", self.alg, self.pkcs8.len())
    }
}

impl SlotKey {
    /// A fresh ECC P-256 key.
    pub fn p256() -> SlotKey {
        use p256::pkcs8::DecodePrivateKey;
        let kp = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
        let pkcs8 = kp.serialize_der();
        let sk = p256::SecretKey::from_pkcs8_der(&pkcs8).expect("PKCS#8 from ring");
        let stored = json!({"type": "ecc_p256", "d": hex::encode(sk.to_bytes())});
        SlotKey { alg: ALG_ECCP256, pkcs8, stored }
    }

    /// A fresh RSA-2048 key (public exponent 65537), generated by `openssl genpkey` (its DER
    /// output is PKCS#1; it is re-encoded as PKCS#8).
    pub fn rsa2048() -> SlotKey {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::EncodePrivateKey;
        let out = Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-outform", "DER"])
            .output()
            .expect("openssl genpkey");
        assert!(out.status.success(), "openssl genpkey: {}", String::from_utf8_lossy(&out.stderr));
        let k = rsa::PrivateKey::from_pkcs1_der(&out.stdout).expect("PKCS#1 from openssl");
        let pkcs8 = k.to_pkcs8_der().expect("PKCS#8");
        Self::from_pkcs8(pkcs8.as_bytes()).expect("RSA key from openssl")
    }

    /// A key from PKCS#8 DER (P-256 or RSA-2048 with e = 65537).
    pub fn from_pkcs8(der: &[u8]) -> io::Result<SlotKey> {
        use p256::pkcs8::DecodePrivateKey as _;
        if let Ok(sk) = p256::SecretKey::from_pkcs8_der(der) {
            let stored = json!({"type": "ecc_p256", "d": hex::encode(sk.to_bytes())});
            return Ok(SlotKey { alg: ALG_ECCP256, pkcs8: der.to_vec(), stored });
        }
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let k = rsa::PrivateKey::from_pkcs8_der(der).map_err(|e| err("PKCS#8 key", e))?;
        if k.size() != 256 || k.primes().len() != 2 {
            return Err(io::Error::other("only 2-prime RSA-2048 keys fit a PIV slot here"));
        }
        let hx = |b: &rsa::BoxedUint| hex::encode(b.to_be_bytes_trimmed_vartime());
        let stored = json!({
            "type": "rsa2048",
            "p": hx(k.primes()[0].as_ref()),
            "q": hx(k.primes()[1].as_ref()),
            "e": hx(k.e()),
        });
        Ok(SlotKey { alg: ALG_RSA2048, pkcs8: der.to_vec(), stored })
    }

    /// PIV algorithm identifier: 0x11 (P-256) or 0x07 (RSA-2048).
    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// The private key as PKCS#8 DER (e.g. to import it with yubico-piv-tool after
    /// `openssl pkey -inform DER`).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key as rcgen's key pair (to sign certificates, CSRs...).
    pub fn key_pair(&self) -> KeyPair {
        KeyPair::try_from(self.pkcs8.as_slice()).expect("rcgen reads its own PKCS#8")
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(&self.key_pair())
    }

    /// A certificate for this key with subject `CN=<cn>`, issued by `ca`, valid from a day ago
    /// for `days` days.
    pub fn certificate(&self, ca: &TestCa, cn: &str, days: i64) -> Vec<u8> {
        self.params(cn, days).signed_by(&self.key_pair(), &ca.issuer).expect("issue certificate").der().to_vec()
    }

    /// A self-signed certificate for this key with subject and issuer `CN=<cn>`.
    pub fn self_signed(&self, cn: &str, days: i64) -> Vec<u8> {
        self.params(cn, days).self_signed(&self.key_pair()).expect("self-sign").der().to_vec()
    }

    fn params(&self, cn: &str, days: i64) -> CertificateParams {
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        p.distinguished_name = dn;
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::days(1);
        p.not_after = now + time::Duration::days(days);
        let mut serial = [0u8; 12];
        getrandom::fill(&mut serial).expect("random");
        serial[0] &= 0x7F;
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        p
    }
}

/// What the rig writes into a token's state before its first plug-in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Contents {
    pub pin: Option<String>,
    pub puk: Option<String>,
    pub mgmt: Option<ManagementKey>,
    pub metadata: Option<bool>,
    pub aes_mgmt: Option<bool>,
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

    #[test]
    fn p256_slot_key_matches_its_certificate() {
        let k = SlotKey::p256();
        let ca = TestCa::new("rig test CA");
        let der = k.certificate(&ca, "foreign", 30);
        use der::Decode;
        let cert = x509_cert::Certificate::from_der(&der).unwrap();
        let spki = der::Encode::to_der(cert.tbs_certificate().subject_public_key_info()).unwrap();
        assert_eq!(spki, k.public_key_der());
        assert_eq!(k.stored["d"].as_str().unwrap().len(), 64);
    }
}
