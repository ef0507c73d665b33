//! In-process tests of the YubiKey extensions (`card_yubikey.rs`), the PIN access rule on
//! Printed Information and the PIN/PUK commands as the host relies on them (no pcscd).

use super::tests::{cmd, default_key, external_auth, generate, mutual_auth, pin, select, sign, tlv_get, verify};
use super::*;
use crate::crypto::{ALG_3DES, ALG_AES128, ALG_AES192, ALG_AES256, ALG_ECCP256, ALG_RSA2048};
use crate::state::Options;
use p256::ecdsa::signature::hazmat::PrehashVerifier;

fn card_with(options: Options) -> Card {
    let mut c = Card::new(Store::new(None), Duration::ZERO).unwrap();
    c.st.options = options;
    c
}

fn yubikey() -> Card {
    card_with(Options::default())
}

/// `00 FF FF <p2> Lc <alg> 9B <len> <key>`.
fn set_mgmt(c: &mut Card, p2: u8, alg: u8, key: &[u8]) -> u16 {
    let mut data = vec![alg, 0x9B, key.len() as u8];
    data.extend_from_slice(key);
    cmd(c, 0xFF, 0xFF, p2, &data).1
}

fn metadata(c: &mut Card, r: u8) -> (Vec<u8>, u16) {
    cmd(c, 0xF7, 0x00, r, &[])
}

/// Parses a metadata answer into (tag, value) pairs, in order.
fn md_items(b: &[u8]) -> Vec<(u32, Vec<u8>)> {
    tlv::parse_all(b).unwrap().into_iter().map(|t| (t.tag, t.value.to_vec())).collect()
}

fn put(c: &mut Card, tag: &[u8], value: &[u8]) -> u16 {
    let mut d = tlv::encode(0x5C, tag);
    d.extend(tlv::encode(0x53, value));
    cmd(c, 0xDB, 0x3F, 0xFF, &d).1
}

fn get(c: &mut Card, tag: &[u8]) -> (Vec<u8>, u16) {
    cmd(c, 0xCB, 0x3F, 0xFF, &tlv::encode(0x5C, tag))
}

fn two(a: &str, b: &str) -> Vec<u8> {
    let mut v = pin(a);
    v.extend(pin(b));
    v
}

#[test]
fn set_management_key_switches_key_and_algorithm() {
    for (alg, len) in [(ALG_3DES, 24), (ALG_AES128, 16), (ALG_AES192, 24), (ALG_AES256, 32)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut c = Card::new(Store::new(Some(path.clone())), Duration::ZERO).unwrap();
        let new_key: Vec<u8> = (0..len as u8).map(|i| 0x40 ^ i.wrapping_mul(29)).collect();
        // Needs the current management key in this session.
        assert_eq!(set_mgmt(&mut c, 0xFF, alg, &new_key), sw::SECURITY_NOT_SATISFIED, "alg {alg:#x}");
        assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
        // Bad P1/P2, algorithm, reference, length.
        assert_eq!(cmd(&mut c, 0xFF, 0xFE, 0xFF, &[alg, 0x9B, len as u8]).1, sw::INCORRECT_P1P2);
        assert_eq!(cmd(&mut c, 0xFF, 0xFF, 0x00, &[alg, 0x9B, len as u8]).1, sw::INCORRECT_P1P2);
        assert_eq!(set_mgmt(&mut c, 0xFF, 0x11, &new_key), sw::WRONG_DATA);
        assert_eq!(set_mgmt(&mut c, 0xFF, alg, &new_key[1..]), sw::WRONG_DATA);
        let mut bad_ref = vec![alg, 0x9A, len as u8];
        bad_ref.extend_from_slice(&new_key);
        assert_eq!(cmd(&mut c, 0xFF, 0xFF, 0xFF, &bad_ref).1, sw::WRONG_DATA);
        let mut short = vec![alg, 0x9B, len as u8 + 1];
        short.extend_from_slice(&new_key);
        assert_eq!(cmd(&mut c, 0xFF, 0xFF, 0xFF, &short).1, sw::WRONG_DATA);
        assert_eq!(cmd(&mut c, 0xFF, 0xFF, 0xFF, &[]).1, sw::WRONG_DATA);
        // Set; the session stays authenticated (ykman writes its objects right after).
        assert_eq!(set_mgmt(&mut c, 0xFF, alg, &new_key), sw::OK);
        assert!(c.mgmt_authenticated);
        assert_eq!(put(&mut c, &[0x5F, 0xFF, 0x00], &[0x80, 0x03, 0x81, 0x01, 0x02]), sw::OK);
        let (md, s) = metadata(&mut c, 0x9B);
        assert_eq!(s, sw::OK);
        assert_eq!(md_items(&md), vec![(1, vec![alg]), (2, vec![0, 1]), (5, vec![0])]);
        // After a restart (state file): the new key and algorithm work, the old ones do not.
        drop(c);
        let mut c = Card::new(Store::new(Some(path)), Duration::ZERO).unwrap();
        let new = MgmtKey::new(alg, new_key.clone()).unwrap();
        if alg == ALG_3DES {
            assert_eq!(mutual_auth(&mut c, &default_key()), sw::SECURITY_NOT_SATISFIED);
        } else {
            assert_eq!(cmd(&mut c, 0x87, ALG_3DES, 0x9B, &[0x7C, 0x02, 0x80, 0x00]).1, sw::INCORRECT_P1P2);
        }
        assert!(!c.mgmt_authenticated);
        assert_eq!(mutual_auth(&mut c, &new), sw::OK, "mutual with the new key, alg {alg:#x}");
        c.reset();
        assert_eq!(external_auth(&mut c, &new), sw::OK, "external with the new key, alg {alg:#x}");
        // And back to the factory key: metadata says "default" again.
        assert_eq!(set_mgmt(&mut c, 0xFE, ALG_3DES, &crypto::DEFAULT_MGMT_KEY), sw::OK);
        let (md, _) = metadata(&mut c, 0x9B);
        assert_eq!(md_items(&md), vec![(1, vec![ALG_3DES]), (2, vec![0, 2]), (5, vec![1])]);
    }
}

