//! Key attestation on the real stack: `enroll.begin` on the virtual token through pcscd + vpcd
//! returns the token's statement for the new key and its F9 certificate, checked with openssl
//! (chain to kagi-vtoken's test attestation root, the CSR's public key) and against what
//! yubico-piv-tool reads from the token itself; a token that cannot attest gives neither, and
//! the acquisition still completes.

mod common;

use std::path::Path;

use common::*;
use kagi_proto::EnrollBeginResult;
use kagi_rig::tools::{ok, ykpiv};
use kagi_rig::{Host, VToken};
use serde_json::Value;

fn write_pem(path: &Path, der: &[u8]) {
    let b = b64(der);
    let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    std::fs::write(path, format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))).unwrap();
}

fn pem_body(text: &str) -> Vec<u8> {
    let body: String = text.lines().skip_while(|l| !l.starts_with("-----BEGIN")).skip(1).take_while(|l| !l.starts_with("-----END")).collect();
    unb64(body.trim())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn enroll_begin_returns_the_tokens_attestation_and_openssl_checks_it() {
    let (_rig, token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    let dir = kagi_rig::temp_dir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, kagi_rig::attestation_root_pem().unwrap()).unwrap();

    for alg in ["P-256", "RSA-2048"] {
        let begin: EnrollBeginResult = enroll_begin(&mut host, &ca, alg).into_result().expect("enroll.begin");
        let att = unb64(begin.attestation.as_deref().expect("attestation"));
        let f9 = unb64(begin.attestation_intermediate.as_deref().expect("attestationIntermediate"));
        let (att_pem, f9_pem, csr_der) = (dir.path().join("att.pem"), dir.path().join("f9.pem"), dir.path().join("csr.der"));
        write_pem(&att_pem, &att);
        write_pem(&f9_pem, &f9);
        std::fs::write(&csr_der, unb64(&begin.csr)).unwrap();

        // openssl: the statement chains through the F9 certificate to the test root...
        let v = ok("openssl", &["verify", "-CAfile", s(&root), "-untrusted", s(&f9_pem), s(&att_pem)]);
        assert!(v.stdout.contains(": OK"), "{v:?}");
        // ...and not without the F9 certificate, nor to another root.
        let alone = kagi_rig::run_with_timeout(
            std::process::Command::new("openssl").args(["verify", "-CAfile", s(&root), s(&att_pem)]),
            std::time::Duration::from_secs(30),
        )
        .unwrap();
        assert!(!alone.success(), "{alone:?}");
        // ...for exactly the CSR's public key.
        let att_key = ok("openssl", &["x509", "-in", s(&att_pem), "-noout", "-pubkey"]).stdout;
        let csr_key = ok("openssl", &["req", "-inform", "DER", "-in", s(&csr_der), "-noout", "-pubkey"]).stdout;
        assert_eq!(att_key, csr_key, "{alg}: attested key is the CSR's key");
        let text = ok("openssl", &["x509", "-in", s(&att_pem), "-noout", "-text"]).stdout;
        assert!(text.contains(&format!("PIV Attestation {}", begin.slot)), "{text}");
        assert!(text.contains("1.3.6.1.4.1.41482.3.8"), "Yubico's policy extension: {text}");

        // yubico-piv-tool, an independent client, reads the same F9 certificate and gets a
        // statement for the same key from the token.
        let read = ykpiv(token.reader(), &["-a", "read-certificate", "-s", "f9"]);
        read.assert_success("yubico-piv-tool read-certificate f9");
        assert_eq!(pem_body(&read.stdout), f9);
        let own = ykpiv(token.reader(), &["-a", "attest", "-s", &begin.slot]);
        own.assert_success("yubico-piv-tool attest");
        let own_pem = dir.path().join("own.pem");
        write_pem(&own_pem, &pem_body(&own.stdout));
        assert_eq!(ok("openssl", &["x509", "-in", s(&own_pem), "-noout", "-pubkey"]).stdout, csr_key);
        ok("openssl", &["verify", "-CAfile", s(&root), "-untrusted", s(&f9_pem), s(&own_pem)]);
    }
}

#[test]
fn a_token_without_attestation_gives_none_and_the_acquisition_completes() {
    let (_rig, _token) = {
        let rig = kagi_rig::Rig::start().expect("rig");
        let token = VToken::builder().reader(0).pin(PIN).attestation(false).spawn().expect("token");
        (rig, token)
    };
    let mut host = Host::spawn().expect("host");
    let ca = TestCa::new("Kagi Test CA");
    let reply = enroll_begin(&mut host, &ca, "P-256");
    let raw: Value = serde_json::to_value(&reply).unwrap();
    let result = raw["result"].as_object().expect("a result");
    assert!(!result.contains_key("attestation") && !result.contains_key("attestationIntermediate"), "{raw}");
    let begin: EnrollBeginResult = reply.into_result().unwrap();
    let cert = ca.issue(&begin.csr, 1, 0, 365);
    let finish: kagi_proto::EnrollFinishResult = enroll_finish(&mut host, &cert).into_result().expect("enroll.finish");
    assert_eq!(finish.certificate.sha256, sha256_hex(&cert));
}
