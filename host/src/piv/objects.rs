//! PIV identifiers: the application AID, key slots and their certificate objects, algorithm
//! identifiers, the card management key and the PIN.

use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// SP 800-73-4 Part 1 §2.2: the PIV card application AID (NIST RID `A0 00 00 03 08`, PIX
/// `00 00 10 00 01 00`).
pub const PIV_AID: [u8; 11] = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00];

/// SP 800-73-4 Part 1 Table 3: Card Holder Unique Identifier.
pub const TAG_CHUID: u32 = 0x5FC102;
/// SP 800-73-4 Part 1 Table 3: Card Capability Container.
pub const TAG_CCC: u32 = 0x5FC107;
/// SP 800-73-4 Part 1 §3.3.2: Discovery Object (the only object not wrapped in tag `53`).
pub const TAG_DISCOVERY: u32 = 0x7E;
/// SP 800-73-4 Part 1 §3.3.3: Key History Object.
pub const TAG_KEY_HISTORY: u32 = 0x5FC10C;

/// SP 800-73-4 Part 1 Table 4b: key reference of the PIV Card Application Administration Key.
pub const KEYREF_MANAGEMENT: u8 = 0x9B;
/// SP 800-73-4 Part 1 Table 4b: key reference of the PIV Card Application PIN.
pub const KEYREF_PIN: u8 = 0x80;

/// A retired key management key slot number, 1..=20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RetiredIndex(u8);

impl RetiredIndex {
    /// `n` must be in 1..=20.
    pub fn new(n: u8) -> Option<Self> {
        (1..=20).contains(&n).then_some(RetiredIndex(n))
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

/// An asymmetric key slot of the PIV card application.
///
/// SP 800-73-4 Part 1 Table 4b (key references) and Table 3 (certificate object tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    /// `9A`, X.509 Certificate for PIV Authentication `5FC105`.
    Authentication,
    /// `9C`, X.509 Certificate for Digital Signature `5FC10A`.
    Signature,
    /// `9D`, X.509 Certificate for Key Management `5FC10B`.
    KeyManagement,
    /// `9E`, X.509 Certificate for Card Authentication `5FC101`.
    CardAuthentication,
    /// `82`..`95`, Retired X.509 Certificates for Key Management 1..20 `5FC10D`..`5FC120`.
    Retired(RetiredIndex),
}

impl Slot {
    /// The four primary slots, in key reference order.
    pub const PRIMARY: [Slot; 4] =
        [Slot::Authentication, Slot::Signature, Slot::KeyManagement, Slot::CardAuthentication];

    /// The key reference (P2 of GENERAL AUTHENTICATE and GENERATE ASYMMETRIC KEY PAIR).
    pub fn key_ref(self) -> u8 {
        match self {
            Slot::Authentication => 0x9A,
            Slot::Signature => 0x9C,
            Slot::KeyManagement => 0x9D,
            Slot::CardAuthentication => 0x9E,
            Slot::Retired(i) => 0x81 + i.get(),
        }
    }

    /// The slot for a key reference, if it is an asymmetric key slot.
    pub fn from_key_ref(r: u8) -> Option<Slot> {
        match r {
            0x9A => Some(Slot::Authentication),
            0x9C => Some(Slot::Signature),
            0x9D => Some(Slot::KeyManagement),
            0x9E => Some(Slot::CardAuthentication),
            0x82..=0x95 => RetiredIndex::new(r - 0x81).map(Slot::Retired),
            _ => None,
        }
    }

    /// The tag of the slot's X.509 certificate data object.
    pub fn cert_tag(self) -> u32 {
        match self {
            Slot::Authentication => 0x5FC105,
            Slot::Signature => 0x5FC10A,
            Slot::KeyManagement => 0x5FC10B,
            Slot::CardAuthentication => 0x5FC101,
            Slot::Retired(i) => 0x5FC10C + u32::from(i.get()),
        }
    }

    /// Parse the conventional two-hex-digit key reference (`"9a"`, `"9C"`, `"82"`).
    pub fn from_hex(s: &str) -> Option<Slot> {
        if s.len() != 2 {
            return None;
        }
        u8::from_str_radix(s, 16).ok().and_then(Slot::from_key_ref)
    }
}

impl std::fmt::Display for Slot {
    /// The key reference in lower-case hex, as `yubico-piv-tool -s` and OpenSC name slots.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02x}", self.key_ref())
    }
}

/// An asymmetric algorithm identifier. SP 800-78-4 Table 6-2 / SP 800-73-4 Part 1 Table 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// `07`: RSA 2048.
    Rsa2048,
    /// `11`: ECC curve P-256.
    EccP256,
    /// Any other identifier (RSA 1024 `06`, P-384 `14`, symmetric ones...): not used by Kagi.
    Unsupported(u8),
}

