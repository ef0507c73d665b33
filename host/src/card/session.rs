//! A PIV session over a [`Transport`]: the APDU exchange loop and typed high-level operations.
//!
//! The exchange loop (SP 800-73-4 Part 2 §3 and ISO/IEC 7816-4 §5.1):
//! - data over 255 bytes goes out as a command chain (CLA | 0x10 on all but the last APDU);
//! - `61xx` answers are completed with GET RESPONSE until the final status word, accumulating data;
//! - a `6Cxx` answer makes us re-send the same APDU once with Le = `xx` — except a command
//!   that carries a PIN or PUK (`commands::carries_reference_data`): it has no Le to correct,
//!   so `6Cxx` is its answer (an error), not a reason to send the PIN again;
//! - GET DATA goes out as one extended APDU (case 4E, Le = `0000`) when the card announced
//!   extended Lc/Le in its ATR (`atr.rs`), so a certificate needs no GET RESPONSE chain.
//!
//! With a [`CardCache`] (a kept PC/SC handle, see `pcsc_backend.rs`), reads of objects anyone
//! may read and GET METADATA answers come from the cache when it has them, every command first
//! tells the cache what it may change, and SELECT is skipped while PIV is known to be selected:
//! the next command's answer confirms it (a status only PIV gives: `9000`, `63Cx`, `6983`); any
//! other answer makes the session SELECT for real and send that command again.

use crate::card::cache::CardCache;
use crate::card::Transport;
use crate::error::{Error, Result};
use crate::piv::apdu::{Command, Response};
use crate::piv::commands::{self, Chuid, Discovery, KeyHistory, SelectInfo};
use crate::piv::keys::PublicKey;
use crate::piv::mgmt::MutualAuth;
use crate::piv::objects::{KeyAlgorithm, ManagementKey, Pin, Slot, TAG_CHUID, TAG_DISCOVERY, TAG_KEY_HISTORY};
use crate::piv::status::Status;
use crate::piv::{mgmt, pkcs1};
use zeroize::Zeroizing;

/// Upper bound on one accumulated response (a PIV object is at most a few KiB; 64 KiB leaves
/// room for large certificates) so a misbehaving card cannot make us loop forever.
const MAX_RESPONSE: usize = 64 * 1024;

/// State of the PIV PIN as VERIFY without data reports it (SP 800-73-4 Part 2 §3.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    /// The PIN is verified in the current card session.
    Verified,
    /// Not verified; this many tries remain.
    Retries(u8),
    /// No tries remain.
    Blocked,
}

/// PIV operations over a borrowed transport. Construct one per PC/SC transaction.
pub struct PivSession<'a, T: Transport + ?Sized> {
    tx: &'a mut T,
    cache: Option<&'a mut CardCache>,
    /// SELECT was answered from the cache: the next command's answer must confirm that PIV is
    /// still the selected application.
    select_unconfirmed: bool,
    /// The card announced extended Lc/Le in its ATR (`atr.rs`): GET DATA asks for everything
    /// at once (Le = `0000`) instead of 256-byte pieces.
    extended: bool,
}

/// Answers only the PIV application gives to the commands Kagi sends first in a session
/// (VERIFY; GET DATA and GET METADATA of what the cache lacks): success, a wrong PIN with its
/// tries left, a blocked PIN. Anything else after a SELECT answered from the cache may come from
/// another application that another program selected without resetting the card.
fn confirms_piv(s: Status) -> bool {
    matches!(s, Status::Success | Status::VerifyFailed { .. } | Status::Blocked)
}

/// Set (or replace) the Le byte of a serialised short APDU (a copy, wiped on drop like the
/// original).
fn with_le(apdu: &[u8], le: u8) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(apdu.to_vec());
    let has_le = match apdu.len() {
        0..=4 => false,
        5 => true, // case 2: header + Le
        n => n != 5 + usize::from(apdu[4]), // case 3 has exactly Lc data bytes, case 4 one more
    };
    if has_le {
        out.pop();
    }
    out.push(le);
    out
}

impl<'a, T: Transport + ?Sized> PivSession<'a, T> {
    pub fn new(tx: &'a mut T) -> Self {
        PivSession { tx, cache: None, select_unconfirmed: false, extended: false }
    }

    /// A session that reads through (and keeps up to date) the cache of the token in this
    /// reader; the caller vouches that the cache belongs to this card (see `cache.rs`).
    pub fn with_cache(tx: &'a mut T, cache: &'a mut CardCache) -> Self {
        PivSession { tx, cache: Some(cache), select_unconfirmed: false, extended: false }
    }

    /// Reads objects with extended-length GET DATA (ISO/IEC 7816-4 §5.1, case 4E, Le = `0000`)
    /// when the card announced it in its ATR; a card that refuses one (`6700`) gets short APDUs
    /// from then on in this session.
    pub fn with_extended_length(mut self, on: bool) -> Self {
        self.extended = on;
        self
    }

