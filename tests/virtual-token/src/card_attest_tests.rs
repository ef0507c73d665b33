//! In-process tests of YubiKey-style attestation (ATTEST, INS F9, and the F9 certificate in
//! object 5FFF01): the statement's key, chain and extensions, and the refusals.

use super::tests::{card, cmd, default_key, generate, mutual_auth, tlv_get};
use super::*;
use crate::crypto::{ALG_ECCP256, ALG_RSA2048};
use der::{Decode, Encode};
use p256::ecdsa::signature::Verifier;
use x509_cert::Certificate;

fn attest(c: &mut Card, slot: u8) -> (Vec<u8>, u16) {
    cmd(c, 0xF9, slot, 0x00, &[])
}

fn f9_cert(c: &mut Card) -> Vec<u8> {
    let (obj, s) = cmd(c, 0xCB, 0x3F, 0xFF, &tlv::encode(0x5C, &[0x5F, 0xFF, 0x01]));
    assert_eq!(s, sw::OK);
    tlv_get(&tlv_get(&obj, 0x53), 0x70)
}

/// `child` is signed (ECDSA P-256 with SHA-256) by the key of `parent`, and names it as issuer.
fn signed_by(child: &Certificate, parent: &Certificate) -> bool {
    let point = parent.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes();
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap();
    let sig = p256::ecdsa::Signature::from_der(child.signature().raw_bytes()).unwrap();
    let tbs = child.tbs_certificate().to_der().unwrap();
    child.tbs_certificate().issuer() == parent.tbs_certificate().subject() && vk.verify(&tbs, &sig).is_ok()
}

fn extension(cert: &Certificate, oid: &str) -> Vec<u8> {
    let exts = cert.tbs_certificate().extensions().unwrap();
    exts.iter().find(|e| e.extn_id.to_string() == oid).unwrap().extn_value.as_bytes().to_vec()
}

#[test]
fn generated_keys_are_attested_by_f9_under_the_test_root() {
    let mut c = card();
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    let root = Certificate::from_der(&crate::attestation::root_certificate().unwrap()).unwrap();
    let f9 = Certificate::from_der(&f9_cert(&mut c)).unwrap();
    assert!(signed_by(&f9, &root), "F9 certificate issued by the test root");
    for (slot, alg) in [(0x9A, ALG_ECCP256), (0x82, ALG_RSA2048)] {
        let (public, s) = generate(&mut c, slot, alg);
        assert_eq!(s, sw::OK);
        // No PIN needed: a YubiKey attests without one.
        let (der, s) = attest(&mut c, slot);
        assert_eq!(s, sw::OK, "slot {slot:02x}");
        let att = Certificate::from_der(&der).unwrap();
        assert!(signed_by(&att, &f9), "slot {slot:02x} statement signed by F9");
        assert!(!signed_by(&att, &root), "not by the root directly");
        let spki = att.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes().to_vec();
        let template = tlv_get(&public, 0x7F49);
        if alg == ALG_ECCP256 {
            assert_eq!(spki, tlv_get(&template, 0x86), "the generated key");
        } else {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::traits::PublicKeyParts;
            let pk = rsa::PublicKey::from_pkcs1_der(&spki).unwrap();
            assert_eq!(pk.n().to_be_bytes_trimmed_vartime().to_vec(), tlv_get(&template, 0x81));
        }
        assert_eq!(extension(&att, "1.3.6.1.4.1.41482.3.3"), VERSION);
        assert_eq!(extension(&att, "1.3.6.1.4.1.41482.3.7"), der_u32(c.st.serial));
        let policy = if slot == 0x9A { [objects::PIN_POLICY_ONCE, objects::TOUCH_NEVER] } else { [2, 1] };
        assert_eq!(extension(&att, "1.3.6.1.4.1.41482.3.8"), policy);
    }
    // Two statements for one key differ only in serial number, never in the key.
    let a = attest(&mut c, 0x9A).0;
    assert_ne!(a, attest(&mut c, 0x9A).0);
}

fn der_u32(v: u32) -> Vec<u8> {
    der::asn1::Uint::new(&v.to_be_bytes()).unwrap().to_der().unwrap()
}

#[test]
fn imported_empty_and_other_references_are_refused() {
    let mut c = card();
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    let key = AsymKey::generate(ALG_ECCP256).unwrap();
    assert_eq!(cmd(&mut c, 0xFE, ALG_ECCP256, 0x9C, &key.import_template()).1, sw::OK);
    assert_eq!(attest(&mut c, 0x9C).1, sw::WRONG_DATA, "imported key");
    assert_eq!(attest(&mut c, 0x9D).1, sw::REF_DATA_NOT_FOUND, "empty slot");
    for r in [0xF9, 0x9B, 0x80, 0x00] {
        assert_eq!(attest(&mut c, r).1, sw::INCORRECT_P1P2, "reference {r:02x}");
    }
    assert_eq!(generate(&mut c, 0x9D, ALG_ECCP256).1, sw::OK);
    assert_eq!(cmd(&mut c, 0xF9, 0x9D, 0x01, &[]).1, sw::INCORRECT_P1P2, "P2");
    assert_eq!(attest(&mut c, 0x9D).1, sw::OK);
}

#[test]
fn attestation_off_is_an_unknown_instruction() {
    let mut c = card();
    c.st.options.attestation = false;
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    assert_eq!(generate(&mut c, 0x9A, ALG_ECCP256).1, sw::OK);
    assert_eq!(attest(&mut c, 0x9A).1, sw::INS_NOT_SUPPORTED);
}

#[test]
fn f9_key_and_certificate_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let mut c = Card::new(Store::new(Some(path.clone())), Duration::ZERO).unwrap();
    let first = f9_cert(&mut c);
    assert_eq!(mutual_auth(&mut c, &default_key()), sw::OK);
    assert_eq!(generate(&mut c, 0x9A, ALG_ECCP256).1, sw::OK);
    drop(c);
    let mut c = Card::new(Store::new(Some(path)), Duration::ZERO).unwrap();
    assert_eq!(f9_cert(&mut c), first);
    let att = Certificate::from_der(&attest(&mut c, 0x9A).0).unwrap();
    assert!(signed_by(&att, &Certificate::from_der(&first).unwrap()));
    // Another token has another F9 key under the same root.
    let mut other = card();
    assert_ne!(f9_cert(&mut other), first);
}
