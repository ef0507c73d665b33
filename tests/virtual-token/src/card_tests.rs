//! In-process tests of the APDU handler (no pcscd).

use super::*;
use crate::crypto::{ALG_AES128, ALG_AES192, ALG_AES256};

pub(super) fn card() -> Card {
    Card::new(Store::new(None), Duration::ZERO).unwrap()
}

/// Sends one APDU; returns (data, SW).
pub(super) fn tx(c: &mut Card, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut r = c.process(apdu);
    assert!(r.len() >= 2);
    let sw = u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]]);
    r.truncate(r.len() - 2);
    (r, sw)
}

/// Builds a short APDU with Lc/data and Le 00, chaining (CLA 10) when data exceeds 255 bytes.
pub(super) fn cmd(c: &mut Card, ins: u8, p1: u8, p2: u8, data: &[u8]) -> (Vec<u8>, u16) {
    let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(255).collect() };
    let n = chunks.len();
    let mut last = (Vec::new(), 0);
    for (i, ch) in chunks.into_iter().enumerate() {
        let cla = if i + 1 < n { 0x10 } else { 0x00 };
        let mut a = vec![cla, ins, p1, p2];
        if !ch.is_empty() {
            a.push(ch.len() as u8);
            a.extend_from_slice(ch);
        }
        a.push(0);
        last = tx(c, &a);
        if i + 1 < n {
            assert_eq!(last.1, sw::OK, "chained part {i}");
        }
    }
    // Collect 61xx continuation with GET RESPONSE.
    let (mut data, mut s) = last;
    while s & 0xFF00 == sw::MORE_DATA {
        let (d, s2) = tx(c, &[0x00, 0xC0, 0x00, 0x00, (s & 0xFF) as u8]);
        data.extend_from_slice(&d);
        s = s2;
    }
    (data, s)
}

pub(super) fn tlv_get(buf: &[u8], tag: u32) -> Vec<u8> {
    tlv::parse_all(buf).unwrap().into_iter().find(|t| t.tag == tag).unwrap().value.to_vec()
}

pub(super) fn select(c: &mut Card) {
    let (r, s) = cmd(c, 0xA4, 0x04, 0x00, &objects::PIV_AID);
    assert_eq!(s, sw::OK);
    assert_eq!(r[0], 0x61);
}

pub(super) fn pin(p: &str) -> Vec<u8> {
    let mut v = p.as_bytes().to_vec();
    v.resize(8, 0xFF);
    v
}

pub(super) fn verify(c: &mut Card, p: &str) -> u16 {
    cmd(c, 0x20, 0x00, 0x80, &pin(p)).1
}

/// Mutual authentication as yubico-piv-tool does it (Part 2 Appendix A.1).
pub(super) fn mutual_auth(c: &mut Card, key: &MgmtKey) -> u16 {
    let (r, s) = cmd(c, 0x87, key.alg, 0x9B, &[0x7C, 0x02, 0x80, 0x00]);
    assert_eq!(s, sw::OK);
    let witness_enc = tlv_get(&tlv_get(&r, 0x7C), 0x80);
    let witness = key.decrypt(&witness_enc).unwrap();
    let challenge = vec![0x5A; key.block_len()];
    let mut inner = tlv::encode(0x80, &witness);
    tlv::push(&mut inner, 0x81, &challenge);
    let (r, s) = cmd(c, 0x87, key.alg, 0x9B, &tlv::encode(0x7C, &inner));
    if s != sw::OK {
        return s;
    }
    let resp = tlv_get(&tlv_get(&r, 0x7C), 0x82);
    assert_eq!(key.decrypt(&resp).unwrap(), challenge, "card proves knowledge of the key");
    s
}

/// External authentication as OpenSC's piv-tool does it (Part 2 Appendix A.2).
pub(super) fn external_auth(c: &mut Card, key: &MgmtKey) -> u16 {
    let (r, s) = cmd(c, 0x87, key.alg, 0x9B, &[0x7C, 0x02, 0x81, 0x00]);
    assert_eq!(s, sw::OK);
    let ch = tlv_get(&tlv_get(&r, 0x7C), 0x81);
    let resp = key.encrypt(&ch).unwrap();
    cmd(c, 0x87, key.alg, 0x9B, &tlv::encode(0x7C, &tlv::encode(0x82, &resp))).1
}