    /// The cache, when the session has one.
    fn cache(&mut self) -> Option<&mut CardCache> {
        self.cache.as_deref_mut()
    }

    /// A kept GET METADATA answer (`Some(None)`: a kept "nothing there").
    pub(crate) fn cached_metadata(&self, key_ref: u8) -> Option<Option<Vec<u8>>> {
        self.cache.as_deref().and_then(|c| c.metadata(key_ref)).map(|d| d.map(<[u8]>::to_vec))
    }

    /// Keeps a GET METADATA answer in the cache, if the session has one.
    pub(crate) fn keep_metadata(&mut self, key_ref: u8, data: Option<&[u8]>) {
        if let Some(c) = self.cache() {
            c.store_metadata(key_ref, data);
        }
    }

    /// Whether the session's cache holds nothing read from this token yet (a handle just
    /// connected): no cache counts as cold.
    pub fn cache_is_cold(&self) -> bool {
        self.cache.as_deref().is_none_or(|c| c.object(crate::piv::objects::TAG_KEY_HISTORY).is_none())
    }

    /// Puts certificate answers an earlier host run read from this token into the cache, as if
    /// read now (see `card/remembered.rs` for when the caller may). Without a cache: nothing.
    pub fn recall_certificates(&mut self, answers: impl IntoIterator<Item = (u32, Option<Vec<u8>>)>) {
        if let Some(c) = self.cache() {
            for (tag, data) in answers {
                c.store_object(tag, data.as_deref());
            }
        }
    }

    /// Forgets the retired slots' certificates, so the next reads go to the token.
    pub fn forget_retired_certificates(&mut self) {
        if let Some(c) = self.cache() {
            c.forget_retired_certificates();
        }
    }

