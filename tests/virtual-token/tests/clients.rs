//! The virtual token against independent PIV clients (OpenSC, yubico-piv-tool, openssl),
//! through the real pcscd + vpcd stack. Each test holds the rig lock for its duration.

use kagi_rig::testca::{pem, unb64, TestCa};
use kagi_rig::tools::{ok, ykpiv};
use kagi_rig::{run_with_timeout, Rig, VToken, DEFAULT_PIN};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PKCS11: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
const T: Duration = Duration::from_secs(60);

fn token() -> VToken {
    VToken::builder()
        .bin(env!("CARGO_BIN_EXE_kagi-vtoken"))
        .any_free_reader()
        .verbose(true)
        .spawn()
        .expect("spawn virtual token")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A certificate for a token-held public key (the PEM yubico-piv-tool wrote), issued by the
/// rig's test CA kept in `dir` (yubico-piv-tool 2.2.0's selfsign-certificate fails with OpenSSL 3,
/// upstream #388).
fn cert_for(dir: &Path, pubkey: &Path, cn: &str) -> PathBuf {
    let ca = TestCa::in_dir(&dir.join("ca"), "kagi test CA").expect("test CA");
    let spki = pem_body(&std::fs::read_to_string(pubkey).expect("read public key"));
    let der = ca.certify(&spki, cn, 2).expect("certify the token's key");
    let cert = dir.join(format!("{cn}.pem"));
    std::fs::write(&cert, pem("CERTIFICATE", &der)).expect("write certificate");
    cert
}

/// The DER inside one PEM block.
fn pem_body(text: &str) -> Vec<u8> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    unb64(&body)
}

/// Generates a key with yubico-piv-tool, issues a certificate for it and imports it.
fn provision(tok: &VToken, dir: &Path, slot: &str, alg: &str) -> (PathBuf, Duration) {
    let pubkey = dir.join(format!("{slot}.pub.pem"));
    let t0 = Instant::now();
    let out = ykpiv(tok.reader(), &["-a", "generate", "-s", slot, "-A", alg, "-o", p(&pubkey)]);
    let gen_time = t0.elapsed();
    out.assert_success("generate");
    let cert = cert_for(dir, &pubkey, &format!("kagi {slot}"));
    ykpiv(tok.reader(), &["-a", "import-certificate", "-s", slot, "-i", p(&cert)]).assert_success("import-certificate");
    (cert, gen_time)
}

fn pubkey_of(dir: &Path, cert: &Path) -> PathBuf {
    let out = ok("openssl", &["x509", "-in", p(cert), "-pubkey", "-noout"]);
    let pk = dir.join("pk-from-cert.pem");
    std::fs::write(&pk, out.stdout).unwrap();
    pk
}

#[test]
fn opensc_identifies_the_piv_card() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let out = ok("opensc-tool", &["-r", tok.reader(), "-n"]);
    assert!(out.stdout.contains("Personal Identity Verification Card"), "{}", out.stdout);
    let out = ok("pkcs15-tool", &["-r", tok.reader(), "-D"]);
    assert!(out.stdout.contains("PIV_II"), "{}", out.stdout);
    assert!(out.stdout.contains("Card Holder Unique Identifier"), "{}", out.stdout);
}

#[test]
fn yubico_piv_tool_prints_status() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let out = ykpiv(tok.reader(), &["-a", "status"]);
    out.assert_success("status");
    for want in ["Version:\t5.4.3", "Serial Number:", "CHUID:\t3019d4e739da", "PIN tries left:\t3"] {
        assert!(out.stdout.contains(want), "missing {want:?} in:\n{}", out.stdout);
    }
}