pub(super) fn default_key() -> MgmtKey {
    MgmtKey::new(crypto::ALG_3DES, crypto::DEFAULT_MGMT_KEY.to_vec()).unwrap()
}

#[test]
fn select_full_and_partial_aid() {
    let mut c = card();
    select(&mut c);
    assert_eq!(cmd(&mut c, 0xA4, 0x04, 0x00, &objects::PIV_AID[..5]).1, sw::OK);
    assert_eq!(cmd(&mut c, 0xA4, 0x04, 0x00, &objects::PIV_AID[..9]).1, sw::OK);
    assert_eq!(cmd(&mut c, 0xA4, 0x04, 0x00, &objects::PIV_AID[..4]).1, sw::NOT_FOUND);
    assert_eq!(cmd(&mut c, 0xA4, 0x04, 0x00, &[0xA0, 0, 0, 5, 0x27, 0x20, 1]).1, sw::NOT_FOUND);
    assert_eq!(cmd(&mut c, 0xA4, 0x00, 0x00, &objects::PIV_AID).1, sw::INCORRECT_P1P2);
    let (apt, _) = cmd(&mut c, 0xA4, 0x04, 0x00, &objects::PIV_AID);
    let inner = tlv::expect_single(&apt, 0x61).unwrap();
    assert_eq!(tlv_get(inner, 0x4F), objects::PIV_AID[5..]);
    let algs = tlv_get(inner, 0xAC);
    assert!(tlv::parse_all(&algs).unwrap().iter().any(|t| t.tag == 0x80 && t.value == [0x11]));
}

#[test]
fn get_data_objects() {
    let mut c = card();
    let (chuid, s) = cmd(&mut c, 0xCB, 0x3F, 0xFF, &[0x5C, 0x03, 0x5F, 0xC1, 0x02]);
    assert_eq!(s, sw::OK);
    let guid = tlv_get(tlv::expect_single(&chuid, 0x53).unwrap(), 0x34);
    assert_eq!(guid.len(), 16);
    let (disc, s) = cmd(&mut c, 0xCB, 0x3F, 0xFF, &[0x5C, 0x01, 0x7E]);
    assert_eq!(s, sw::OK);
    assert_eq!(tlv_get(tlv::expect_single(&disc, 0x7E).unwrap(), 0x4F), objects::PIV_AID);
    let (kh, s) = cmd(&mut c, 0xCB, 0x3F, 0xFF, &[0x5C, 0x03, 0x5F, 0xC1, 0x0C]);
    assert_eq!(s, sw::OK);
    assert_eq!(tlv_get(tlv::expect_single(&kh, 0x53).unwrap(), 0xC1), [0]);
    assert_eq!(cmd(&mut c, 0xCB, 0x3F, 0xFF, &[0x5C, 0x03, 0x5F, 0xC1, 0x05]).1, sw::NOT_FOUND);
    assert_eq!(cmd(&mut c, 0xCB, 0x3F, 0xFF, &[0x5C, 0x03, 0x12, 0x34, 0x56]).1, sw::NOT_FOUND);
    assert_eq!(cmd(&mut c, 0xCB, 0x3F, 0xFF, &[0x5C, 0x05, 0x5F]).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0xCB, 0x3F, 0xFE, &[0x5C, 0x01, 0x7E]).1, sw::INCORRECT_P1P2);
}