#[test]
fn token_without_aes_refuses_aes_management_keys() {
    let mut c = card_with(Options { aes_management_key: false, ..Options::default() });
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    assert_eq!(set_mgmt(&mut c, 0xFF, ALG_AES192, &[7; 24]), sw::WRONG_DATA);
    assert_eq!(set_mgmt(&mut c, 0xFF, ALG_AES128, &[7; 16]), sw::WRONG_DATA);
    // An AES authentication is an unknown algorithm in P1.
    assert_eq!(cmd(&mut c, 0x87, ALG_AES192, 0x9B, &[0x7C, 0x02, 0x80, 0x00]).1, sw::INCORRECT_P1P2);
    // The SELECT answer no longer lists AES.
    let (apt, _) = cmd(&mut c, 0xA4, 0x04, 0x00, &objects::PIV_AID);
    let algs = tlv_get(tlv::expect_single(&apt, 0x61).unwrap(), 0xAC);
    let listed: Vec<u8> = tlv::parse_all(&algs).unwrap().iter().filter(|t| t.tag == 0x80).map(|t| t.value[0]).collect();
    assert_eq!(listed, [0x03, 0x07, 0x11]);
    // 3DES keys still change.
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    let k: Vec<u8> = (1..=24).collect();
    assert_eq!(set_mgmt(&mut c, 0xFF, ALG_3DES, &k), sw::OK);
    assert_eq!(mutual_auth(&mut c, &MgmtKey::new(ALG_3DES, k).unwrap()), sw::OK);
}

#[test]
fn pin_and_puk_metadata_follow_changes() {
    let mut c = yubikey();
    select(&mut c);
    let md = |c: &mut Card, r| md_items(&metadata(c, r).0);
    assert_eq!(md(&mut c, 0x80), vec![(1, vec![0xFF]), (5, vec![1]), (6, vec![3, 3])]);
    assert_eq!(md(&mut c, 0x81), vec![(1, vec![0xFF]), (5, vec![1]), (6, vec![3, 3])]);
    assert_eq!(verify(&mut c, "000000"), 0x63C2);
    assert_eq!(md(&mut c, 0x80)[2], (6, vec![3, 2]));
    // CHANGE REFERENCE DATA: wrong old PIN counts down, right one resets the counter.
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x80, &two("999999", "24681357")).1, 0x63C1);
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x80, &two("123456", "24681357")).1, sw::OK);
    assert_eq!(md(&mut c, 0x80), vec![(1, vec![0xFF]), (5, vec![0]), (6, vec![3, 3])]);
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x81, &two("12345678", "87654321")).1, sw::OK);
    assert_eq!(md(&mut c, 0x81)[1], (5, vec![0]));
    // Unblock with the PUK sets a new PIN; back to the factory PIN is "default" again.
    assert_eq!(cmd(&mut c, 0x2C, 0x00, 0x80, &two("87654321", "123456")).1, sw::OK);
    assert_eq!(md(&mut c, 0x80)[1], (5, vec![1]));
    assert_eq!(cmd(&mut c, 0x20, 0x00, 0x80, &[]).1, 0x63C3, "RESET RETRY COUNTER does not verify the PIN");
    // P1 other than 00, references that do not exist.
    assert_eq!(cmd(&mut c, 0xF7, 0x01, 0x80, &[]).1, sw::INCORRECT_P1P2);
    assert_eq!(metadata(&mut c, 0x82).1, sw::REF_DATA_NOT_FOUND);
    assert_eq!(metadata(&mut c, 0x9A).1, sw::REF_DATA_NOT_FOUND);
    assert_eq!(metadata(&mut c, 0xF9).1, sw::REF_DATA_NOT_FOUND);
    assert_eq!(metadata(&mut c, 0x00).1, sw::REF_DATA_NOT_FOUND);
}