    /// The underlying transport.
    pub fn transport(&mut self) -> &mut T {
        self.tx
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Response> {
        Response::from_bytes(&self.tx.transmit(apdu)?)
    }

    /// Send one APDU, honouring one `6Cxx` (wrong Le) by re-sending with the right Le.
    fn transmit_le(&mut self, apdu: &[u8]) -> Result<Response> {
        let r = self.transmit(apdu)?;
        match r.status() {
            Status::WrongLe(n) => self.transmit(&with_le(apdu, n)),
            _ => Ok(r),
        }
    }

    /// Run one command: chaining, `6Cxx` and `61xx` handled. Returns the final status and all data.
    /// The cache (if any) first forgets what the command may change; after a SELECT answered
    /// from the cache, an answer that does not confirm PIV makes us SELECT and send it again.
    pub fn exchange(&mut self, cmd: &Command) -> Result<Response> {
        if let Some(c) = self.cache() {
            c.before_command(cmd);
        }
        let r = self.exchange_once(cmd)?;
        if std::mem::take(&mut self.select_unconfirmed) && !confirms_piv(r.status()) {
            self.select_on_card()?;
            return self.exchange_once(cmd);
        }
        Ok(r)
    }

    fn exchange_once(&mut self, cmd: &Command) -> Result<Response> {
        if self.extended && cmd.ins == 0xCB && cmd.data.len() <= usize::from(u16::MAX) {
            let mut apdu = vec![cmd.cla, cmd.ins, cmd.p1, cmd.p2, 0x00];
            apdu.extend_from_slice(&(cmd.data.len() as u16).to_be_bytes());
            apdu.extend_from_slice(&cmd.data);
            apdu.extend_from_slice(&[0x00, 0x00]);
            let r = self.transmit(&apdu)?;
            if r.status() != Status::WrongLength {
                return self.collect(r);
            }
            // Announced but refused: short APDUs from now on.
            self.extended = false;
        }
        let chunks = cmd.to_chunks();
        let Some((last, first)) = chunks.split_last() else {
            return Err(Error::Internal("empty command chain".into()));
        };
        for chunk in first {
            let r = self.transmit(chunk)?;
            if !r.status().is_success() {
                // The card refused a link of the chain: that is the command's answer.
                return Ok(r);
            }
        }
        let resp = if commands::carries_reference_data(cmd) { self.transmit(last)? } else { self.transmit_le(last)? };
        self.collect(resp)
    }

    /// Completes an answer with GET RESPONSE while the card says `61xx`, accumulating data.
    fn collect(&mut self, mut resp: Response) -> Result<Response> {
        let mut data = Vec::new();
        while let Status::MoreData(n) = resp.status() {
            data.extend_from_slice(&resp.data);
            if data.len() > MAX_RESPONSE {
                return Err(Error::Malformed(format!("response longer than {MAX_RESPONSE} bytes")));
            }
            let get = commands::get_response(n).to_chunks();
            let apdu = get.first().ok_or_else(|| Error::Internal("GET RESPONSE".into()))?;
            resp = self.transmit_le(apdu)?;
        }
        if data.is_empty() {
            return Ok(resp);
        }
        data.extend_from_slice(&resp.data);
        Ok(Response { data, sw: resp.sw })
    }

    /// SELECT the PIV card application. Any refusal is `Error::NotPiv`. With a cache that
    /// knows PIV is selected on this handle, no APDU: the next command confirms it.
    pub fn select(&mut self) -> Result<SelectInfo> {
        if let Some(data) = self.cache.as_deref().and_then(CardCache::selected) {
            let info = commands::parse_select(data)?;
            self.select_unconfirmed = true;
            return Ok(info);
        }
        self.select_on_card()
    }

    /// SP 800-73-4 Part 2 §3.1.1 SELECT, sent to the card.
    fn select_on_card(&mut self) -> Result<SelectInfo> {
        self.select_unconfirmed = false;
        let r = self.exchange(&commands::select())?;
        if !r.status().is_success() {
            return Err(Error::NotPiv);
        }
        let info = commands::parse_select(&r.data)?;
        if let Some(c) = self.cache() {
            c.store_select(&r.data);
        }
        Ok(info)
    }

    /// GET DATA, returning the response data as is (`None` on `6A82`). Objects anyone may read
    /// come from the cache when it has them.
    pub fn get_data_raw(&mut self, tag: u32) -> Result<Option<Vec<u8>>> {
        if let Some(hit) = self.cache.as_deref().and_then(|c| c.object(tag)) {
            return Ok(hit.map(<[u8]>::to_vec));
        }
        let r = self.exchange(&commands::get_data(tag))?;
        let v = match r.status() {
            Status::Success => Some(r.data),
            Status::NotFound => None,
            s => return Err(s.to_error("GET DATA")),
        };
        if let Some(c) = self.cache() {
            c.store_object(tag, v.as_deref());
        }
        Ok(v)
    }

    /// GET DATA from the card itself, whatever the cache holds (the cache keeps the answer):
    /// for an object about to be rewritten from its current contents.
    pub fn get_data_fresh(&mut self, tag: u32) -> Result<Option<Vec<u8>>> {
        if let Some(c) = self.cache() {
            c.forget_object(tag);
        }
        match self.get_data_raw(tag)? {
            None => Ok(None),
            Some(d) => Ok(Some(commands::unwrap_data_object(&d)?.to_vec())),
        }
    }

    /// GET DATA of a `53`-wrapped object: its value (`None` on `6A82`).
    pub fn get_data(&mut self, tag: u32) -> Result<Option<Vec<u8>>> {
        match self.get_data_raw(tag)? {
            None => Ok(None),
            Some(d) => Ok(Some(commands::unwrap_data_object(&d)?.to_vec())),
        }
    }

    /// PUT DATA `value` into object `tag` (needs the management key).
    pub fn put_data(&mut self, tag: u32, value: &[u8]) -> Result<()> {
        self.exchange(&commands::put_data(tag, value))?.into_success("PUT DATA").map(drop)
    }

    /// The DER certificate of `slot`, `None` if the object is absent or empty.
    pub fn read_certificate(&mut self, slot: Slot) -> Result<Option<Vec<u8>>> {
        match self.get_data(slot.cert_tag())? {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => commands::parse_certificate_object(&v).map(Some),
        }
    }

    /// Write `der` as `slot`'s certificate object (needs the management key).
    pub fn write_certificate(&mut self, slot: Slot, der: &[u8]) -> Result<()> {
        self.put_data(slot.cert_tag(), &commands::build_certificate_object(der))
    }

    /// The CHUID (`5FC102`), if present.
    pub fn read_chuid(&mut self) -> Result<Option<Chuid>> {
        self.get_data(TAG_CHUID)?.map(|v| commands::parse_chuid(&v)).transpose()
    }

    /// The Discovery Object (`7E`), if present.
    pub fn read_discovery(&mut self) -> Result<Option<Discovery>> {
        self.get_data_raw(TAG_DISCOVERY)?.map(|v| commands::parse_discovery(&v)).transpose()
    }

    /// The Key History Object (`5FC10C`), if present.
    pub fn read_key_history(&mut self) -> Result<Option<KeyHistory>> {
        self.get_data(TAG_KEY_HISTORY)?.map(|v| commands::parse_key_history(&v)).transpose()
    }

    /// The Key History Object read from the card, not the cache: before Kagi rewrites it, so
    /// the counts it keeps are the card's own.
    pub fn read_key_history_fresh(&mut self) -> Result<Option<KeyHistory>> {
        self.get_data_fresh(TAG_KEY_HISTORY)?.map(|v| commands::parse_key_history(&v)).transpose()
    }

    /// PIN state without trying a PIN (VERIFY with no data).
    pub fn pin_retries(&mut self) -> Result<PinState> {
        let r = self.exchange(&commands::pin_status())?;
        match r.status() {
            Status::Success => Ok(PinState::Verified),
            Status::VerifyFailed { retries: 0 } | Status::Blocked => Ok(PinState::Blocked),
            Status::VerifyFailed { retries } => Ok(PinState::Retries(retries)),
            s => Err(s.to_error("PIN status")),
        }
    }

    /// Resets the PIN's security status (VERIFY P1=`FF`). `Ok(false)` when the card does not
    /// support it; the caller must then reset the card to the same effect.
    pub fn unverify_pin(&mut self) -> Result<bool> {
        Ok(self.exchange(&commands::unverify_pin())?.status().is_success())
    }

    /// VERIFY the PIN: `PinIncorrect { retries }` on `63Cx`, `PinBlocked` on `6983`/`63C0`.
    pub fn verify_pin(&mut self, pin: &Pin) -> Result<()> {
        self.exchange(&commands::verify_pin(pin))?.into_success("VERIFY").map(drop)
    }

    /// Sign a SHA-256 digest with the key in `slot` (PIN verified first where the slot needs it).
    /// ECC P-256: returns the DER ECDSA-Sig-Value. RSA-2048: the host builds the PKCS#1 v1.5
    /// block and returns the 256-byte signature.
    pub fn sign_digest(&mut self, slot: Slot, alg: KeyAlgorithm, digest: &[u8; 32]) -> Result<Vec<u8>> {
        let cmd = match alg {
            KeyAlgorithm::EccP256 => commands::sign(slot, alg, digest),
            KeyAlgorithm::Rsa2048 => {
                commands::sign(slot, alg, &pkcs1::sha256_signature_block(digest, pkcs1::RSA2048_LEN)?)
            }
            KeyAlgorithm::Unsupported(x) => {
                return Err(Error::Internal(format!("cannot sign with key algorithm {x:02X}")))
            }
        };
        let r = self.exchange(&cmd)?;
        let data = match r.status() {
            Status::Success => r.data,
            Status::ReferenceNotFound => return Err(Error::NotFound("private key")),
            s => return Err(s.to_error("signature")),
        };
        commands::parse_signature(&data, alg)
    }

    /// Authenticate with the card management key (mutual authentication, SP 800-73-4 Part 2
    /// Appendix A.1). A refusal by the card or a wrong card answer is `ManagementKeyRejected`.
    pub fn authenticate_management(&mut self, key: &ManagementKey) -> Result<()> {
        let rejected = |s: Status| {
            matches!(
                s,
                Status::SecurityNotSatisfied
                    | Status::IncorrectData
                    | Status::IncorrectP1P2
                    | Status::ReferenceNotFound
                    | Status::Blocked
                    | Status::ConditionsNotSatisfied
                    | Status::VerifyFailed { .. }
            )
        };
        let r = self.exchange(&mgmt::witness_request(key.algorithm()))?;
        match r.status() {
            Status::Success => {}
            s if rejected(s) => return Err(Error::ManagementKeyRejected),
            s => return Err(s.to_error("management key authentication")),
        }
        let (state, cmd) = MutualAuth::respond(key, &r.data)?;
        let r = self.exchange(&cmd)?;
        match r.status() {
            Status::Success => state.verify(key, &r.data),
            s if rejected(s) => Err(Error::ManagementKeyRejected),
            s => Err(s.to_error("management key authentication")),
        }
    }

    /// Generate a key pair in `slot` (needs the management key); returns the public key.
    pub fn generate_key(&mut self, slot: Slot, alg: KeyAlgorithm) -> Result<PublicKey> {
        if let KeyAlgorithm::Unsupported(x) = alg {
            return Err(Error::Internal(format!("cannot generate key algorithm {x:02X}")));
        }
        let data = self.exchange(&commands::generate(slot, alg))?.into_success("key generation")?;
        PublicKey::from_7f49(&data, alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::memory::MemoryTransport;
    use crate::piv::mgmt::crypt_block;
    use crate::piv::objects::ManagementAlgorithm;
    use crate::piv::tlv;

    const YK_SELECT: &str = "61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08";

    #[test]
    fn le_rewrite() {
        assert_eq!(*with_le(&[0, 0xC0, 0, 0], 5), [0, 0xC0, 0, 0, 5]);
        assert_eq!(*with_le(&[0, 0xC0, 0, 0, 0], 5), [0, 0xC0, 0, 0, 5]);
        assert_eq!(*with_le(&[0, 0xCB, 0x3F, 0xFF, 1, 0x7E], 5), [0, 0xCB, 0x3F, 0xFF, 1, 0x7E, 5]);
        assert_eq!(*with_le(&[0, 0xCB, 0x3F, 0xFF, 1, 0x7E, 0], 5), [0, 0xCB, 0x3F, 0xFF, 1, 0x7E, 5]);
    }

    #[test]
    fn select_yubikey() {
        let mut t = MemoryTransport::new().expect("00A40400 0B A0000003080000100001 00 00", &format!("{YK_SELECT} 9000"));
        let info = PivSession::new(&mut t).select().unwrap();
        assert_eq!(info.aid, hex::decode("000010000100").unwrap());
        t.assert_done();
    }

    #[test]
    fn select_with_get_response() {
        let mut t = MemoryTransport::new()
            .expect("00A4040 00B A0000003080000100001 00 00", "61 11 4F 06 00 00 10 00 01 00 79 07 61 07")
            .expect("00 C0 00 00 07", "4F 05 A0 00 00 03 08 90 00");
        let info = PivSession::new(&mut t).select().unwrap();
        assert_eq!(info.tag_allocation_authority.unwrap(), hex::decode("A000000308").unwrap());
        t.assert_done();
    }

    #[test]
    fn select_refused_is_not_piv() {
        let mut t = MemoryTransport::new().expect("00A40400 0B A0000003080000100001 00 00", "6A 82");
        assert!(matches!(PivSession::new(&mut t).select(), Err(Error::NotPiv)));
        let mut t = MemoryTransport::new().expect("00A40400 0B A0000003080000100001 00 00", "6D 00");
        assert!(matches!(PivSession::new(&mut t).select(), Err(Error::NotPiv)));
    }

    #[test]
    fn wrong_le_is_resent() {
        let mut t = MemoryTransport::new()
            .expect("00CB3FFF 03 5C017E 00", "6C 14")
            .expect("00CB3FFF 03 5C017E 14", "7E 12 4F 0B A0000003080000100001 00 5F2F 02 40 00 90 00");
        let d = PivSession::new(&mut t).read_discovery().unwrap().unwrap();
        assert_eq!(d.pin_usage_policy, Some([0x40, 0]));
        t.assert_done();
    }

    #[test]
    fn verify_answered_wrong_le_is_not_resent() {
        // A card (or something posing as one) answering 6Cxx to VERIFY would have the PIN sent
        // again with an Le it made up: VERIFY has no Le, so 6Cxx is its answer.
        let mut t = MemoryTransport::new().expect("00 20 00 80 08 343832393135FFFF", "6C 08");
        let r = PivSession::new(&mut t).verify_pin(&Pin::new("482915").unwrap());
        assert!(matches!(r, Err(Error::Status { op: "VERIFY", sw: 0x6C08 })), "{r:?}");
        t.assert_done();
        // The same for the PIN change and the unblock, which carry PIN and PUK.
        let mut t = MemoryTransport::new()
            .expect("00 24 00 80 10 343832393135FFFF 313933383437FFFF", "6C 10")
            .expect("00 2C 00 80 10 3132333435363738 313933383437FFFF", "6C 00");
        let mut s = PivSession::new(&mut t);
        assert!(s.change_pin(&Pin::new("482915").unwrap(), &Pin::new("193847").unwrap()).is_err());
        assert!(s.unblock_pin(&Pin::puk("12345678").unwrap(), &Pin::new("193847").unwrap()).is_err());
        t.assert_done();
        // VERIFY without data (the tries left) has no PIN: nothing changes for it.
        let mut t = MemoryTransport::new().expect("00 20 00 80", "63 C3");
        assert_eq!(PivSession::new(&mut t).pin_retries().unwrap(), PinState::Retries(3));
    }

    #[test]
    fn verify_answered_61xx_fetches_the_rest_without_the_pin() {
        // 61xx is ISO/IEC 7816-4 "more data": GET RESPONSE collects it; the PIN is not re-sent.
        let mut t = MemoryTransport::new()
            .expect("00 20 00 80 08 343832393135FFFF", "61 02")
            .expect("00 C0 00 00 02", "AB CD 90 00");
        PivSession::new(&mut t).verify_pin(&Pin::new("482915").unwrap()).unwrap();
        t.assert_done();
        let mut t = MemoryTransport::new()
            .expect("00 20 00 80 08 343832393135FFFF", "61 02")
            .expect("00 C0 00 00 02", "63 C2");
        assert!(matches!(PivSession::new(&mut t).verify_pin(&Pin::new("482915").unwrap()), Err(Error::PinIncorrect { retries: 2 })));
        t.assert_done();
    }

    fn cert_of_len(n: usize) -> Vec<u8> {
        // A fake DER blob of exactly n bytes: 30 82 hi lo + filler.
        let mut v = vec![0x30, 0x82, ((n - 4) >> 8) as u8, (n - 4) as u8];
        v.extend((0..n - 4).map(|i| i as u8));
        v
    }

    #[test]
    fn read_certificate_in_several_get_responses() {
        let der = cert_of_len(700);
        let obj = tlv::encode(0x53, &commands::build_certificate_object(&der));
        // The card sends 256-byte pieces with 61 00 (= 256 more or more), then the rest.
        let mut t = MemoryTransport::new();
        let pieces: Vec<&[u8]> = obj.chunks(256).collect();
        for (i, p) in pieces.iter().enumerate() {
            let cmd = if i == 0 { "00CB3FFF 05 5C035FC10A 00" } else { "00C00000 00" };
            let mut resp = p.to_vec();
            if i + 1 < pieces.len() {
                let left = obj.len() - 256 * (i + 1);
                resp.extend_from_slice(&[0x61, if left >= 256 { 0 } else { left as u8 }]);
            } else {
                resp.extend_from_slice(&[0x90, 0x00]);
            }
            if i == pieces.len() - 1 && i > 0 {
                let left = obj.len() - 256 * i;
                t = t.expect_bytes(vec![0, 0xC0, 0, 0, left as u8], resp);
            } else {
                t = t.expect_bytes(hex::decode(cmd.replace(' ', "")).unwrap(), resp);
            }
        }
        let got = PivSession::new(&mut t).read_certificate(Slot::Signature).unwrap();
        assert_eq!(got, Some(der));
        t.assert_done();
    }

    #[test]
    fn extended_length_reads_a_certificate_in_one_apdu() {
        let der = cert_of_len(700);
        let obj = tlv::encode(0x53, &commands::build_certificate_object(&der));
        let mut resp = obj.clone();
        resp.extend_from_slice(&[0x90, 0x00]);
        let mut t = MemoryTransport::new().expect_bytes(h("00CB3FFF 000005 5C035FC10A 0000"), resp);
        let got = PivSession::new(&mut t).with_extended_length(true).read_certificate(Slot::Signature).unwrap();
        assert_eq!(got, Some(der));
        t.assert_done();
    }

    #[test]
    fn extended_length_refused_falls_back_to_short_apdus() {
        // The ATR said yes, the card says 6700: short APDUs, for this read and the next.
        let mut t = MemoryTransport::new()
            .expect_bytes(h("00CB3FFF 000005 5C035FC102 0000"), h("6700"))
            .expect("00CB3FFF 05 5C035FC102 00", "6A 82")
            .expect("00CB3FFF 05 5C035FC10C 00", "6A 82");
        let mut s = PivSession::new(&mut t).with_extended_length(true);
        assert_eq!(s.read_chuid().unwrap(), None);
        assert_eq!(s.read_key_history().unwrap(), None);
        t.assert_done();
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn absent_certificate() {
        let mut t = MemoryTransport::new()
            .expect("00CB3FFF 05 5C035FC105 00", "6A 82")
            .expect("00CB3FFF 05 5C035FC101 00", "53 00 90 00");
        let mut s = PivSession::new(&mut t);
        assert_eq!(s.read_certificate(Slot::Authentication).unwrap(), None);
        assert_eq!(s.read_certificate(Slot::CardAuthentication).unwrap(), None);
        t.assert_done();
        let mut t = MemoryTransport::new().expect("00CB3FFF 05 5C035FC105 00", "69 82");
        assert!(matches!(
            PivSession::new(&mut t).read_certificate(Slot::Authentication),
            Err(Error::SecurityStatus(_))
        ));
        let mut t = MemoryTransport::new().expect("00CB3FFF 05 5C035FC105 00", "53 03 70 01 90 00");
        assert!(matches!(
            PivSession::new(&mut t).read_certificate(Slot::Authentication),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn write_certificate_is_chained() {
        let der = cert_of_len(600);
        let mut data = hex::decode("5C035FC10A").unwrap();
        tlv::encode_into(0x53, &commands::build_certificate_object(&der), &mut data);
        let mut t = MemoryTransport::new();
        let chunks: Vec<&[u8]> = data.chunks(255).collect();
        for (i, c) in chunks.iter().enumerate() {
            let cla = if i + 1 < chunks.len() { 0x10 } else { 0x00 };
            let mut apdu = vec![cla, 0xDB, 0x3F, 0xFF, c.len() as u8];
            apdu.extend_from_slice(c);
            t = t.expect_bytes(apdu, vec![0x90, 0x00]);
        }
        assert_eq!(chunks.len(), 3);
        PivSession::new(&mut t).write_certificate(Slot::Signature, &der).unwrap();
        t.assert_done();

        // A chain refused halfway stops there.
        let mut t = MemoryTransport::new().expect_bytes(
            {
                let mut a = vec![0x10, 0xDB, 0x3F, 0xFF, 0xFF];
                a.extend_from_slice(chunks[0]);
                a
            },
            vec![0x69, 0x82],
        );
        assert!(matches!(
            PivSession::new(&mut t).write_certificate(Slot::Signature, &der),
            Err(Error::SecurityStatus("PUT DATA"))
        ));
        t.assert_done();
    }

    #[test]
    fn chuid_and_key_history() {
        let mut t = MemoryTransport::new()
            .expect("00CB3FFF 05 5C035FC102 00", "53 19 30 01 00 34 10 00112233445566778899AABBCCDDEEFF 35 00 FE 00 90 00")
            .expect("00CB3FFF 05 5C035FC10C 00", "53 08 C1 01 01 C2 01 00 FE 00 90 00")
            .expect("00CB3FFF 05 5C035FC102 00", "6A 82");
        let mut s = PivSession::new(&mut t);
        let c = s.read_chuid().unwrap().unwrap();
        assert_eq!(hex::encode(c.guid), "00112233445566778899aabbccddeeff");
        assert_eq!(s.read_key_history().unwrap().unwrap().keys_with_on_card_certs, 1);
        assert_eq!(s.read_chuid().unwrap(), None);
        t.assert_done();
    }

    #[test]
    fn pin_flow() {
        let mut t = MemoryTransport::new()
            .expect("00 20 00 80", "63 C3")
            .expect("00 20 00 80 08 313131313131FFFF", "63 C2")
            .expect("00 20 00 80 08 313233343536FFFF", "90 00")
            .expect("00 20 00 80", "90 00")
            .expect("00 20 00 80 08 313131313131FFFF", "63 C0")
            .expect("00 20 00 80", "69 83")
            .expect("00 20 00 80 08 313233343536FFFF", "69 83");
        let mut s = PivSession::new(&mut t);
        assert_eq!(s.pin_retries().unwrap(), PinState::Retries(3));
        let wrong = Pin::new("111111").unwrap();
        let right = Pin::new("123456").unwrap();
        assert!(matches!(s.verify_pin(&wrong), Err(Error::PinIncorrect { retries: 2 })));
        s.verify_pin(&right).unwrap();
        assert_eq!(s.pin_retries().unwrap(), PinState::Verified);
        assert!(matches!(s.verify_pin(&wrong), Err(Error::PinBlocked)));
        assert_eq!(s.pin_retries().unwrap(), PinState::Blocked);
        assert!(matches!(s.verify_pin(&right), Err(Error::PinBlocked)));
        t.assert_done();
    }

    #[test]
    fn ecc_sign_flow() {
        let digest = [0x5A; 32];
        let sig = "3045022100aa0000000000000000000000000000000000000000000000000000000000000102205500000000000000000000000000000000000000000000000000000000000002";
        let mut t = MemoryTransport::new()
            .expect("00 20 00 80 08 313233343536FFFF", "90 00")
            .expect(&format!("00 87 11 9A 26 7C 24 8200 8120 {} 00", hex::encode([0x5A; 32])), &format!("7C 49 82 47 {sig} 9000"))
            .expect(&format!("00 87 11 9C 26 7C 24 8200 8120 {} 00", hex::encode([0x5A; 32])), "69 82");
        let mut s = PivSession::new(&mut t);
        s.verify_pin(&Pin::new("123456").unwrap()).unwrap();
        let got = s.sign_digest(Slot::Authentication, KeyAlgorithm::EccP256, &digest).unwrap();
        assert_eq!(hex::encode(got), sig);
        assert!(matches!(
            s.sign_digest(Slot::Signature, KeyAlgorithm::EccP256, &digest),
            Err(Error::SecurityStatus("signature"))
        ));
        t.assert_done();
    }

    #[test]
    fn rsa_sign_flow_chained_with_get_response() {
        let digest = [0x11; 32];
        let block = pkcs1::sha256_signature_block(&digest, 256).unwrap();
        let mut body = vec![0x82, 0x00];
        tlv::encode_into(0x81, &block, &mut body);
        let data = tlv::encode(0x7C, &body); // 266 bytes: two APDUs
        assert_eq!(data.len(), 266);
        let mut first = vec![0x10, 0x87, 0x07, 0x9A, 0xFF];
        first.extend_from_slice(&data[..255]);
        let mut second = vec![0x00, 0x87, 0x07, 0x9A, 11];
        second.extend_from_slice(&data[255..]);
        second.push(0x00);
        let sig = vec![0xC3; 256];
        let mut resp = vec![0x7C, 0x82, 0x01, 0x04, 0x82, 0x82, 0x01, 0x00];
        resp.extend_from_slice(&sig);
        let mut r1 = resp[..256].to_vec();
        r1.extend_from_slice(&[0x61, 0x08]);
        let mut r2 = resp[256..].to_vec();
        r2.extend_from_slice(&[0x90, 0x00]);
        let mut t = MemoryTransport::new()
            .expect_bytes(first, vec![0x90, 0x00])
            .expect_bytes(second, r1)
            .expect("00 C0 00 00 08", &hex::encode(r2));
        let got = PivSession::new(&mut t).sign_digest(Slot::Authentication, KeyAlgorithm::Rsa2048, &digest).unwrap();
        assert_eq!(got, sig);
        t.assert_done();
    }

    /// A card's side of mutual authentication with `key`, witness `w`.
    fn mgmt_card(key: ManagementKey, w: Vec<u8>) -> MemoryTransport {
        let mut enc_w = w.clone();
        crypt_block(&key, &mut enc_w, true).unwrap();
        let alg = key.algorithm().id();
        let bl = w.len() as u8;
        let mut step1 = vec![0x7C, bl + 2, 0x80, bl];
        step1.extend_from_slice(&enc_w);
        step1.extend_from_slice(&[0x90, 0x00]);
        MemoryTransport::new()
            .expect(&format!("00 87 {alg:02X} 9B 04 7C028000 00"), &hex::encode(step1))
            .expect_with(move |apdu| {
                assert_eq!(apdu[..4], [0x00, 0x87, alg, 0x9B]);
                let body = &apdu[5..apdu.len() - 1];
                let inner = tlv::expect_single(body, 0x7C, "t").unwrap();
                if tlv::exactly_one(inner, 0x80, "t").unwrap() != w.as_slice() {
                    return vec![0x69, 0x82];
                }
                let mut c = tlv::exactly_one(inner, 0x81, "t").unwrap().to_vec();
                assert_eq!(c.len(), w.len());
                crypt_block(&key, &mut c, true).unwrap();
                let mut out = tlv::encode(0x7C, &tlv::encode(0x82, &c));
                out.extend_from_slice(&[0x90, 0x00]);
                out
            })
    }

    #[test]
    fn management_key_3des_and_aes() {
        let mut t = mgmt_card(ManagementKey::default(), vec![1, 2, 3, 4, 5, 6, 7, 8]);
        PivSession::new(&mut t).authenticate_management(&ManagementKey::default()).unwrap();
        t.assert_done();

        let aes = ManagementKey::new(ManagementAlgorithm::Aes192, &[7; 24]).unwrap();
        let mut t = mgmt_card(aes.clone(), (0..16).collect());
        PivSession::new(&mut t).authenticate_management(&aes).unwrap();
        t.assert_done();
    }

    #[test]
    fn management_key_wrong() {
        // The card holds another key: our decrypted witness is wrong, the card answers 6982.
        let card_key = ManagementKey::new(ManagementAlgorithm::TripleDes, &[9; 24]).unwrap();
        let mut t = mgmt_card(card_key, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(matches!(
            PivSession::new(&mut t).authenticate_management(&ManagementKey::default()),
            Err(Error::ManagementKeyRejected)
        ));
        // Wrong algorithm for the card: 6A86 on the witness request.
        let aes = ManagementKey::new(ManagementAlgorithm::Aes128, &[1; 16]).unwrap();
        let mut t = MemoryTransport::new().expect("00 87 08 9B 04 7C028000 00", "6A 86");
        assert!(matches!(
            PivSession::new(&mut t).authenticate_management(&aes),
            Err(Error::ManagementKeyRejected)
        ));
        // A card that answers our challenge wrongly (impostor) is rejected too.
        let key = ManagementKey::default();
        let mut w = vec![0u8; 8];
        crypt_block(&key, &mut w, true).unwrap();
        let mut step1 = vec![0x7C, 0x0A, 0x80, 0x08];
        step1.extend_from_slice(&w);
        step1.extend_from_slice(&[0x90, 0x00]);
        let mut t = MemoryTransport::new()
            .expect("00 87 03 9B 04 7C028000 00", &hex::encode(step1))
            .expect_with(|_| hex::decode("7C0A82080000000000000000 9000".replace(' ', "")).unwrap());
        assert!(matches!(
            PivSession::new(&mut t).authenticate_management(&key),
            Err(Error::ManagementKeyRejected)
        ));
    }

    #[test]
    fn generate_flow() {
        let point = format!("04{}", "ab".repeat(64));
        let mut t = MemoryTransport::new()
            .expect("00 47 00 9C 05 AC03800111 00", &format!("7F49 43 86 41 {point} 9000"))
            .expect("00 47 00 9A 05 AC03800111 00", "69 82");
        let mut s = PivSession::new(&mut t);
        match s.generate_key(Slot::Signature, KeyAlgorithm::EccP256).unwrap() {
            PublicKey::EcP256 { point: p } => assert_eq!(hex::encode(p), point),
            k => panic!("{k:?}"),
        }
        assert!(matches!(
            s.generate_key(Slot::Authentication, KeyAlgorithm::EccP256),
            Err(Error::SecurityStatus("key generation"))
        ));
        assert!(s.generate_key(Slot::Authentication, KeyAlgorithm::Unsupported(0x14)).is_err());
        t.assert_done();
    }

    #[test]
    fn runaway_card_is_bounded() {
        let mut t = MemoryTransport::new().expect("00CB3FFF 03 5C017E 00", &format!("{} 6100", "00".repeat(256)));
        for _ in 0..300 {
            t = t.expect("00 C0 00 00 00", &format!("{} 6100", "00".repeat(256)));
        }
        assert!(matches!(PivSession::new(&mut t).read_discovery(), Err(Error::Malformed(_))));
    }

    #[test]
    fn short_response_is_malformed() {
        let mut t = MemoryTransport::new().expect("00 20 00 80", "90");
        assert!(matches!(PivSession::new(&mut t).pin_retries(), Err(Error::Malformed(_))));
    }

    #[test]
    fn dyn_transport() {
        let mut t = MemoryTransport::new().expect("00 20 00 80", "63 C5");
        let d: &mut dyn Transport = &mut t;
        assert_eq!(PivSession::new(d).pin_retries().unwrap(), PinState::Retries(5));
    }
}