#[test]
fn put_data_needs_management_key_and_chains_both_ways() {
    let mut c = card();
    let cert: Vec<u8> = (0..2900u32).map(|i| (i * 7) as u8).collect();
    let mut obj = tlv::encode(0x70, &cert);
    tlv::push(&mut obj, 0x71, &[0]);
    tlv::push(&mut obj, 0xFE, &[]);
    let mut put = vec![0x5C, 0x03, 0x5F, 0xC1, 0x05];
    put.extend(tlv::encode(0x53, &obj));
    assert_eq!(cmd(&mut c, 0xDB, 0x3F, 0xFF, &put).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    assert_eq!(cmd(&mut c, 0xDB, 0x3F, 0xFF, &put).1, sw::OK);
    // GET DATA returns it through 61xx / GET RESPONSE.
    let first = tx(&mut c, &[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00]);
    assert_eq!(first.0.len(), 256);
    assert_eq!(first.1, 0x6100);
    let (got, s) = cmd(&mut c, 0xCB, 0x3F, 0xFF, &[0x5C, 0x03, 0x5F, 0xC1, 0x05]);
    assert_eq!(s, sw::OK);
    assert_eq!(got, tlv::encode(0x53, &obj));
    // Another command in between drops the pending response.
    let _ = tx(&mut c, &[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00]);
    select(&mut c);
    assert_eq!(tx(&mut c, &[0x00, 0xC0, 0x00, 0x00, 0x00]).1, sw::CONDITIONS_NOT_SATISFIED);
    // Empty 53 deletes.
    assert_eq!(cmd(&mut c, 0xDB, 0x3F, 0xFF, &[0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x53, 0x00]).1, sw::OK);
    assert_eq!(cmd(&mut c, 0xCB, 0x3F, 0xFF, &[0x5C, 0x03, 0x5F, 0xC1, 0x05]).1, sw::NOT_FOUND);
    // Malformed PUT DATA.
    assert_eq!(cmd(&mut c, 0xDB, 0x3F, 0xFF, &[0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x53, 0x05, 1]).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0xDB, 0x3F, 0xFF, &[0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x54, 0x01, 1]).1, sw::WRONG_DATA);
}

#[test]
fn pin_retries_block_and_unblock() {
    let mut c = card();
    assert_eq!(cmd(&mut c, 0x20, 0x00, 0x80, &[]).1, 0x63C3);
    assert_eq!(verify(&mut c, "000000"), 0x63C2);
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    assert_eq!(cmd(&mut c, 0x20, 0x00, 0x80, &[]).1, sw::OK);
    assert_eq!(cmd(&mut c, 0x20, 0xFF, 0x80, &[]).1, sw::OK);
    assert_eq!(cmd(&mut c, 0x20, 0x00, 0x80, &[]).1, 0x63C3, "a good PIN resets the counter");
    assert_eq!(verify(&mut c, "000000"), 0x63C2);
    assert_eq!(verify(&mut c, "000000"), 0x63C1);
    assert_eq!(verify(&mut c, "000000"), 0x63C0);
    assert_eq!(verify(&mut c, "123456"), sw::AUTH_BLOCKED);
    assert_eq!(cmd(&mut c, 0x20, 0x00, 0x80, &[]).1, sw::AUTH_BLOCKED);
    // Wrong PUK counts down; right PUK sets a new PIN.
    let mut rrc = pin("87654321");
    rrc.extend(pin("654321"));
    assert_eq!(cmd(&mut c, 0x2C, 0x00, 0x80, &rrc).1, 0x63C2);
    let mut rrc = pin("12345678");
    rrc.extend(pin("654321"));
    assert_eq!(cmd(&mut c, 0x2C, 0x00, 0x80, &rrc).1, sw::OK);
    assert_eq!(verify(&mut c, "654321"), sw::OK);
    // CHANGE REFERENCE DATA for PIN and PUK.
    let mut crd = pin("654321");
    crd.extend(pin("11112222"));
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x80, &crd).1, sw::OK);
    assert_eq!(verify(&mut c, "11112222"), sw::OK);
    let mut crd = pin("12345678");
    crd.extend(pin("abcdefgh"));
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x81, &crd).1, sw::OK);
    assert_eq!(c.state().puk, "abcdefgh");
    // Malformed.
    assert_eq!(cmd(&mut c, 0x20, 0x00, 0x80, &[0x31; 5]).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x80, &[0x31; 8]).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x82, &[0x31; 16]).1, sw::INCORRECT_P1P2);
    let mut short_new = pin("11112222");
    short_new.extend(pin("123"));
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x80, &short_new).1, sw::WRONG_DATA);
    // Reset clears the verified state.
    c.reset();
    assert_eq!(cmd(&mut c, 0x20, 0x00, 0x80, &[]).1, 0x63C3);
}