#[test]
fn ecc_p256_generate_import_and_sign() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let dir = kagi_rig::temp_dir().unwrap();
    let d = dir.path();
    let (cert, gen_time) = provision(&tok, d, "9a", "ECCP256");
    eprintln!("ECC P-256 key generation (yubico-piv-tool, whole command): {gen_time:?}");

    // yubico-piv-tool signs with the token and verifies against the certificate.
    let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN, "-a", "test-signature", "-s", "9a", "-i", p(&cert)]);
    out.assert_success("test-signature");
    assert!(out.stderr.contains("Successful ECDSA verification") || out.stdout.contains("Successful ECDSA verification"), "{out:?}");

    // OpenSC reads the certificate back unchanged.
    let out = ok("pkcs15-tool", &["-r", tok.reader(), "--read-certificate", "01"]);
    let read = d.join("read.pem");
    std::fs::write(&read, &out.stdout).unwrap();
    let fp = |c: &Path| ok("openssl", &["x509", "-in", p(c), "-noout", "-fingerprint", "-sha256"]).stdout;
    assert_eq!(fp(&read), fp(&cert));

    // PKCS#11 (OpenSC) signs a digest; openssl verifies it.
    let data = d.join("data.txt");
    std::fs::write(&data, b"kagi: pay 1000 yen").unwrap();
    let digest = d.join("data.sha256");
    ok("openssl", &["dgst", "-sha256", "-binary", "-out", p(&digest), p(&data)]);
    let sig = d.join("sig.der");
    let t0 = Instant::now();
    ok("pkcs11-tool", &[
        "--module", PKCS11, "--slot-description", tok.reader(), "--login", "--pin", DEFAULT_PIN, "--sign", "--id", "01", "--mechanism", "ECDSA",
        "--signature-format", "openssl", "-i", p(&digest), "-o", p(&sig),
    ]);
    eprintln!("ECDSA sign via pkcs11-tool (whole command): {:?}", t0.elapsed());
    let pk = pubkey_of(d, &cert);
    let v = ok("openssl", &["dgst", "-sha256", "-verify", p(&pk), "-signature", p(&sig), p(&data)]);
    assert!(v.stdout.contains("Verified OK"));
}

#[test]
fn rsa_2048_generate_import_and_sign_pin_always_slot() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let dir = kagi_rig::temp_dir().unwrap();
    let d = dir.path();
    let (cert, gen_time) = provision(&tok, d, "9c", "RSA2048");
    eprintln!("RSA-2048 key generation (yubico-piv-tool, whole command): {gen_time:?}");

    let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN, "-a", "test-signature", "-s", "9c", "-i", p(&cert)]);
    out.assert_success("test-signature");
    assert!(out.stderr.contains("Successful RSA verification") || out.stdout.contains("Successful RSA verification"), "{out:?}");

    // 9C is PIN-always: without a fresh VERIFY the signature is refused (6982).
    let out = ykpiv(tok.reader(), &["-a", "test-signature", "-s", "9c", "-i", p(&cert)]);
    assert!(!out.success(), "signing with 9C without PIN must fail:\n{}", out.stdout);

    let data = d.join("data.txt");
    std::fs::write(&data, b"kagi: transfer").unwrap();
    let sig = d.join("sig.bin");
    let t0 = Instant::now();
    ok("pkcs11-tool", &[
        "--module", PKCS11, "--slot-description", tok.reader(), "--login", "--pin", DEFAULT_PIN, "--sign", "--id", "02", "--mechanism",
        "SHA256-RSA-PKCS", "-i", p(&data), "-o", p(&sig),
    ]);
    eprintln!("RSA sign via pkcs11-tool (whole command): {:?}", t0.elapsed());
    let pk = pubkey_of(d, &cert);
    let v = ok("openssl", &["dgst", "-sha256", "-verify", p(&pk), "-signature", p(&sig), p(&data)]);
    assert!(v.stdout.contains("Verified OK"));
}

#[test]
fn retired_slot_is_listed_through_key_history() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let dir = kagi_rig::temp_dir().unwrap();
    provision(&tok, dir.path(), "82", "ECCP256");
    let out = ok("pkcs15-tool", &["-r", tok.reader(), "-D"]);
    assert!(out.stdout.contains("Retired KEY MAN 1") && out.stdout.contains("X.509 Certificate [Retired Certificate for Key Management 1]"), "{}", out.stdout);
}

