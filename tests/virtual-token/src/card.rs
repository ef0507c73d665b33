//! The PIV card application: command APDU parsing, chaining and the PIV commands of
//! SP 800-73-4 Part 2 §3. The YubiKey extensions (GET METADATA, SET MANAGEMENT KEY, IMPORT
//! ASYMMETRIC KEY, GET VERSION / SERIAL) are in `card_yubikey.rs`.

use crate::crypto::{self, AsymKey, MgmtKey};
use crate::objects::{self, TAG_DISCOVERY, TAG_KEY_HISTORY};
use crate::state::{KeyInfo, Persistent, Store};
use crate::tlv;
use std::collections::BTreeMap;
use std::time::Duration;

/// Status words (ISO/IEC 7816-4 §5.1.3, SP 800-73-4 Part 2 Table 6).
pub mod sw {
    pub const OK: u16 = 0x9000;
    pub const MORE_DATA: u16 = 0x6100;
    pub const VERIFY_FAIL: u16 = 0x63C0;
    pub const MEMORY_FAILURE: u16 = 0x6581;
    pub const WRONG_LENGTH: u16 = 0x6700;
    pub const SECURITY_NOT_SATISFIED: u16 = 0x6982;
    pub const AUTH_BLOCKED: u16 = 0x6983;
    pub const CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
    pub const WRONG_DATA: u16 = 0x6A80;
    pub const NOT_FOUND: u16 = 0x6A82;
    pub const NOT_ENOUGH_MEMORY: u16 = 0x6A84;
    pub const INCORRECT_P1P2: u16 = 0x6A86;
    pub const REF_DATA_NOT_FOUND: u16 = 0x6A88;
    pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
    pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
    pub const NO_PRECISE_DIAGNOSIS: u16 = 0x6F00;
}

/// The version this token reports to GET VERSION (a YubiKey 5 firmware number, so that
/// yubico-piv-tool uses GET SERIAL instead of its older OTP-applet route).
pub const VERSION: [u8; 3] = [5, 4, 3];

/// Largest command data accepted through command chaining (certificates are ≤ ~3 KB).
const MAX_CHAINED: usize = 16 * 1024;

/// Answer To Reset: T=1 (ISO/IEC 7816-3 §8.2), historical bytes in compact-TLV form (ISO/IEC
/// 7816-4 §8.1.1): category `80`; card capabilities `73 C0 21 C0` (the third software function
/// table byte `C0`: command chaining and extended Lc/Le fields, §8.1.1.2.7 Table 87, as a
/// YubiKey 5 announces them); the issuer data `58 "KagiVPIV"`.
pub fn atr() -> Vec<u8> {
    let mut hist = vec![0x80, 0x73, 0xC0, 0x21, 0xC0, 0x58];
    hist.extend_from_slice(b"KagiVPIV");
    let mut a = vec![0x3B, 0x80 | hist.len() as u8, 0x80, 0x01];
    a.extend_from_slice(&hist);
    let tck = a[1..].iter().fold(0u8, |x, b| x ^ b);
    a.push(tck);
    a
}

/// Largest response data sent at once to an extended Le: the vpcd frame carries at most 65535
/// bytes, status word included.
const MAX_EXTENDED_RESPONSE: usize = 65_533;

/// A parsed command APDU (ISO/IEC 7816-4 §5.1): short, or extended (`00` then two length bytes,
/// §5.1 Table 1 cases 2E, 3E, 4E).
#[derive(Debug, PartialEq, Eq)]
pub struct Apdu<'a> {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: &'a [u8],
    /// Expected response length (short Le 00 = 256, extended Le 0000 = 65536); `None` when
    /// absent.
    pub le: Option<usize>,
}