#[test]
fn management_key_mutual_and_external_with_3des_and_aes() {
    for (alg, len) in [(crypto::ALG_3DES, 24), (ALG_AES128, 16), (ALG_AES192, 24), (ALG_AES256, 32)] {
        let mut c = card();
        let key: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37).wrapping_add(alg)).collect();
        c.mgmt = MgmtKey::new(alg, key.clone()).unwrap();
        let k = MgmtKey::new(alg, key).unwrap();
        assert_eq!(mutual_auth(&mut c, &k), sw::OK, "mutual alg {alg:#x}");
        assert!(c.mgmt_authenticated);
        c.reset();
        assert!(!c.mgmt_authenticated);
        assert_eq!(external_auth(&mut c, &k), sw::OK, "external alg {alg:#x}");
        assert!(c.mgmt_authenticated);
        // Wrong key.
        let mut bad = k.key.clone();
        bad[0] ^= 0x02; // not bit 0: DES ignores parity bits
        let bad = MgmtKey::new(alg, bad).unwrap();
        assert_eq!(external_auth(&mut c, &bad), sw::SECURITY_NOT_SATISFIED);
        assert!(!c.mgmt_authenticated);
        // Wrong algorithm in P1.
        let other = if alg == crypto::ALG_3DES { ALG_AES128 } else { crypto::ALG_3DES };
        assert_eq!(cmd(&mut c, 0x87, other, 0x9B, &[0x7C, 0x02, 0x80, 0x00]).1, sw::INCORRECT_P1P2);
        // Step 2 without step 1.
        let mut inner = tlv::encode(0x80, &vec![0; k.block_len()]);
        tlv::push(&mut inner, 0x81, &vec![0; k.block_len()]);
        assert_eq!(cmd(&mut c, 0x87, alg, 0x9B, &tlv::encode(0x7C, &inner)).1, sw::CONDITIONS_NOT_SATISFIED);
    }
}

#[test]
fn mutual_auth_with_wrong_witness_fails() {
    let mut c = card();
    let (_, s) = cmd(&mut c, 0x87, 0x03, 0x9B, &[0x7C, 0x02, 0x80, 0x00]);
    assert_eq!(s, sw::OK);
    let mut inner = tlv::encode(0x80, &[0; 8]);
    tlv::push(&mut inner, 0x81, &[1; 8]);
    assert_eq!(cmd(&mut c, 0x87, 0x03, 0x9B, &tlv::encode(0x7C, &inner)).1, sw::SECURITY_NOT_SATISFIED);
    assert!(!c.mgmt_authenticated);
}

pub(super) fn generate(c: &mut Card, slot: u8, alg: u8) -> (Vec<u8>, u16) {
    cmd(c, 0x47, 0x00, slot, &[0xAC, 0x03, 0x80, 0x01, alg])
}

pub(super) fn sign(c: &mut Card, alg: u8, slot: u8, input: &[u8]) -> (Vec<u8>, u16) {
    let mut inner = tlv::encode(0x82, &[]);
    tlv::push(&mut inner, 0x81, input);
    let (r, s) = cmd(c, 0x87, alg, slot, &tlv::encode(0x7C, &inner));
    if s != sw::OK {
        return (r, s);
    }
    (tlv_get(&tlv_get(&r, 0x7C), 0x82), s)
}