impl KeyAlgorithm {
    pub fn id(self) -> u8 {
        match self {
            KeyAlgorithm::Rsa2048 => 0x07,
            KeyAlgorithm::EccP256 => 0x11,
            KeyAlgorithm::Unsupported(x) => x,
        }
    }
    pub fn from_id(id: u8) -> Self {
        match id {
            0x07 => KeyAlgorithm::Rsa2048,
            0x11 => KeyAlgorithm::EccP256,
            x => KeyAlgorithm::Unsupported(x),
        }
    }
}

/// Algorithm of the card management (administration) key. SP 800-78-4 Table 6-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManagementAlgorithm {
    /// `03`: 3-key Triple DES (ECB), 24-byte key, 8-byte blocks.
    TripleDes,
    /// `08`: AES-128, 16-byte blocks.
    Aes128,
    /// `0A`: AES-192 (the YubiKey 5.7+ default, with the same default key bytes).
    Aes192,
    /// `0C`: AES-256.
    Aes256,
}

impl ManagementAlgorithm {
    pub fn id(self) -> u8 {
        match self {
            ManagementAlgorithm::TripleDes => 0x03,
            ManagementAlgorithm::Aes128 => 0x08,
            ManagementAlgorithm::Aes192 => 0x0A,
            ManagementAlgorithm::Aes256 => 0x0C,
        }
    }
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0x03 => Some(ManagementAlgorithm::TripleDes),
            0x08 => Some(ManagementAlgorithm::Aes128),
            0x0A => Some(ManagementAlgorithm::Aes192),
            0x0C => Some(ManagementAlgorithm::Aes256),
            _ => None,
        }
    }
    pub fn key_len(self) -> usize {
        match self {
            ManagementAlgorithm::TripleDes | ManagementAlgorithm::Aes192 => 24,
            ManagementAlgorithm::Aes128 => 16,
            ManagementAlgorithm::Aes256 => 32,
        }
    }
    /// Cipher block length = witness and challenge length in mutual authentication.
    pub fn block_len(self) -> usize {
        match self {
            ManagementAlgorithm::TripleDes => 8,
            _ => 16,
        }
    }
}

/// The conventional default management key (3DES): `0102030405060708` three times.
pub const DEFAULT_MANAGEMENT_KEY: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];

/// The PIV Card Application Administration Key (key reference `9B`). Wiped on drop.
#[derive(Clone)]
pub struct ManagementKey {
    alg: ManagementAlgorithm,
    key: Zeroizing<Vec<u8>>,
}

impl ManagementKey {
    /// A key of algorithm `alg`; its length must match the algorithm.
    pub fn new(alg: ManagementAlgorithm, key: &[u8]) -> Result<Self> {
        if key.len() != alg.key_len() {
            return Err(Error::BadRequest(format!(
                "management key for {alg:?} must be {} bytes, got {}",
                alg.key_len(),
                key.len()
            )));
        }
        Ok(ManagementKey { alg, key: Zeroizing::new(key.to_vec()) })
    }

    /// Parse hex for `alg`, or with `alg = None` guess from the length: 16 bytes AES-128,
    /// 24 bytes 3DES (the PIV default; pass `Some(Aes192)` for an AES-192 key), 32 bytes AES-256.
    pub fn from_hex(hex_str: &str, alg: Option<ManagementAlgorithm>) -> Result<Self> {
        let bytes = Zeroizing::new(
            hex::decode(hex_str.trim())
                .map_err(|_| Error::BadRequest("management key is not valid hex".into()))?,
        );
        let alg = match alg {
            Some(a) => a,
            None => match bytes.len() {
                16 => ManagementAlgorithm::Aes128,
                24 => ManagementAlgorithm::TripleDes,
                32 => ManagementAlgorithm::Aes256,
                n => {
                    return Err(Error::BadRequest(format!(
                        "management key must be 16, 24 or 32 bytes, got {n}"
                    )))
                }
            },
        };
        Self::new(alg, &bytes)
    }

    pub fn algorithm(&self) -> ManagementAlgorithm {
        self.alg
    }

    pub fn key_bytes(&self) -> &[u8] {
        &self.key
    }
}

impl Default for ManagementKey {
    /// The 3DES default key `010203040506070801020304050607080102030405060708`.
    fn default() -> Self {
        ManagementKey {
            alg: ManagementAlgorithm::TripleDes,
            key: Zeroizing::new(DEFAULT_MANAGEMENT_KEY.to_vec()),
        }
    }
}

impl std::fmt::Debug for ManagementKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ManagementKey({:?}, <redacted>)", self.alg)
    }
}

/// A PIV Card Application PIN: 6 to 8 ASCII digits (FIPS 201-2 §4.3.1,
/// SP 800-73-4 Part 2 §2.4.3). Wiped on drop.
#[derive(Clone, Zeroize)]
#[zeroize(drop)]
pub struct Pin {
    digits: Vec<u8>,
}