impl<'a> Apdu<'a> {
    /// Parses cases 1–4 of short and extended APDUs; anything else is a length error (6700).
    pub fn parse(b: &'a [u8]) -> Result<Self, u16> {
        if b.len() < 4 {
            return Err(sw::WRONG_LENGTH);
        }
        let (cla, ins, p1, p2) = (b[0], b[1], b[2], b[3]);
        let le_of = |x: u8| if x == 0 { 256 } else { usize::from(x) };
        let ext_of = |hi: u8, lo: u8| match usize::from(u16::from_be_bytes([hi, lo])) {
            0 => 65_536,
            n => n,
        };
        let (data, le) = match b.len() {
            4 => (&b[4..4], None),
            5 => (&b[5..5], Some(le_of(b[4]))),
            // Extended: case 2E (00 Le Le), 3E (00 Lc Lc data), 4E (00 Lc Lc data Le Le).
            n if b[4] == 0 => {
                if n == 7 {
                    (&b[7..7], Some(ext_of(b[5], b[6])))
                } else {
                    let lc = usize::from(u16::from_be_bytes([b[5], *b.get(6).ok_or(sw::WRONG_LENGTH)?]));
                    if lc == 0 {
                        return Err(sw::WRONG_LENGTH);
                    }
                    if n == 7 + lc {
                        (&b[7..], None)
                    } else if n == 9 + lc {
                        (&b[7..7 + lc], Some(ext_of(b[7 + lc], b[8 + lc])))
                    } else {
                        return Err(sw::WRONG_LENGTH);
                    }
                }
            }
            n => {
                let lc = usize::from(b[4]);
                if n == 5 + lc {
                    (&b[5..], None)
                } else if n == 6 + lc {
                    (&b[5..5 + lc], Some(le_of(b[5 + lc])))
                } else {
                    return Err(sw::WRONG_LENGTH);
                }
            }
        };
        Ok(Apdu { cla, ins, p1, p2, data, le })
    }
}

/// Pending state of a management-key challenge-response (Part 2 §3.2.4, Appendix A.1).
#[derive(Debug)]
enum MgmtPending {
    /// Mutual authentication: the plaintext witness we sent encrypted.
    Witness(Vec<u8>),
    /// External authentication: the plaintext challenge we sent.
    Challenge(Vec<u8>),
}

/// Result of a command: response data (SW 9000) or an error status word.
type CmdResult = Result<Vec<u8>, u16>;

/// The card: persistent state plus the security status of the current session.
pub struct Card {
    st: Persistent,
    store: Store,
    keys: BTreeMap<u8, AsymKey>,
    mgmt: MgmtKey,
    delay: Duration,
    // Volatile (cleared by reset / power off):
    pin_verified: bool,
    /// PIN verified and not yet consumed by a PIN-always key (9C).
    pin_always_ok: bool,
    mgmt_authenticated: bool,
    mgmt_pending: Option<MgmtPending>,
    /// Rest of a long response, fetched with GET RESPONSE.
    out_pending: Vec<u8>,
    /// Command chaining in progress: (INS, P1, P2, data so far).
    chain: Option<(u8, u8, u8, Vec<u8>)>,
    /// Number of commands answered since start.
    pub answered: u64,
    /// Where every signed digest is recorded (`--sign-log`).
    sign_log: Option<crate::signlog::SignLog>,
}

impl Card {
    /// Loads (or creates) the state and builds the card.
    pub fn new(store: Store, delay: Duration) -> Result<Self, String> {
        let mut st = store.load_or_create()?;
        if st.options.attestation && st.attestation_key.is_none() {
            // A token made before attestation existed (or with it off) gets its F9 key now.
            let (f9, cert) = crate::attestation::new_f9().map_err(|e| format!("attestation key: {}", e.0))?;
            st.attestation_key = Some(f9.to_stored());
            st.objects.insert(objects::tag_key(objects::TAG_ATTESTATION), hex::encode(crate::attestation::f9_object(&cert)));
            store.save(&st).map_err(|e| format!("writing state: {e}"))?;
        }
        let mut keys = BTreeMap::new();
        for (k, v) in &st.keys {
            let r = u8::from_str_radix(k, 16).map_err(|e| format!("key reference {k}: {e}"))?;
            let key = AsymKey::from_stored(v).map_err(|e| format!("key {k}: {}", e.0))?;
            keys.insert(r, key);
        }
        let mgmt_key = hex::decode(&st.mgmt_key).map_err(|e| format!("management key: {e}"))?;
        let mgmt = MgmtKey::new(st.mgmt_alg, mgmt_key).map_err(|e| e.0)?;
        Ok(Card {
            st,
            store,
            keys,
            mgmt,
            delay,
            pin_verified: false,
            pin_always_ok: false,
            mgmt_authenticated: false,
            mgmt_pending: None,
            out_pending: Vec::new(),
            chain: None,
            answered: 0,
            sign_log: None,
        })
    }