#[test]
fn ecc_generate_and_sign_with_access_rules() {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let mut c = card();
    assert_eq!(generate(&mut c, 0x9A, 0x11).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    assert_eq!(generate(&mut c, 0x9A, 0x99).1, sw::WRONG_DATA);
    assert_eq!(generate(&mut c, 0x9B, 0x11).1, sw::INCORRECT_P1P2);
    assert_eq!(cmd(&mut c, 0x47, 0x00, 0x9A, &[0xAC, 0x03, 0x80, 0x01]).1, sw::WRONG_DATA);
    let mut keys = BTreeMap::new();
    for slot in [0x9A, 0x9C, 0x9D, 0x9E, 0x82, 0x95] {
        // YubiKey policy tags inside AC are accepted (00: the slot's default policies).
        let (r, s) = cmd(&mut c, 0x47, 0x00, slot, &[0xAC, 0x09, 0x80, 0x01, 0x11, 0xAA, 0x01, 0x00, 0xAB, 0x01, 0x00]);
        assert_eq!(s, sw::OK);
        let point = tlv_get(tlv::expect_single(&r, 0x7F49).unwrap(), 0x86);
        assert_eq!(point.len(), 65);
        keys.insert(slot, p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap());
    }
    let digest = [0x42u8; 32];
    // 9E needs nothing; the others need the PIN.
    let (sig, s) = sign(&mut c, 0x11, 0x9E, &digest);
    assert_eq!(s, sw::OK);
    keys[&0x9E].verify_prehash(&digest, &p256::ecdsa::Signature::from_der(&sig).unwrap()).unwrap();
    for slot in [0x9A, 0x9C, 0x9D, 0x82] {
        assert_eq!(sign(&mut c, 0x11, slot, &digest).1, sw::SECURITY_NOT_SATISFIED);
    }
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    for slot in [0x9A, 0x9D, 0x82, 0x95, 0x9C] {
        let (sig, s) = sign(&mut c, 0x11, slot, &digest);
        assert_eq!(s, sw::OK, "slot {slot:#x}");
        keys[&slot].verify_prehash(&digest, &p256::ecdsa::Signature::from_der(&sig).unwrap()).unwrap();
    }
    // 9C is PIN-always: the verification was used up, 9A still works.
    assert_eq!(sign(&mut c, 0x11, 0x9C, &digest).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(sign(&mut c, 0x11, 0x9A, &digest).1, sw::OK);
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    assert_eq!(sign(&mut c, 0x11, 0x9C, &digest).1, sw::OK);
    // Wrong algorithm, missing key, malformed templates.
    assert_eq!(sign(&mut c, 0x07, 0x9A, &digest).1, sw::INCORRECT_P1P2);
    assert_eq!(sign(&mut c, 0x11, 0x83, &digest).1, sw::REF_DATA_NOT_FOUND);
    assert_eq!(cmd(&mut c, 0x87, 0x11, 0x9A, &[0x7C, 0x02, 0x81, 0x00]).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0x87, 0x11, 0x9A, &[0x7D, 0x00]).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0x87, 0x11, 0x9A, &[0x7C, 0x05, 0x82]).1, sw::WRONG_DATA);
    // Regenerating one slot leaves the others alone.
    let before = c.state().keys.clone();
    assert_eq!(generate(&mut c, 0x9D, 0x11).1, sw::OK);
    let after = &c.state().keys;
    assert_ne!(before["9d"], after["9d"]);
    assert_eq!(before["9a"], after["9a"]);
}

#[test]
fn rsa_generate_and_raw_private_operation() {
    use rsa::traits::PublicKeyParts;
    let mut c = card();
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    let (r, s) = generate(&mut c, 0x9A, 0x07);
    assert_eq!(s, sw::OK);
    let inner = tlv::expect_single(&r, 0x7F49).unwrap().to_vec();
    let n = tlv_get(&inner, 0x81);
    let e = tlv_get(&inner, 0x82);
    assert_eq!(n.len(), 256);
    assert_eq!(e, [1, 0, 1]);
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    // A PKCS#1 v1.5 block the client padded itself.
    let mut block = vec![0x00, 0x01];
    block.extend(std::iter::repeat_n(0xFF, 256 - 3 - 20));
    block.push(0x00);
    block.extend([0xAB; 20]);
    let (sig, s) = sign(&mut c, 0x07, 0x9A, &block);
    assert_eq!(s, sw::OK);
    assert_eq!(sig.len(), 256);
    // Check s^e mod n == block with the public key alone.
    let pubkey = rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&n),
        rsa::BoxedUint::from_be_slice_vartime(&e),
    )
    .unwrap();
    let sv = rsa::BoxedUint::from_be_slice(&sig, pubkey.n_bits_precision()).unwrap();
    let m = rsa::hazmat::rsa_encrypt(&pubkey, &sv).unwrap();
    let m = m.to_be_bytes_trimmed_vartime();
    assert_eq!(&block[1..], &m[..]);
    // Input of the wrong size or not below the modulus.
    assert_eq!(sign(&mut c, 0x07, 0x9A, &block[1..]).1, sw::WRONG_DATA);
    assert_eq!(sign(&mut c, 0x07, 0x9A, &[0xFF; 256]).1, sw::WRONG_DATA);
}

#[test]
fn state_file_keeps_keys_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let mut c = Card::new(Store::new(Some(path.clone())), Duration::ZERO).unwrap();
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    let (r, _) = generate(&mut c, 0x9A, 0x11);
    assert_eq!(verify(&mut c, "999999"), 0x63C2);
    drop(c);
    let mut c = Card::new(Store::new(Some(path)), Duration::ZERO).unwrap();
    assert_eq!(cmd(&mut c, 0x20, 0x00, 0x80, &[]).1, 0x63C2);
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    let point = tlv_get(tlv::expect_single(&r, 0x7F49).unwrap(), 0x86);
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let (sig, s) = sign(&mut c, 0x11, 0x9A, &[1; 32]);
    assert_eq!(s, sw::OK);
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    vk.verify_prehash(&[1; 32], &p256::ecdsa::Signature::from_der(&sig).unwrap()).unwrap();
}