#[test]
fn pin_and_puk_block_as_the_spec_says() {
    let mut c = yubikey();
    // PIN: 63C2, 63C1, 63C0 on the blocking try, then 6983 for VERIFY and CHANGE.
    for want in [0x63C2, 0x63C1, 0x63C0] {
        assert_eq!(verify(&mut c, "000000"), want);
    }
    assert_eq!(verify(&mut c, "123456"), sw::AUTH_BLOCKED);
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x80, &two("123456", "654321")).1, sw::AUTH_BLOCKED);
    assert_eq!(md_items(&metadata(&mut c, 0x80).0)[2], (6, vec![3, 0]));
    // RESET RETRY COUNTER: P2 80 only, P1 00 only.
    assert_eq!(cmd(&mut c, 0x2C, 0x00, 0x81, &two("12345678", "654321")).1, sw::INCORRECT_P1P2);
    assert_eq!(cmd(&mut c, 0x2C, 0x01, 0x80, &two("12345678", "654321")).1, sw::INCORRECT_P1P2);
    assert_eq!(cmd(&mut c, 0x2C, 0x00, 0x80, &pin("12345678")).1, sw::WRONG_DATA);
    // A malformed new PIN is refused without using up a PUK try.
    let mut bad_new = pin("12345678");
    bad_new.extend([0x31, 0x32, 0xFF, 0x33, 0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(cmd(&mut c, 0x2C, 0x00, 0x80, &bad_new).1, sw::WRONG_DATA);
    assert_eq!(md_items(&metadata(&mut c, 0x81).0)[2], (6, vec![3, 3]));
    // Wrong PUK three times blocks the PUK; then neither unblock nor PUK change works.
    for want in [0x63C2, 0x63C1, 0x63C0] {
        assert_eq!(cmd(&mut c, 0x2C, 0x00, 0x80, &two("00000000", "654321")).1, want);
    }
    assert_eq!(cmd(&mut c, 0x2C, 0x00, 0x80, &two("12345678", "654321")).1, sw::AUTH_BLOCKED);
    assert_eq!(cmd(&mut c, 0x24, 0x00, 0x81, &two("12345678", "11223344")).1, sw::AUTH_BLOCKED);
    assert_eq!(md_items(&metadata(&mut c, 0x81).0)[2], (6, vec![3, 0]));
    assert_eq!(verify(&mut c, "123456"), sw::AUTH_BLOCKED);
}

#[test]
fn printed_information_needs_the_pin_admin_data_does_not() {
    let mut c = yubikey();
    let printed = [0x5F, 0xC1, 0x09];
    let admin = [0x5F, 0xFF, 0x00];
    let protected = [0x88, 0x1A, 0x89, 0x18].iter().copied().chain([0xA5; 24]).collect::<Vec<u8>>();
    // Writes need the management key, as for every object.
    assert_eq!(put(&mut c, &printed, &protected), sw::SECURITY_NOT_SATISFIED);
    assert_eq!(put(&mut c, &admin, &[0x80, 0x03, 0x81, 0x01, 0x02]), sw::SECURITY_NOT_SATISFIED);
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    assert_eq!(put(&mut c, &printed, &protected), sw::SECURITY_NOT_SATISFIED, "the PIN is not enough to write");
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    assert_eq!(put(&mut c, &printed, &protected), sw::OK);
    assert_eq!(put(&mut c, &admin, &[0x80, 0x03, 0x81, 0x01, 0x02]), sw::OK);
    c.reset();
    // Without the PIN: 6982 for 5FC109 (and the other PIN-rule objects), ADMIN DATA reads.
    assert_eq!(get(&mut c, &printed).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(get(&mut c, &[0x5F, 0xC1, 0x03]).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(get(&mut c, &admin), (tlv::encode(0x53, &[0x80, 0x03, 0x81, 0x01, 0x02]), sw::OK));
    assert_eq!(verify(&mut c, "000000"), 0x63C2);
    assert_eq!(get(&mut c, &printed).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    assert_eq!(get(&mut c, &printed), (tlv::encode(0x53, &protected), sw::OK));
    assert_eq!(get(&mut c, &[0x5F, 0xC1, 0x03]).1, sw::NOT_FOUND);
    // VERIFY P1 FF (PIN cleared) closes it again.
    assert_eq!(cmd(&mut c, 0x20, 0xFF, 0x80, &[]).1, sw::OK);
    assert_eq!(get(&mut c, &printed).1, sw::SECURITY_NOT_SATISFIED);
}

#[test]
fn slot_metadata_of_generated_keys_with_policies() {
    let mut c = yubikey();
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    let (r, s) = generate(&mut c, 0x9A, ALG_ECCP256);
    assert_eq!(s, sw::OK);
    let public = tlv::expect_single(&r, 0x7F49).unwrap().to_vec();
    let (md, s) = metadata(&mut c, 0x9A);
    assert_eq!(s, sw::OK);
    assert_eq!(md_items(&md), vec![(1, vec![0x11]), (2, vec![2, 1]), (3, vec![1]), (4, public)]);
    // Default policies per slot: 9C always, 9E never.
    for (slot, pin_policy) in [(0x9C, 3), (0x9E, 1), (0x82, 2)] {
        assert_eq!(generate(&mut c, slot, ALG_ECCP256).1, sw::OK);
        assert_eq!(md_items(&metadata(&mut c, slot).0)[1], (2, vec![pin_policy, 1]), "slot {slot:#x}");
    }
    // Asked-for policies are kept and enforced: 83 never needs the PIN, 84 needs it each time.
    assert_eq!(cmd(&mut c, 0x47, 0x00, 0x83, &[0xAC, 0x09, 0x80, 0x01, 0x11, 0xAA, 0x01, 0x01, 0xAB, 0x01, 0x03]).1, sw::OK);
    assert_eq!(md_items(&metadata(&mut c, 0x83).0)[1], (2, vec![1, 3]));
    assert_eq!(cmd(&mut c, 0x47, 0x00, 0x84, &[0xAC, 0x06, 0x80, 0x01, 0x11, 0xAA, 0x01, 0x03]).1, sw::OK);
    assert_eq!(cmd(&mut c, 0x47, 0x00, 0x85, &[0xAC, 0x06, 0x80, 0x01, 0x11, 0xAA, 0x01, 0x07]).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0x47, 0x00, 0x85, &[0xAC, 0x07, 0x80, 0x01, 0x11, 0xAB, 0x02, 0x01, 0x01]).1, sw::WRONG_DATA);
    assert_eq!(metadata(&mut c, 0x85).1, sw::REF_DATA_NOT_FOUND, "a refused GENERATE leaves the slot empty");
    let digest = [9u8; 32];
    assert_eq!(sign(&mut c, 0x11, 0x83, &digest).1, sw::OK);
    assert_eq!(sign(&mut c, 0x11, 0x84, &digest).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    assert_eq!(sign(&mut c, 0x11, 0x84, &digest).1, sw::OK);
    assert_eq!(sign(&mut c, 0x11, 0x84, &digest).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(sign(&mut c, 0x11, 0x82, &digest).1, sw::OK);
}

#[test]
fn token_without_metadata_does_not_know_the_instruction() {
    let mut c = card_with(Options { metadata: false, ..Options::default() });
    for r in [0x80, 0x81, 0x9B, 0x9A] {
        assert_eq!(metadata(&mut c, r).1, sw::INS_NOT_SUPPORTED);
    }
    // Everything else works as before.
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    assert_eq!(generate(&mut c, 0x9A, ALG_ECCP256).1, sw::OK);
}

#[test]
fn import_p256_key_signs_and_reports_imported() {
    let mut c = yubikey();
    let key = AsymKey::generate(ALG_ECCP256).unwrap();
    let data = key.import_template();
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x9A, &data).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    assert_eq!(cmd(&mut c, 0xFE, 0x14, 0x9A, &data).1, sw::INCORRECT_P1P2, "P-384 is not supported");
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x9B, &data).1, sw::INCORRECT_P1P2);
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x9A, &[0x06, 0x20]).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x9A, &[0x06, 0x01, 0x00]).1, sw::WRONG_DATA, "zero scalar");
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x9A, &[data.clone(), data.clone()].concat()).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x9A, &[data.clone(), vec![0x01, 0x01, 0x01]].concat()).1, sw::WRONG_DATA);
    assert_eq!(metadata(&mut c, 0x9A).1, sw::REF_DATA_NOT_FOUND);
    // yubico-piv-tool sends the PIN policy only when asked for one.
    let with_policy = [data.clone(), vec![0xAA, 0x01, 0x01]].concat();
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x9A, &data).1, sw::OK);
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x83, &with_policy).1, sw::OK);
    let (md, _) = metadata(&mut c, 0x9A);
    let items = md_items(&md);
    assert_eq!(items[..3], [(1, vec![0x11]), (2, vec![2, 1]), (3, vec![2])]);
    assert_eq!(items[3].1, key.public_template_content());
    assert_eq!(md_items(&metadata(&mut c, 0x83).0)[1], (2, vec![1, 1]));
    // The imported key signs.
    let AsymKey::EccP256(sk) = &key else { unreachable!() };
    let digest = [3u8; 32];
    let (sig, s) = sign(&mut c, 0x11, 0x83, &digest);
    assert_eq!(s, sw::OK, "PIN policy never");
    sk.verifying_key().verify_prehash(&digest, &p256::ecdsa::Signature::from_der(&sig).unwrap()).unwrap();
    assert_eq!(sign(&mut c, 0x11, 0x9A, &digest).1, sw::SECURITY_NOT_SATISFIED);
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    let (sig, s) = sign(&mut c, 0x11, 0x9A, &digest);
    assert_eq!(s, sw::OK);
    sk.verifying_key().verify_prehash(&digest, &p256::ecdsa::Signature::from_der(&sig).unwrap()).unwrap();
    // Importing over a key replaces it and makes it "imported".
    assert_eq!(generate(&mut c, 0x9D, ALG_ECCP256).1, sw::OK);
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x9D, &data).1, sw::OK);
    assert_eq!(md_items(&metadata(&mut c, 0x9D).0)[2], (3, vec![2]));
}