    /// Card reset or power off: the security status of the session is lost.
    /// Records every signed digest from now on (`--sign-log`).
    pub fn record_signatures(&mut self, log: crate::signlog::SignLog) {
        self.sign_log = Some(log);
    }

    pub fn reset(&mut self) {
        self.pin_verified = false;
        self.pin_always_ok = false;
        self.mgmt_authenticated = false;
        self.mgmt_pending = None;
        self.out_pending.clear();
        self.chain = None;
    }

    /// Read access to the persistent state (for tests and logging).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn state(&self) -> &Persistent {
        &self.st
    }

    /// Processes one command APDU and returns the response APDU (data ‖ SW1 SW2).
    /// Never panics on malformed input.
    pub fn process(&mut self, raw: &[u8]) -> Vec<u8> {
        self.answered += 1;
        let (mut data, sw) = match self.process_inner(raw) {
            Ok((d, sw)) => (d, sw),
            Err(sw) => (Vec::new(), sw),
        };
        data.extend_from_slice(&sw.to_be_bytes());
        data
    }

    fn process_inner(&mut self, raw: &[u8]) -> Result<(Vec<u8>, u16), u16> {
        let a = Apdu::parse(raw).inspect_err(|_| self.chain = None)?;
        if a.cla & !0x10 != 0 {
            self.chain = None;
            return Err(sw::CLA_NOT_SUPPORTED);
        }
        if a.ins == 0xC0 {
            return self.get_response(&a);
        }
        self.out_pending.clear();

        // Command chaining (ISO/IEC 7816-4 §5.1.1.1, SP 800-73-4 Part 2 §3 note on chaining).
        if a.cla & 0x10 != 0 {
            let same = matches!(&self.chain, Some((i, p1, p2, _)) if (*i, *p1, *p2) == (a.ins, a.p1, a.p2));
            if !same {
                self.chain = Some((a.ins, a.p1, a.p2, Vec::new()));
            }
            if let Some((_, _, _, buf)) = &mut self.chain {
                if buf.len() + a.data.len() > MAX_CHAINED {
                    self.chain = None;
                    return Err(sw::NOT_ENOUGH_MEMORY);
                }
                buf.extend_from_slice(a.data);
            }
            return Ok((Vec::new(), sw::OK));
        }
        let chained = match self.chain.take() {
            Some((i, p1, p2, mut buf)) if (i, p1, p2) == (a.ins, a.p1, a.p2) => {
                buf.extend_from_slice(a.data);
                Some(buf)
            }
            _ => None,
        };
        let data = chained.as_deref().unwrap_or(a.data);
        let resp = self.dispatch(a.ins, a.p1, a.p2, data)?;
        Ok(self.respond(resp, a.le))
    }

    /// Sends at most Le bytes now and keeps the rest for GET RESPONSE (61xx).
    fn respond(&mut self, mut resp: Vec<u8>, le: Option<usize>) -> (Vec<u8>, u16) {
        let max = le.unwrap_or(256).min(MAX_EXTENDED_RESPONSE);
        if resp.len() <= max {
            return (resp, sw::OK);
        }
        self.out_pending = resp.split_off(max);
        let left = self.out_pending.len();
        (resp, sw::MORE_DATA | if left >= 256 { 0 } else { left as u16 })
    }

    /// GET RESPONSE (ISO/IEC 7816-4 §7.6.1).
    fn get_response(&mut self, a: &Apdu) -> Result<(Vec<u8>, u16), u16> {
        if a.p1 != 0 || a.p2 != 0 {
            return Err(sw::INCORRECT_P1P2);
        }
        if self.out_pending.is_empty() {
            return Err(sw::CONDITIONS_NOT_SATISFIED);
        }
        let rest = std::mem::take(&mut self.out_pending);
        Ok(self.respond(rest, a.le))
    }

    fn dispatch(&mut self, ins: u8, p1: u8, p2: u8, data: &[u8]) -> CmdResult {
        match ins {
            0xA4 => self.select(p1, p2, data),
            0xCB => self.get_data(p1, p2, data),
            0xDB => self.put_data(p1, p2, data),
            0x20 => self.verify(p1, p2, data),
            0x24 => self.change_reference_data(p1, p2, data),
            0x2C => self.reset_retry_counter(p1, p2, data),
            0x87 => self.general_authenticate(p1, p2, data),
            0x47 => self.generate(p1, p2, data),
            0xFD => self.get_version(p1, p2),
            0xF8 => self.get_serial(p1, p2),
            0xF7 => self.get_metadata(p1, p2),
            0xFE => self.import_key(p1, p2, data),
            0xFF => self.set_management_key(p1, p2, data),
            0xF9 => self.attest(p1, p2),
            _ => Err(sw::INS_NOT_SUPPORTED),
        }
    }

    fn persist(&self) -> Result<(), u16> {
        self.store.save(&self.st).map_err(|e| {
            eprintln!("kagi-vtoken: writing state failed: {e}");
            sw::MEMORY_FAILURE
        })
    }

    /// SELECT (Part 2 §3.1.1): the PIV AID or any prefix of it of at least the RID.
    fn select(&mut self, p1: u8, p2: u8, data: &[u8]) -> CmdResult {
        if p1 != 0x04 || p2 != 0x00 {
            return Err(sw::INCORRECT_P1P2);
        }
        if data.len() < objects::MIN_AID_PREFIX || !objects::PIV_AID.starts_with(data) {
            return Err(sw::NOT_FOUND);
        }
        Ok(objects::application_property_template(self.st.options.aes_management_key))
    }

    /// Decodes the `5C` tag list of GET DATA / PUT DATA (Part 2 §3.1.2): 1 or 3 tag bytes.
    fn object_tag(tag_bytes: &[u8]) -> Result<u32, u16> {
        match tag_bytes.len() {
            1..=3 => Ok(tag_bytes.iter().fold(0u32, |t, b| t << 8 | u32::from(*b))),
            _ => Err(sw::WRONG_DATA),
        }
    }

    /// GET DATA (Part 2 §3.1.2): `5C tag` → the object (`53 L value`, Discovery as `7E L value`).
    /// Objects whose read access rule is "PIN" (Part 1 Table 2, e.g. Printed Information
    /// 5FC109) answer 6982 until the PIN is verified in this session, as a YubiKey does.
    fn get_data(&mut self, p1: u8, p2: u8, data: &[u8]) -> CmdResult {
        if (p1, p2) != (0x3F, 0xFF) {
            return Err(sw::INCORRECT_P1P2);
        }
        let tag = Self::object_tag(tlv::expect_single(data, 0x5C).ok_or(sw::WRONG_DATA)?)?;
        if !objects::is_valid_object_tag(tag) {
            return Err(sw::NOT_FOUND);
        }
        if objects::read_needs_pin(tag) && !self.pin_verified {
            return Err(sw::SECURITY_NOT_SATISFIED);
        }
        if let Some(v) = self.st.objects.get(&objects::tag_key(tag)) {
            return hex::decode(v).map_err(|_| sw::NO_PRECISE_DIAGNOSIS);
        }
        match tag {
            TAG_DISCOVERY => Ok(objects::discovery()),
            TAG_KEY_HISTORY => {
                let on_card = (0x82..=0x95u8)
                    .filter_map(objects::cert_tag_for)
                    .filter(|t| self.st.objects.contains_key(&objects::tag_key(*t)))
                    .count();
                Ok(objects::key_history(on_card as u8))
            }
            _ => Err(sw::NOT_FOUND),
        }
    }

    /// PUT DATA (Part 2 §3.3.2): `5C tag 53 L value` (Discovery: `5C 01 7E 7E L value`);
    /// needs the card management key. An empty `53 00` deletes the object.
    fn put_data(&mut self, p1: u8, p2: u8, data: &[u8]) -> CmdResult {
        if (p1, p2) != (0x3F, 0xFF) {
            return Err(sw::INCORRECT_P1P2);
        }
        if !self.mgmt_authenticated {
            return Err(sw::SECURITY_NOT_SATISFIED);
        }
        let (t, rest) = tlv::parse_one(data).ok_or(sw::WRONG_DATA)?;
        if t.tag != 0x5C {
            return Err(sw::WRONG_DATA);
        }
        let tag = Self::object_tag(t.value)?;
        if !objects::is_valid_object_tag(tag) {
            return Err(sw::NOT_FOUND);
        }
        let want = if tag == TAG_DISCOVERY { TAG_DISCOVERY } else { 0x53 };
        let value = tlv::expect_single(rest, want).ok_or(sw::WRONG_DATA)?;
        let key = objects::tag_key(tag);
        if value.is_empty() && want == 0x53 {
            self.st.objects.remove(&key);
        } else {
            self.st.objects.insert(key, hex::encode(rest));
        }
        self.persist()?;
        Ok(Vec::new())
    }

    /// Origin and policies of the key in `keyref` (a key from an older state file: generated,
    /// with the slot's default policies).
    fn key_info(&self, keyref: u8) -> KeyInfo {
        self.st.key_info.get(&objects::keyref_key(keyref)).copied().unwrap_or(KeyInfo {
            origin: objects::ORIGIN_GENERATED,
            pin_policy: objects::default_pin_policy(keyref),
            touch_policy: objects::TOUCH_NEVER,
        })
    }

    /// Stores a new key (generated or imported) with its metadata.
    fn store_key(&mut self, keyref: u8, key: AsymKey, info: KeyInfo) -> Result<(), u16> {
        let k = objects::keyref_key(keyref);
        self.st.keys.insert(k.clone(), key.to_stored());
        self.st.key_info.insert(k, info);
        self.keys.insert(keyref, key);
        self.persist()
    }

    /// The YubiKey PIN and touch policy tags (AA, AB) of GENERATE and IMPORT, resolved for
    /// `keyref`; 6A80 for a value a YubiKey 5.4 does not know.
    fn policies(keyref: u8, items: &[tlv::Tlv]) -> Result<(u8, u8), u16> {
        let one = |tag: u32| -> Result<Option<u8>, u16> {
            match items.iter().find(|t| t.tag == tag).map(|t| t.value) {
                None => Ok(None),
                Some([v]) => Ok(Some(*v)),
                Some(_) => Err(sw::WRONG_DATA),
            }
        };
        let pin = objects::resolve_pin_policy(keyref, one(0xAA)?).ok_or(sw::WRONG_DATA)?;
        let touch = objects::resolve_touch_policy(one(0xAB)?).ok_or(sw::WRONG_DATA)?;
        Ok((pin, touch))
    }

    /// GENERAL AUTHENTICATE (Part 2 §3.2.4) with the dynamic authentication template `7C`.
    fn general_authenticate(&mut self, alg: u8, keyref: u8, data: &[u8]) -> CmdResult {
        let inner = tlv::expect_single(data, 0x7C).ok_or(sw::WRONG_DATA)?;
        let items = tlv::parse_all(inner).ok_or(sw::WRONG_DATA)?;
        let get = |tag: u32| items.iter().find(|t| t.tag == tag).map(|t| t.value);
        if keyref == 0x9B {
            return self.mgmt_authenticate(alg, get(0x80), get(0x81), get(0x82));
        }
        if !objects::is_asym_key_ref(keyref) {
            return Err(sw::INCORRECT_P1P2);
        }
        let Some(key) = self.keys.get(&keyref) else {
            return Err(sw::REF_DATA_NOT_FOUND);
        };
        if key.alg() != alg {
            return Err(sw::INCORRECT_P1P2);
        }
        // Access rules (Part 1 Table 4b) as the key's YubiKey PIN policy: by default 9E never,
        // 9C always (one VERIFY per use), the others once per session.
        let pin_policy = self.key_info(keyref).pin_policy;
        let allowed = match pin_policy {
            objects::PIN_POLICY_NEVER => true,
            objects::PIN_POLICY_ALWAYS => self.pin_always_ok,
            _ => self.pin_verified,
        };
        if !allowed {
            return Err(sw::SECURITY_NOT_SATISFIED);
        }
        // Signature / decryption: 82 (empty, response requested) and 81 (challenge).
        let (Some(resp), Some(challenge)) = (get(0x82), get(0x81)) else {
            return Err(sw::WRONG_DATA);
        };
        if !resp.is_empty() || challenge.is_empty() {
            return Err(sw::WRONG_DATA);
        }
        if pin_policy == objects::PIN_POLICY_ALWAYS {
            self.pin_always_ok = false;
        }
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        let t0 = std::time::Instant::now();
        let out = match key {
            AsymKey::EccP256(_) => key.ecdsa_sign(challenge),
            AsymKey::Rsa2048(_) => key.rsa_raw(challenge),
        }
        .map_err(|e| {
            eprintln!("kagi-vtoken: private-key operation failed: {}", e.0);
            sw::WRONG_DATA
        })?;
        eprintln!("kagi-vtoken: private-key operation alg {alg:02x} slot {keyref:02x} took {:?}", t0.elapsed());
        if let Some(log) = &self.sign_log {
            // A test relies on the record: a token that cannot keep it must not answer.
            log.record(keyref, alg, challenge).map_err(|e| {
                eprintln!("kagi-vtoken: sign log: {e}");
                sw::NO_PRECISE_DIAGNOSIS
            })?;
        }
        Ok(tlv::encode(0x7C, &tlv::encode(0x82, &out)))
    }

    /// Card management key authentication (Part 2 §3.2.4, Appendix A.1 / A.2):
    /// mutual (`80 00` → witness; `80 W, 81 C` → `82 E(C)`) and external
    /// (`81 00` → challenge; `82 E(C)`).
    fn mgmt_authenticate(
        &mut self,
        alg: u8,
        witness: Option<&[u8]>,
        challenge: Option<&[u8]>,
        response: Option<&[u8]>,
    ) -> CmdResult {
        let aes_refused = !self.st.options.aes_management_key && alg != crypto::ALG_3DES;
        if alg != self.mgmt.alg || aes_refused {
            self.mgmt_pending = None;
            return Err(sw::INCORRECT_P1P2);
        }
        let bl = self.mgmt.block_len();
        let crypto_err = |_| sw::NO_PRECISE_DIAGNOSIS;
        let enc = |m: &MgmtKey, b: &[u8]| m.encrypt(b).map_err(crypto_err);
        let pending = self.mgmt_pending.take();
        match (witness, challenge, response) {
            // Mutual, step 1: witness request.
            (Some([]), None, _) => {
                self.mgmt_authenticated = false;
                let plain = crypto::random_bytes(bl).map_err(crypto_err)?;
                let out = enc(&self.mgmt, &plain)?;
                self.mgmt_pending = Some(MgmtPending::Witness(plain));
                Ok(tlv::encode(0x7C, &tlv::encode(0x80, &out)))
            }
            // Mutual, step 2: decrypted witness and the client's challenge.
            (Some(w), Some(c), _) if !w.is_empty() => {
                let Some(MgmtPending::Witness(expect)) = pending else {
                    return Err(sw::CONDITIONS_NOT_SATISFIED);
                };
                if c.len() != bl || w.len() != bl {
                    return Err(sw::WRONG_DATA);
                }
                if w != expect.as_slice() {
                    return Err(sw::SECURITY_NOT_SATISFIED);
                }
                self.mgmt_authenticated = true;
                let out = enc(&self.mgmt, c)?;
                Ok(tlv::encode(0x7C, &tlv::encode(0x82, &out)))
            }
            // External, step 1: challenge request.
            (None, Some([]), None) => {
                self.mgmt_authenticated = false;
                let plain = crypto::random_bytes(bl).map_err(crypto_err)?;
                self.mgmt_pending = Some(MgmtPending::Challenge(plain.clone()));
                Ok(tlv::encode(0x7C, &tlv::encode(0x81, &plain)))
            }
            // External, step 2: the encrypted challenge.
            (None, None, Some(r)) if !r.is_empty() => {
                let Some(MgmtPending::Challenge(c)) = pending else {
                    return Err(sw::CONDITIONS_NOT_SATISFIED);
                };
                if r != enc(&self.mgmt, &c)?.as_slice() {
                    return Err(sw::SECURITY_NOT_SATISFIED);
                }
                self.mgmt_authenticated = true;
                Ok(Vec::new())
            }
            _ => Err(sw::WRONG_DATA),
        }
    }

    /// GENERATE ASYMMETRIC KEY PAIR (Part 2 §3.3.2): `AC { 80 alg }` → `7F49 { public key }`.
    /// The YubiKey PIN / touch policy tags (AA, AB) inside the template are kept for GET
    /// METADATA; the PIN policy is enforced, the touch policy only recorded.
    fn generate(&mut self, p1: u8, keyref: u8, data: &[u8]) -> CmdResult {
        if p1 != 0x00 || !objects::is_asym_key_ref(keyref) {
            return Err(sw::INCORRECT_P1P2);
        }
        if !self.mgmt_authenticated {
            return Err(sw::SECURITY_NOT_SATISFIED);
        }
        let inner = tlv::expect_single(data, 0xAC).ok_or(sw::WRONG_DATA)?;
        let items = tlv::parse_all(inner).ok_or(sw::WRONG_DATA)?;
        let alg = match items.iter().find(|t| t.tag == 0x80).map(|t| t.value) {
            Some([a]) => *a,
            _ => return Err(sw::WRONG_DATA),
        };
        if alg != crypto::ALG_ECCP256 && alg != crypto::ALG_RSA2048 {
            return Err(sw::WRONG_DATA);
        }
        let (pin_policy, touch_policy) = Self::policies(keyref, &items)?;
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        let t0 = std::time::Instant::now();
        let key = AsymKey::generate(alg).map_err(|e| {
            eprintln!("kagi-vtoken: key generation failed: {}", e.0);
            sw::NO_PRECISE_DIAGNOSIS
        })?;
        eprintln!("kagi-vtoken: generated alg {alg:02x} key in slot {keyref:02x} in {:?}", t0.elapsed());
        let out = tlv::encode(0x7F49, &key.public_template_content());
        let info = KeyInfo { origin: objects::ORIGIN_GENERATED, pin_policy, touch_policy };
        self.store_key(keyref, key, info)?;
        Ok(out)
    }
}

#[path = "card_pin.rs"]
mod pin;

#[path = "card_yubikey.rs"]
mod yubikey;

#[cfg(test)]
#[path = "card_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "card_yubikey_tests.rs"]
mod yubikey_tests;

#[cfg(test)]
#[path = "card_attest_tests.rs"]
mod attest_tests;