#[test]
fn extended_le_gets_a_whole_certificate_at_once() {
    let mut c = card();
    let der: Vec<u8> = (0..1200u32).map(|i| i as u8).collect();
    let mut obj = tlv::encode(0x70, &der);
    obj.extend_from_slice(&[0x71, 0x01, 0x00, 0xFE, 0x00]);
    select(&mut c);
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    let mut put = hex::decode("5C035FC105").unwrap();
    put.extend_from_slice(&tlv::encode(0x53, &obj));
    let len = (put.len() as u16).to_be_bytes();
    assert_eq!(tx(&mut c, &[[0x00, 0xDB, 0x3F, 0xFF, 0x00, len[0], len[1]].as_slice(), &put].concat()).1, sw::OK);
    // Case 4E, Le 0000: all of it, no 61xx.
    let (data, s) = tx(&mut c, &hex::decode("00CB3FFF 000005 5C035FC105 0000".replace(' ', "")).unwrap());
    assert_eq!(s, sw::OK);
    assert_eq!(data, tlv::encode(0x53, &obj));
    // Short Le still gets 256 bytes and 61xx.
    let (data, s) = tx(&mut c, &hex::decode("00CB3FFF055C035FC10500").unwrap());
    assert_eq!((data.len(), s), (256, sw::MORE_DATA));
    // The ATR announces extended Lc/Le (third software function table byte, bit 7).
    let atr = super::atr();
    assert_eq!(&atr[4..9], &[0x80, 0x73, 0xC0, 0x21, 0xC0]);
    assert_eq!(atr.iter().skip(1).fold(0u8, |x, b| x ^ b), 0, "TCK");
}

#[test]
fn apdu_level_errors() {
    let mut c = card();
    assert_eq!(tx(&mut c, &[]).1, sw::WRONG_LENGTH);
    assert_eq!(tx(&mut c, &[0x00, 0xA4, 0x04]).1, sw::WRONG_LENGTH);
    assert_eq!(tx(&mut c, &[0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0]).1, sw::WRONG_LENGTH);
    // Extended lengths (cases 3E, 4E) are understood; a wrong extended Lc, or Lc = 0, is not.
    assert_eq!(tx(&mut c, &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x05, 0xA0, 0, 0, 3, 8]).1, sw::OK);
    assert_eq!(tx(&mut c, &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x05, 0xA0, 0, 0, 3, 8, 0, 0]).1, sw::OK);
    assert_eq!(tx(&mut c, &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x06, 0xA0, 0, 0, 3, 8]).1, sw::WRONG_LENGTH);
    assert_eq!(tx(&mut c, &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x00, 0xA0]).1, sw::WRONG_LENGTH);
    assert_eq!(tx(&mut c, &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00]).1, sw::WRONG_LENGTH);
    assert_eq!(tx(&mut c, &[0x80, 0xA4, 0x04, 0x00]).1, sw::CLA_NOT_SUPPORTED);
    assert_eq!(tx(&mut c, &[0x0C, 0xA4, 0x04, 0x00]).1, sw::CLA_NOT_SUPPORTED);
    assert_eq!(tx(&mut c, &[0x00, 0x12, 0x00, 0x00]).1, sw::INS_NOT_SUPPORTED);
    assert_eq!(tx(&mut c, &[0x00, 0xFD, 0x00, 0x00]), (VERSION.to_vec(), sw::OK));
    assert_eq!(tx(&mut c, &[0x00, 0xF8, 0x00, 0x00]).0.len(), 4);
    // Chained parts beyond the limit.
    let part = [[0x10u8, 0xDB, 0x3F, 0xFF, 0xFF].as_slice(), &[0u8; 255]].concat();
    let mut last = sw::OK;
    for _ in 0..70 {
        last = tx(&mut c, &part).1;
        if last != sw::OK {
            break;
        }
    }
    assert_eq!(last, sw::NOT_ENOUGH_MEMORY);
}

