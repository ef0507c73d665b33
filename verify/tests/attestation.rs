//! Key attestation as a bank checks it before issuing: statements made by the real host on the
//! virtual token (ATTEST through pcscd + vpcd) checked against kagi-vtoken's test attestation
//! root, and the ways a CSR without a genuine statement must be refused.

use std::time::{Duration, SystemTime};

use base64::Engine;
use kagi_proto::EnrollBeginResult;
use kagi_rig::{Host, Rig, VToken};
use kagi_verify::{AttestationFault, AttestationPolicy, KeyAttestation, VerifyError};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::json;

const ORIGIN: &str = "https://bank.example";
const PIN: &str = "482915";

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    unb64(body.trim())
}

/// A throwaway CA certificate (for the "wrong root" and the software forger).
fn ca(name: &str, pathlen: Option<u8>, issuer: Option<&Issuer<'_, KeyPair>>) -> (Issuer<'static, KeyPair>, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(pathlen.map_or(BasicConstraints::Unconstrained, BasicConstraints::Constrained));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let der = match issuer {
        Some(i) => p.signed_by(&key, i).unwrap().der().to_vec(),
        None => p.self_signed(&key).unwrap().der().to_vec(),
    };
    (Issuer::new(p, key), der)
}

/// A YubiKey-style statement for `key` made by `f9` in software, with `policy` as the
/// 1.3.6.1.4.1.41482.3.8 extension.
fn statement(key: &KeyPair, f9: &Issuer<'_, KeyPair>, policy: Vec<u8>) -> Vec<u8> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "YubiKey PIV Attestation 9a");
    p.distinguished_name = dn;
    p.custom_extensions = vec![
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 41482, 3, 3], vec![5, 7, 1]),
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 41482, 3, 7], vec![0x02, 0x03, 0x01, 0x02, 0x03]),
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 41482, 3, 8], policy),
    ];
    p.signed_by(key, f9).unwrap().der().to_vec()
}

fn software_csr(key: &KeyPair) -> Vec<u8> {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, "Kagi token 00");
    p.serialize_request(key).unwrap().der().to_vec()
}

fn enroll_begin(host: &mut Host, alg: &str) -> EnrollBeginResult {
    let (_, bank_ca) = ca("Kagi Test CA", None, None);
    let issuers = [base64::engine::general_purpose::STANDARD.encode(&bank_ca)];
    host.request(json!({"cmd":"enroll.begin","origin":ORIGIN,"pin":PIN,"algorithm":alg,"issuers":issuers}))
        .into_result()
        .expect("enroll.begin")
}

/// (CSR, statement, F9 certificate) of an `enroll.begin` reply.
fn parts(b: &EnrollBeginResult) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let att = b.attestation.as_deref().expect("the virtual token attests");
    let f9 = b.attestation_intermediate.as_deref().expect("with its F9 certificate");
    (unb64(&b.csr), unb64(att), unb64(f9))
}

fn code<T>(r: Result<T, VerifyError>) -> &'static str {
    r.map_or_else(|e| e.code(), |_| "OK")
}

fn fault<T: std::fmt::Debug>(r: Result<T, VerifyError>) -> AttestationFault {
    match r {
        Err(VerifyError::AttestationInvalid(f)) => f,
        other => panic!("expected ATTESTATION_INVALID, got {other:?}"),
    }
}

#[test]
fn token_generated_keys_are_accepted_and_everything_else_refused() {
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).pin(PIN).spawn().unwrap();
    let mut host = Host::spawn().unwrap();
    let root = pem_to_der(&kagi_rig::attestation_root_pem().unwrap());
    let policy = AttestationPolicy::new([root.clone()]).unwrap();
    let now = SystemTime::now();

    // A key generated on the token: accepted, with what the token says about it.
    let p256 = enroll_begin(&mut host, "P-256");
    let (csr, att, f9) = parts(&p256);
    let ok = |c: &[u8], a: &[u8], i: &[u8]| policy.check(c, Some(KeyAttestation { certificate: a, intermediate: i }), now);
    let facts = ok(&csr, &att, &f9).expect("token-generated P-256 key");
    assert_eq!(facts.slot, u8::from_str_radix(&p256.slot, 16).ok());
    assert_eq!(facts.firmware, Some([5, 4, 3]));
    assert_eq!((facts.pin_policy, facts.touch_policy), (Some(2), Some(1)), "retired slot: PIN once, no touch");
    assert!(facts.serial.is_some_and(|s| s > 0));
    let rsa = enroll_begin(&mut host, "RSA-2048");
    let (rsa_csr, rsa_att, rsa_f9) = parts(&rsa);
    assert_eq!(rsa_f9, f9, "one F9 key per token");
    ok(&rsa_csr, &rsa_att, &rsa_f9).expect("token-generated RSA-2048 key");

    // No statement: a key made in software, or a token that cannot attest.
    let soft = KeyPair::generate().unwrap();
    let soft_csr = software_csr(&soft);
    assert_eq!(code(policy.check(&soft_csr, None, now)), "ATTESTATION_REQUIRED");
    assert_eq!(code(policy.check(&csr, None, now)), "ATTESTATION_REQUIRED");

    // A genuine statement, but for another key.
    assert_eq!(fault(ok(&soft_csr, &att, &f9)), AttestationFault::KeyMismatch, "software CSR with the token's statement");
    assert_eq!(fault(ok(&csr, &rsa_att, &f9)), AttestationFault::KeyMismatch, "statement of the token's other key");

    // Statements that do not chain to the configured root.
    let (other_root, other_root_der) = ca("Other attestation root", None, None);
    let other = AttestationPolicy::new([other_root_der]).unwrap();
    let wrong_root = other.check(&csr, Some(KeyAttestation { certificate: &att, intermediate: &f9 }), now);
    assert!(matches!(fault(wrong_root), AttestationFault::Chain(_)), "wrong root");
    let (fake_f9, fake_f9_der) = ca("Yubico PIV Attestation", Some(0), Some(&other_root));
    let forged = statement(&soft, &fake_f9, vec![2, 1]);
    assert!(matches!(fault(ok(&soft_csr, &forged, &fake_f9_der)), AttestationFault::Chain(_)), "forged in software");
    assert!(matches!(fault(ok(&csr, &att, &root)), AttestationFault::Chain(_)), "root in place of the F9 certificate");
    let mut tampered = att.clone();
    let n = tampered.len();
    tampered[n - 3] ^= 0x01;
    let tampered = ok(&csr, &tampered, &f9);
    assert!(matches!(fault(tampered), AttestationFault::Chain(_) | AttestationFault::Malformed(_)), "signature broken");
    let late = policy.check(&csr, Some(KeyAttestation { certificate: &att, intermediate: &f9 }), now + Duration::from_secs(80 * 365 * 86_400));
    assert!(matches!(fault(late), AttestationFault::Chain(m) if m.contains("Expired")), "after the chain's validity");
    assert!(matches!(fault(ok(&csr, b"junk", &f9)), AttestationFault::Malformed(_)));
    assert!(matches!(fault(ok(b"junk", &att, &f9)), AttestationFault::Csr(_)));
}