#[test]
fn import_rsa_key_chained_like_yubico_piv_tool() {
    use rsa::traits::PublicKeyParts;
    let mut c = yubikey();
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    let key = AsymKey::generate(ALG_RSA2048).unwrap();
    let data = key.import_template();
    assert!(data.len() > 255, "needs command chaining");
    // One component missing.
    let items = tlv::parse_all(&data).unwrap();
    let mut missing = Vec::new();
    for t in items.iter().filter(|t| t.tag != 0x04) {
        tlv::push(&mut missing, t.tag, t.value);
    }
    assert_eq!(cmd(&mut c, 0xFE, ALG_RSA2048, 0x82, &missing).1, sw::WRONG_DATA);
    // An even "prime".
    let mut even = data.clone();
    assert_eq!(&even[..3], [0x01, 0x81, 0x80]);
    even[3 + 127] &= 0xFE;
    assert_eq!(cmd(&mut c, 0xFE, ALG_RSA2048, 0x82, &even).1, sw::WRONG_DATA);
    assert_eq!(cmd(&mut c, 0xFE, ALG_RSA2048, 0x82, &data).1, sw::OK);
    let (md, s) = metadata(&mut c, 0x82);
    assert_eq!(s, sw::OK);
    let items = md_items(&md);
    assert_eq!(items[0], (1, vec![0x07]));
    assert_eq!(items[2], (3, vec![2]));
    let AsymKey::Rsa2048(k) = &key else { unreachable!() };
    assert_eq!(tlv_get(&items[3].1, 0x81), k.n().as_ref().to_be_bytes_trimmed_vartime().to_vec());
    assert_eq!(tlv_get(&items[3].1, 0x82), [1, 0, 1]);
    assert_eq!(verify(&mut c, "123456"), sw::OK);
    let mut block = vec![0x00, 0x01];
    block.extend(std::iter::repeat_n(0xFF, 200));
    block.push(0);
    block.extend([0x5A; 53]);
    let (out, s) = sign(&mut c, 0x07, 0x82, &block);
    assert_eq!(s, sw::OK);
    assert_eq!(out, key.rsa_raw(&block).unwrap(), "the token computes with the imported key");
}