#[test]
fn random_apdus_never_panic() {
    // xorshift64*: deterministic, no extra dependency.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut c = card();
    let seeds: [&[u8]; 10] = [
        &[0x00, 0xF7, 0x00, 0x9A, 0x00],
        &[0x00, 0xFF, 0xFF, 0xFF, 0x13, 0x08, 0x9B, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8],
        &[0x00, 0xFE, 0x11, 0x9A, 0x05, 0x06, 0x03, 0x01, 0x02, 0x03],
        &[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x09, 0x00],
        &[0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0, 0, 3, 8],
        &[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00],
        &[0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00],
        &[0x00, 0x87, 0x11, 0x9A, 0x06, 0x7C, 0x04, 0x82, 0x00, 0x81, 0x00],
        &[0x00, 0x47, 0x00, 0x9A, 0x05, 0xAC, 0x03, 0x80, 0x01, 0x11],
        &[0x10, 0xDB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05],
    ];
    for i in 0..20000 {
        let r = rnd();
        let mut a: Vec<u8> = if i % 2 == 0 {
            let s = seeds[(r % seeds.len() as u64) as usize].to_vec();
            let mut s = s;
            for _ in 0..(rnd() % 4) {
                let pos = (rnd() as usize) % s.len();
                s[pos] = rnd() as u8;
            }
            if rnd() % 3 == 0 {
                s.truncate((rnd() as usize) % (s.len() + 1));
            }
            s
        } else {
            let len = (rnd() % 300) as usize;
            (0..len).map(|_| rnd() as u8).collect()
        };
        if i % 500 == 0 {
            // Sometimes be authenticated so deeper paths run too (SET MANAGEMENT KEY may have
            // changed the key: go back to the factory one first).
            c.mgmt = default_key();
            let _ = mutual_auth(&mut c, &default_key());
            let _ = verify(&mut c, "123456");
            a.clear();
        }
        let resp = c.process(&a);
        assert!(resp.len() >= 2);
    }
}

/// Power lost inside a PIN check spends the try (the counter goes down before the comparison);
/// the next right PIN restores it. Power lost inside anything else commits nothing: a chained
/// PUT DATA keeps the old object, a PIN change keeps the old PIN (with its try spent).
#[test]
fn power_loss_keeps_only_what_a_card_commits_first() {
    use crate::state::{DEFAULT_PIN, DEFAULT_PUK};
    let mut c = card();
    select(&mut c);
    let apdu = |ins: u8, p2: u8, data: &[u8]| {
        let mut a = vec![0x00, ins, 0x00, p2, data.len() as u8];
        a.extend_from_slice(data);
        a
    };
    assert_eq!(c.power_loss(&apdu(0x20, 0x80, &pin(DEFAULT_PIN))), "a PIN try spent");
    assert_eq!(c.state().pin_retries_left, 2, "right PIN or not, the try is gone");
    assert_eq!(c.power_loss(&[0x00, 0x20, 0x00, 0x80]), "nothing committed", "a status query checks nothing");
    assert_eq!(c.power_loss(&[0x00, 0x20, 0xFF, 0x80]), "nothing committed", "a reset checks nothing");
    let mut change = pin(DEFAULT_PIN);
    change.extend_from_slice(&pin("654321"));
    assert_eq!(c.power_loss(&apdu(0x24, 0x80, &change)), "a PIN try spent");
    assert_eq!((c.state().pin.as_str(), c.state().pin_retries_left), (DEFAULT_PIN, 1), "the old PIN stays");
    assert_eq!(verify(&mut c, DEFAULT_PIN), sw::OK);
    assert_eq!(c.state().pin_retries_left, 3, "the right PIN restores the tries");
    let mut unblock = DEFAULT_PUK.as_bytes().to_vec();
    unblock.extend_from_slice(&pin("654321"));
    assert_eq!(c.power_loss(&[&[0x00, 0x2C, 0x00, 0x80, 16][..], &unblock[..]].concat()), "a PUK try spent");
    assert_eq!(c.state().puk_retries_left, 2);
    // A certificate written in two chained segments: power lost at the first or the last
    // leaves the object as it was.
    let before = c.state().objects.clone();
    let mut put = vec![0x10, 0xDB, 0x3F, 0xFF, 0xFF];
    put.extend_from_slice(&[0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x53, 0x81, 0xF7]);
    put.resize(5 + 255, 0xAA);
    assert_eq!(c.power_loss(&put), "nothing committed");
    assert_eq!(c.state().objects, before);
}