#[test]
fn yubico_extensions_are_checked_for_their_form() {
    let (root, root_der) = ca("Vendor attestation root", None, None);
    let (f9, f9_der) = ca("Vendor PIV Attestation", Some(0), Some(&root));
    let key = KeyPair::generate().unwrap();
    let csr = software_csr(&key);
    let policy = AttestationPolicy::new([root_der]).unwrap();
    let now = SystemTime::now();
    let good = statement(&key, &f9, vec![3, 2]);
    let facts = policy.check(&csr, Some(KeyAttestation { certificate: &good, intermediate: &f9_der }), now).unwrap();
    assert_eq!(facts.slot, Some(0x9A));
    assert_eq!(facts.serial, Some(0x010203));
    assert_eq!(facts.firmware, Some([5, 7, 1]));
    assert_eq!((facts.pin_policy, facts.touch_policy), (Some(3), Some(2)));
    for bad in [vec![9, 1], vec![2], vec![2, 1, 0]] {
        let s = statement(&key, &f9, bad.clone());
        let r = policy.check(&csr, Some(KeyAttestation { certificate: &s, intermediate: &f9_der }), now);
        assert_eq!(fault(r), AttestationFault::Extension("PIN and touch policy"), "{bad:?}");
    }
    assert_eq!(AttestationPolicy::new(Vec::<Vec<u8>>::new()).unwrap_err().code(), "BAD_TRUST_ANCHOR");
    assert_eq!(AttestationPolicy::new([b"junk".to_vec()]).unwrap_err().code(), "BAD_TRUST_ANCHOR");
}

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yubikey-5.4.3").join(name);
    pem_to_der(&std::fs::read_to_string(path).unwrap())
}

/// What a real YubiKey 5 (5.4.3) answered to ATTEST for slot 9C and its F9 certificate, under
/// Yubico's PIV attestation root: the chain Kagi's host relays from a real token validates, and
/// the facts read are the token's (fixtures/yubikey-5.4.3/README.md).
#[test]
fn test_yk5_attestation_chains_to_yubicos_root() {
    let (att, f9, root) = (fixture("attest-9c.pem"), fixture("f9.pem"), fixture("yubico-piv-root-ca.pem"));
    let yubico = AttestationPolicy::new([root]).unwrap();
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000); // 2026-05-28
    let facts = yubico.verify_statement(KeyAttestation { certificate: &att, intermediate: &f9 }, at).expect("genuine YubiKey chain");
    assert_eq!(facts.slot, Some(0x9C));
    assert_eq!(facts.firmware, Some([5, 4, 3]));
    assert_eq!(facts.serial, Some(25_515_137));
    assert_eq!((facts.pin_policy, facts.touch_policy), (Some(3), Some(1)));
    // The test root does not vouch for a real YubiKey, nor Yubico's for the virtual token.
    let test_root = AttestationPolicy::new([pem_to_der(&kagi_rig::attestation_root_pem().unwrap())]).unwrap();
    let r = test_root.verify_statement(KeyAttestation { certificate: &att, intermediate: &f9 }, at);
    assert!(matches!(fault(r), AttestationFault::Chain(_)));
    // A CSR for another key is refused even with the genuine statement.
    let other = software_csr(&KeyPair::generate().unwrap());
    let r = yubico.check(&other, Some(KeyAttestation { certificate: &att, intermediate: &f9 }), at);
    assert_eq!(fault(r), AttestationFault::KeyMismatch);
}