impl Pin {
    /// Validate a PIN: 6–8 ASCII digits, else `Error::PinFormat`.
    pub fn new(pin: &str) -> Result<Self> {
        let b = pin.as_bytes();
        if !(6..=8).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
            return Err(Error::PinFormat);
        }
        Ok(Pin { digits: b.to_vec() })
    }

    /// Validate a PUK: 6–8 printable ASCII characters (SP 800-73-4 Part 2 §2.4.3 allows any
    /// 8 bytes; YubiKey tools allow letters), else `Error::PukFormat`.
    pub fn puk(puk: &str) -> Result<Self> {
        let b = puk.as_bytes();
        if !(6..=8).contains(&b.len()) || !b.iter().all(|c| c.is_ascii_graphic()) {
            return Err(Error::PukFormat);
        }
        Ok(Pin { digits: b.to_vec() })
    }

    /// SP 800-73-4 Part 2 §2.4.3: the PIN padded to 8 bytes with `FF`, as VERIFY sends it.
    pub fn padded(&self) -> Zeroizing<[u8; 8]> {
        let mut out = Zeroizing::new([0xFFu8; 8]);
        for (o, d) in out.iter_mut().zip(self.digits.iter()) {
            *o = *d;
        }
        out
    }
}

impl std::str::FromStr for Pin {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Pin::new(s)
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots() {
        assert_eq!(Slot::Authentication.key_ref(), 0x9A);
        assert_eq!(Slot::Signature.cert_tag(), 0x5FC10A);
        assert_eq!(Slot::KeyManagement.cert_tag(), 0x5FC10B);
        assert_eq!(Slot::CardAuthentication.cert_tag(), 0x5FC101);
        let r1 = Slot::Retired(RetiredIndex::new(1).unwrap());
        let r20 = Slot::Retired(RetiredIndex::new(20).unwrap());
        assert_eq!((r1.key_ref(), r1.cert_tag()), (0x82, 0x5FC10D));
        assert_eq!((r20.key_ref(), r20.cert_tag()), (0x95, 0x5FC120));
        assert!(RetiredIndex::new(0).is_none() && RetiredIndex::new(21).is_none());
        for r in 0..=255u8 {
            if let Some(s) = Slot::from_key_ref(r) {
                assert_eq!(s.key_ref(), r);
            }
        }
        assert_eq!(Slot::from_key_ref(0x9B), None);
        assert_eq!(Slot::from_hex("9c"), Some(Slot::Signature));
        assert_eq!(Slot::Signature.to_string(), "9c");
        assert_eq!(Slot::from_hex("9"), None);
    }

    #[test]
    fn algorithms() {
        assert_eq!(KeyAlgorithm::from_id(0x11), KeyAlgorithm::EccP256);
        assert_eq!(KeyAlgorithm::from_id(0x14), KeyAlgorithm::Unsupported(0x14));
        assert_eq!(KeyAlgorithm::Rsa2048.id(), 7);
        for id in [3u8, 8, 0x0A, 0x0C] {
            assert_eq!(ManagementAlgorithm::from_id(id).unwrap().id(), id);
        }
    }

    #[test]
    fn management_keys() {
        let k = ManagementKey::from_hex("010203040506070801020304050607080102030405060708", None).unwrap();
        assert_eq!(k.algorithm(), ManagementAlgorithm::TripleDes);
        assert_eq!(k.key_bytes(), ManagementKey::default().key_bytes());
        let k = ManagementKey::from_hex(
            "010203040506070801020304050607080102030405060708",
            Some(ManagementAlgorithm::Aes192),
        )
        .unwrap();
        assert_eq!(k.algorithm(), ManagementAlgorithm::Aes192);
        assert_eq!(
            ManagementKey::from_hex(&"00".repeat(16), None).unwrap().algorithm(),
            ManagementAlgorithm::Aes128
        );
        assert!(ManagementKey::from_hex("0102", None).is_err());
        assert!(ManagementKey::from_hex("zz", None).is_err());
        assert!(ManagementKey::new(ManagementAlgorithm::Aes256, &[0; 24]).is_err());
        assert!(!format!("{k:?}").contains("01"));
    }

    #[test]
    fn pins() {
        assert_eq!(&Pin::new("123456").unwrap().padded()[..], b"123456\xFF\xFF");
        assert_eq!(&Pin::new("12345678").unwrap().padded()[..], b"12345678");
        for bad in ["12345", "123456789", "12345a", "", "１２３４５６", "123 456"] {
            assert!(matches!(Pin::new(bad), Err(Error::PinFormat)), "{bad}");
        }
        assert_eq!(format!("{:?}", Pin::new("123456").unwrap()), "Pin(<redacted>)");
    }
}