#[test]
fn pin_block_unblock_and_change() {
    let _rig = Rig::start().unwrap();
    let mut tok = token();
    let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", "999999"]);
    assert!(!out.success());
    assert!(out.stderr.contains("2 tries left") || out.stdout.contains("2 tries left"), "{out:?}");

    // The counter survives a re-plug (state file).
    tok.pull().unwrap();
    tok.plug().unwrap();
    let st = ykpiv(tok.reader(), &["-a", "status"]);
    assert!(st.stdout.contains("PIN tries left:\t2"), "{}", st.stdout);

    for _ in 0..2 {
        assert!(!ykpiv(tok.reader(), &["-a", "verify-pin", "-P", "999999"]).success());
    }
    let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN]);
    assert!(!out.success(), "blocked PIN must not verify");
    ykpiv(tok.reader(), &["-a", "unblock-pin", "-P", "12345678", "-N", "654321"]).assert_success("unblock-pin");
    ykpiv(tok.reader(), &["-a", "verify-pin", "-P", "654321"]).assert_success("verify new pin");
    ykpiv(tok.reader(), &["-a", "change-pin", "-P", "654321", "-N", DEFAULT_PIN]).assert_success("change-pin");
    ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN]).assert_success("verify default pin");
    ykpiv(tok.reader(), &["-a", "change-puk", "-P", "12345678", "-N", "87654321"]).assert_success("change-puk");
}

#[test]
fn keys_and_certificates_survive_replug() {
    let _rig = Rig::start().unwrap();
    let mut tok = token();
    let dir = kagi_rig::temp_dir().unwrap();
    let (cert, _) = provision(&tok, dir.path(), "9a", "ECCP256");
    tok.pull().unwrap();
    tok.plug().unwrap();
    let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN, "-a", "test-signature", "-s", "9a", "-i", p(&cert)]);
    out.assert_success("test-signature after replug");
}

#[test]
fn opensc_piv_tool_mutual_admin_auth_generates_key() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let dir = kagi_rig::temp_dir().unwrap();
    let keyfile = dir.path().join("mgm.key");
    std::fs::write(&keyfile, "01:02:03:04:05:06:07:08:01:02:03:04:05:06:07:08:01:02:03:04:05:06:07:08\n").unwrap();
    // Mutual authentication with the 3DES management key, then GENERATE in 9E.
    let out = run_with_timeout(
        Command::new("piv-tool")
            .args(["-r", tok.reader(), "-A", "M:9B:03", "-G", "9E:07"])
            .env("PIV_EXT_AUTH_KEY", &keyfile),
        T,
    )
    .unwrap();
    assert!(!out.stderr.contains("admin_mode failed"), "{out:?}\n{}", tok.log());
    assert!(tok.log().contains("< 7f49"), "no key generated:\n{}", tok.log());
    // A wrong key is refused.
    std::fs::write(&keyfile, "11:02:03:04:05:06:07:08:01:02:03:04:05:06:07:08:01:02:03:04:05:06:07:08\n").unwrap();
    let out = run_with_timeout(
        Command::new("piv-tool")
            .args(["-r", tok.reader(), "-A", "M:9B:03"])
            .env("PIV_EXT_AUTH_KEY", &keyfile),
        T,
    )
    .unwrap();
    assert!(out.stderr.contains("admin_mode failed") || !out.success(), "{out:?}");
}

#[test]
fn fail_after_pulls_the_token_mid_operation() {
    let _rig = Rig::start().unwrap();
    let mut tok = VToken::builder()
        .bin(env!("CARGO_BIN_EXE_kagi-vtoken"))
        .any_free_reader()
        .fail_after(3)
        .spawn()
        .unwrap();
    // yubico-piv-tool's status exits 0 even when the card vanishes; it just lacks the data.
    let out = ykpiv(tok.reader(), &["-a", "status"]);
    assert!(!out.stdout.contains("CHUID:\t30"), "{out:?}");
    let st = tok.wait_exit(Duration::from_secs(5)).unwrap().expect("token exits");
    assert_eq!(st.code(), Some(3));
    tok.pull().unwrap(); // waits until the reader reports the card absent
}

#[test]
fn delay_slows_key_generation_and_signing() {
    let _rig = Rig::start().unwrap();
    let tok = VToken::builder().bin(env!("CARGO_BIN_EXE_kagi-vtoken")).any_free_reader().delay_ms(400).spawn().unwrap();
    let dir = kagi_rig::temp_dir().unwrap();
    let (cert, gen_time) = provision(&tok, dir.path(), "9a", "ECCP256");
    assert!(gen_time >= Duration::from_millis(400), "{gen_time:?}");
    let t0 = Instant::now();
    ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN, "-a", "test-signature", "-s", "9a", "-i", p(&cert)])
        .assert_success("test-signature");
    assert!(t0.elapsed() >= Duration::from_millis(400));
}
