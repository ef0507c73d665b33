//! The virtual token where Kagi's host relies on it behaving like a YubiKey 5, checked through
//! pcscd + vpcd with independent clients: yubico-piv-tool 2.2 loading "foreign" content (keys
//! and certificates the host did not write), the PIN rule on Printed Information, a
//! non-factory management key, GET METADATA and SET MANAGEMENT KEY with AES (OpenSC piv-tool),
//! the token options, the rig's content builder, and two tokens in two readers.

use kagi_rig::testca::TestCa;
use kagi_rig::tools::{der_of_pem_cert, ok, foreign_key_and_cert, pcsc_connect, said, ykpiv};
use kagi_rig::{run_with_timeout, ManagementKey, Rig, SlotKey, VToken, VTokenBuilder, DEFAULT_PIN};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn builder() -> VTokenBuilder {
    VToken::builder().bin(env!("CARGO_BIN_EXE_kagi-vtoken")).any_free_reader().verbose(true)
}

fn token() -> VToken {
    builder().spawn().expect("spawn virtual token")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The uncompressed point of a P-256 key file (last 65 bytes of its SubjectPublicKeyInfo).
fn ec_point(key: &Path) -> Vec<u8> {
    let der = key.with_extension("pub.der");
    ok("openssl", &["ec", "-in", p(key), "-pubout", "-outform", "DER", "-out", p(&der)]);
    let spki = std::fs::read(der).unwrap();
    spki[spki.len() - 65..].to_vec()
}

// ---- Raw APDUs through PC/SC (for what no installed tool sends).

/// Sends one short APDU; returns (data, SW). Collects 61xx with GET RESPONSE.
fn tx(card: &pcsc::Card, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut buf = [0u8; 300];
    let r = card.transmit(apdu, &mut buf).expect("transmit").to_vec();
    let (mut data, mut sw) = (r[..r.len() - 2].to_vec(), u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]]));
    while sw >> 8 == 0x61 {
        let r = card.transmit(&[0x00, 0xC0, 0x00, 0x00, sw as u8], &mut buf).expect("transmit").to_vec();
        data.extend_from_slice(&r[..r.len() - 2]);
        sw = u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]]);
    }
    (data, sw)
}

const SELECT: [u8; 10] = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08];

fn metadata(card: &pcsc::Card, r: u8) -> (Vec<u8>, u16) {
    tx(card, &[0x00, 0xF7, 0x00, r, 0x00])
}

/// The value of a one-byte-tag TLV in a flat list (metadata answers).
fn md(b: &[u8], tag: u8) -> Vec<u8> {
    let mut i = 0;
    while i + 1 < b.len() {
        let (t, mut l, mut j) = (b[i], usize::from(b[i + 1]), i + 2);
        if l == 0x81 {
            l = usize::from(b[j]);
            j += 1;
        } else if l == 0x82 {
            l = usize::from(b[j]) << 8 | usize::from(b[j + 1]);
            j += 2;
        }
        if t == tag {
            return b[j..j + l].to_vec();
        }
        i = j + l;
    }
    panic!("no tag {tag:02x} in {}", hex::encode(b));
}

/// Management key mutual authentication with 3DES or AES (SP 800-73-4 Part 2 Appendix A.1),
/// computed here with RustCrypto.
fn mutual_auth(card: &pcsc::Card, key: &ManagementKey) -> u16 {
    use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
    fn run<C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt>(k: &[u8], b: &[u8], enc: bool) -> Vec<u8> {
        let c = C::new_from_slice(k).unwrap();
        let mut a = Array::try_from(b).unwrap();
        if enc {
            c.encrypt_block(&mut a)
        } else {
            c.decrypt_block(&mut a)
        }
        a.to_vec()
    }
    let ciph = |b: &[u8], enc: bool| match key.alg {
        0x03 => run::<des::TdesEde3>(&key.key, b, enc),
        0x08 => run::<aes::Aes128>(&key.key, b, enc),
        0x0A => run::<aes::Aes192>(&key.key, b, enc),
        _ => run::<aes::Aes256>(&key.key, b, enc),
    };
    let bl = if key.alg == 0x03 { 8 } else { 16 };
    let (r, sw) = tx(card, &[0x00, 0x87, key.alg, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00]);
    if sw != 0x9000 {
        return sw;
    }
    let witness = ciph(&r[4..4 + bl], false);
    let challenge = vec![0x3C; bl];
    let mut a = vec![0x00, 0x87, key.alg, 0x9B, (4 + 2 * bl + 2) as u8, 0x7C, (4 + 2 * bl) as u8, 0x80, bl as u8];
    a.extend(&witness);
    a.extend([0x81, bl as u8]);
    a.extend(&challenge);
    let (r, sw) = tx(card, &a);
    if sw == 0x9000 {
        assert_eq!(ciph(&r[4..4 + bl], false), challenge, "the token proves the key");
    }
    sw
}

/// SET MANAGEMENT KEY (YubiKey INS FF).
fn set_mgmt(card: &pcsc::Card, key: &ManagementKey) -> u16 {
    let mut a = vec![0x00, 0xFF, 0xFF, 0xFF, (3 + key.key.len()) as u8, key.alg, 0x9B, key.key.len() as u8];
    a.extend(&key.key);
    tx(card, &a).1
}

#[test]
fn foreign_content_loaded_by_yubico_piv_tool_keeps_signing() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let dir = kagi_rig::temp_dir().unwrap();
    let d = dir.path();
    let (k9a, c9a) = foreign_key_and_cert(d, "9a", true);
    let (k82, c82) = foreign_key_and_cert(d, "82", false);
    let k83 = d.join("83.key.pem");
    ok("openssl", &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p(&k83)]);
    // yubico-piv-tool 2.2 takes one -i per run: key and certificate in separate runs.
    for (slot, key, cert) in [("9a", &k9a, Some(&c9a)), ("82", &k82, Some(&c82)), ("83", &k83, None)] {
        ykpiv(tok.reader(), &["-a", "import-key", "-s", slot, "-i", p(key)]).assert_success("import-key");
        if let Some(c) = cert {
            ykpiv(tok.reader(), &["-a", "import-certificate", "-s", slot, "-i", p(c)]).assert_success("import-certificate");
        }
    }
    // Key History: one retired key with its certificate on the card (82), one off card (83).
    let kh = "c10101c20101f31b68747470733a2f2f6f746865722e6578616d706c652f6365727473fe00";
    let kh_file = d.join("kh.hex");
    std::fs::write(&kh_file, kh).unwrap();
    ykpiv(tok.reader(), &["-a", "write-object", "--id", "0x5FC10C", "-i", p(&kh_file)]).assert_success("write-object");
    let out = ykpiv(tok.reader(), &["-a", "read-object", "--id", "0x5FC10C"]);
    out.assert_success("read-object");
    assert_eq!(out.stdout.trim(), kh);
    let kh_bytes = hex::decode(kh).unwrap();
    let (mut i, mut tags) = (0, Vec::new());
    while i + 1 < kh_bytes.len() {
        tags.push(kh_bytes[i]);
        i += 2 + usize::from(kh_bytes[i + 1]);
    }
    assert_eq!((i, tags), (kh_bytes.len(), vec![0xC1, 0xC2, 0xF3, 0xFE]), "the test's Key History is well-formed");

    // The imported keys sign: yubico-piv-tool verifies against the certificates.
    for (slot, cert) in [("9a", &c9a), ("82", &c82)] {
        let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN, "-a", "test-signature", "-s", slot, "-i", p(cert)]);
        out.assert_success(&format!("test-signature {slot}"));
        assert!(said(&out).contains("Successful ECDSA verification"), "{out:?}");
    }
    // The state holds exactly what was written, as imported keys.
    let c = tok.contents().unwrap();
    assert_eq!(c.certificate(0x9A).unwrap(), der_of_pem_cert(&c9a));
    assert_eq!(c.certificate(0x82).unwrap(), der_of_pem_cert(&c82));
    assert!(c.certificate(0x83).is_none());
    assert_eq!(c.object(0x5FC10C).unwrap(), hex::decode(kh).unwrap());
    for slot in [0x9A, 0x82, 0x83] {
        assert_eq!(c.keys[&slot].origin, 2, "slot {slot:#x} imported");
    }
    assert_eq!(c.keys.len(), 3);
    // GET METADATA tells the host what is in 83 although it has no certificate.
    let card = pcsc_connect(tok.reader());
    assert_eq!(tx(&card, &SELECT).1, 0x9000);
    let (m, sw) = metadata(&card, 0x83);
    assert_eq!(sw, 0x9000);
    assert_eq!(md(&m, 0x01), [0x11]);
    assert_eq!(md(&m, 0x02), [0x02, 0x01]);
    assert_eq!(md(&m, 0x03), [0x02]);
    assert_eq!(md(&md(&m, 0x04), 0x86), ec_point(&k83));
    assert_eq!(metadata(&card, 0x84).1, 0x6A88);
    drop(card);
    // OpenSC sees the retired key and certificate the Key History announces.
    let out = ok("pkcs15-tool", &["-r", tok.reader(), "-D"]);
    assert!(out.stdout.contains("Retired X.509 Certificate for Key Management 1"), "{}", out.stdout);
}

#[test]
fn printed_information_needs_the_pin_with_yubico_piv_tool() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let dir = kagi_rig::temp_dir().unwrap();
    // ykman's PIN-protected management key layout: 88 { 89 <key> }.
    let protected = format!("881a8918{}", "5a".repeat(24));
    let f = dir.path().join("printed.hex");
    std::fs::write(&f, &protected).unwrap();
    ykpiv(tok.reader(), &["-a", "write-object", "--id", "0x5FC109", "-i", p(&f)]).assert_success("write printed information");
    let out = ykpiv(tok.reader(), &["-a", "read-object", "--id", "0x5FC109"]);
    assert!(!out.success(), "read without the PIN must fail: {out:?}");
    assert!(tok.log().contains("< 6982"), "{}", tok.log());
    let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN, "-a", "read-object", "--id", "0x5FC109"]);
    out.assert_success("verify-pin + read-object");
    assert_eq!(out.stdout.trim(), protected);
    // A wrong PIN does not open it either.
    let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", "999999", "-a", "read-object", "--id", "0x5FC109"]);
    assert!(!out.success());
    // ADMIN DATA (80 { 81 flags=02: management key PIN-protected }) reads without the PIN.
    std::fs::write(&f, "8003810102").unwrap();
    ykpiv(tok.reader(), &["-a", "write-object", "--id", "0x5FFF00", "-i", p(&f)]).assert_success("write admin data");
    let out = ykpiv(tok.reader(), &["-a", "read-object", "--id", "0x5FFF00"]);
    out.assert_success("read admin data");
    assert_eq!(out.stdout.trim(), "8003810102");
}

#[test]
fn non_factory_management_key_with_yubico_piv_tool() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let dir = kagi_rig::temp_dir().unwrap();
    let f = dir.path().join("obj.hex");
    std::fs::write(&f, "8003810102").unwrap();
    let new = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778";
    ykpiv(tok.reader(), &["-a", "set-mgm-key", "-n", new]).assert_success("set-mgm-key");
    assert!(tok.log().contains("> 00ffffff1b039b18"), "SET MANAGEMENT KEY as YubiKey INS FF:\n{}", tok.log());
    // The factory key no longer writes; the new one does (yubico-piv-tool's -k takes its value
    // attached: `-k<hex>` or `--key=<hex>`; `-k <hex>` would prompt for it).
    let out = ykpiv(tok.reader(), &["-a", "write-object", "--id", "0x5FFF00", "-i", p(&f)]);
    assert!(!out.success() && said(&out).contains("Failed authentication"), "{out:?}");
    ykpiv(tok.reader(), &[&format!("--key={new}"), "-a", "write-object", "--id", "0x5FFF00", "-i", p(&f)]).assert_success("--key=");
    ykpiv(tok.reader(), &[&format!("-k{new}"), "-a", "write-object", "--id", "0x5FFF01", "-i", p(&f)]).assert_success("-k");
    // GET METADATA: 3DES, no longer the factory key; survives a re-plug.
    let c = tok.contents().unwrap();
    assert_eq!(c.management_key, ManagementKey::new(0x03, &hex::decode(new).unwrap()));
    let card = pcsc_connect(tok.reader());
    tx(&card, &SELECT);
    let (m, sw) = metadata(&card, 0x9B);
    assert_eq!(sw, 0x9000);
    assert_eq!((md(&m, 0x01), md(&m, 0x05)), (vec![0x03], vec![0x00]));
}

#[test]
fn aes_management_key_set_by_apdu_and_used_by_opensc() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let dir = kagi_rig::temp_dir().unwrap();
    let card = pcsc_connect(tok.reader());
    assert_eq!(tx(&card, &SELECT).1, 0x9000);
    let aes = ManagementKey::random(0x0A);
    assert_eq!(set_mgmt(&card, &aes), 0x6982, "needs the management key");
    assert_eq!(mutual_auth(&card, &ManagementKey::factory()), 0x9000);
    assert_eq!(set_mgmt(&card, &aes), 0x9000);
    let (m, _) = metadata(&card, 0x9B);
    assert_eq!((md(&m, 0x01), md(&m, 0x05)), (vec![0x0A], vec![0x00]));
    card.disconnect(pcsc::Disposition::ResetCard).map_err(|(_, e)| e).unwrap();
    // OpenSC's piv-tool authenticates with the AES-192 key and generates; 3DES is refused.
    let keyfile = dir.path().join("mgm.key");
    let colon = |k: &[u8]| k.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    std::fs::write(&keyfile, colon(&aes.key) + "\n").unwrap();
    let out = run_with_timeout(
        Command::new("piv-tool").args(["-r", tok.reader(), "-A", "M:9B:0A", "-G", "9E:11"]).env("PIV_EXT_AUTH_KEY", &keyfile),
        T,
    )
    .unwrap();
    assert!(!said(&out).contains("admin_mode failed"), "{out:?}\n{}", tok.log());
    assert!(tok.log().contains("< 7f49"), "no key generated:\n{}", tok.log());
    std::fs::write(&keyfile, colon(&kagi_rig::FACTORY_MGMT_KEY) + "\n").unwrap();
    let out = run_with_timeout(
        Command::new("piv-tool").args(["-r", tok.reader(), "-A", "M:9B:03", "-G", "9D:11"]).env("PIV_EXT_AUTH_KEY", &keyfile),
        T,
    )
    .unwrap();
    assert!(said(&out).contains("admin_mode failed") || !out.success(), "{out:?}");
    assert!(!tok.contents().unwrap().has_key(0x9D));
}

#[test]
fn older_token_options_no_aes_and_no_metadata() {
    let _rig = Rig::start().unwrap();
    let tok = builder().aes_management_key(false).metadata(false).spawn().unwrap();
    let card = pcsc_connect(tok.reader());
    assert_eq!(tx(&card, &SELECT).1, 0x9000);
    for r in [0x80, 0x81, 0x9B, 0x9A] {
        assert_eq!(metadata(&card, r).1, 0x6D00, "GET METADATA {r:02x}");
    }
    assert_eq!(mutual_auth(&card, &ManagementKey::factory()), 0x9000);
    assert_eq!(set_mgmt(&card, &ManagementKey::random(0x0A)), 0x6A80, "AES refused like a YubiKey before 5.4");
    assert_eq!(set_mgmt(&card, &ManagementKey::random(0x08)), 0x6A80);
    let tdes = ManagementKey::random(0x03);
    assert_eq!(set_mgmt(&card, &tdes), 0x9000, "3DES is accepted");
    drop(card);
    // yubico-piv-tool works with such a token as with any PIV card.
    let out = ykpiv(tok.reader(), &["-a", "status"]);
    out.assert_success("status");
    assert!(out.stdout.contains("PIN tries left:\t3"), "{}", out.stdout);
    let dir = kagi_rig::temp_dir().unwrap();
    let f = dir.path().join("o.hex");
    std::fs::write(&f, "01").unwrap();
    ykpiv(tok.reader(), &[&format!("--key={}", tdes.hex()), "-a", "write-object", "--id", "0x5FFF00", "-i", p(&f)])
        .assert_success("write with the 3DES key");
}

#[test]
fn rig_builder_preloads_foreign_content_that_independent_tools_use() {
    let _rig = Rig::start().unwrap();
    let other_ca = TestCa::new("Other Company CA");
    let k9a = SlotKey::p256();
    let k82 = SlotKey::rsa2048();
    let k83 = SlotKey::p256();
    let c9a = k9a.certificate(&other_ca, "foreign 9a", 365);
    let c82 = k82.self_signed("foreign 82", 365);
    let mgmt = ManagementKey::random(0x03);
    let tok = builder()
        .pin("24681357")
        .puk("11223344")
        .management_key(mgmt.clone())
        .key_with_certificate(0x9A, &k9a, &c9a)
        .key_with_certificate(0x82, &k82, &c82)
        .key(0x83, &k83)
        .key_history(1, 1, Some("https://other.example/certs"))
        .spawn()
        .unwrap();
    let before = tok.contents().unwrap();
    assert_eq!(before.certificate(0x9A).unwrap(), c9a);
    assert_eq!(before.certificate(0x82).unwrap(), c82);
    assert!(before.has_key(0x83) && before.certificate(0x83).is_none());
    let dir = kagi_rig::temp_dir().unwrap();
    let d = dir.path();
    // yubico-piv-tool signs with the preloaded keys and verifies with their certificates.
    for (slot, der, what) in [("9a", &c9a, "ECDSA"), ("82", &c82, "RSA")] {
        let f = d.join(format!("{slot}.der"));
        std::fs::write(&f, der).unwrap();
        let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", "24681357", "-a", "test-signature", "-s", slot, "-K", "DER", "-i", p(&f)]);
        out.assert_success(&format!("test-signature {slot}"));
        assert!(said(&out).contains(&format!("Successful {what} verification")), "{out:?}");
    }
    assert!(!ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN]).success(), "the factory PIN is not this token's");
    ykpiv(tok.reader(), &["-a", "change-puk", "-P", "11223344", "-N", "11223344"]).assert_success("custom PUK");
    // Writing needs this token's management key.
    let f = d.join("o.hex");
    std::fs::write(&f, "01").unwrap();
    assert!(!ykpiv(tok.reader(), &["-a", "write-object", "--id", "0x5FFF00", "-i", p(&f)]).success());
    ykpiv(tok.reader(), &[&format!("--key={}", mgmt.hex()), "-a", "write-object", "--id", "0x5FFF00", "-i", p(&f)]).assert_success("write");
    // OpenSC lists the certificates the Key History announces.
    let out = ok("pkcs15-tool", &["-r", tok.reader(), "--read-certificate", "01"]);
    assert!(out.stdout.contains("BEGIN CERTIFICATE"), "{out:?}");
    // Nothing the tools did changed the keys or the certificates.
    let after = tok.contents().unwrap();
    assert_eq!(after.keys, before.keys);
    for tag in [0x5FC105, 0x5FC10D, 0x5FC10C] {
        assert_eq!(after.objects[&tag], before.objects[&tag], "object {tag:06x}");
    }
    assert_eq!(after.objects.get(&0x5FFF00).map(Vec::as_slice), Some(&[0x53, 0x01, 0x01][..]));
    assert_eq!(after.management_key, mgmt);
}

#[test]
fn two_tokens_in_two_readers() {
    let _rig = Rig::start().unwrap();
    let (ca1, ca2) = (TestCa::new("Bank One CA"), TestCa::new("Bank Two CA"));
    let (k1, k2) = (SlotKey::p256(), SlotKey::p256());
    let (c1, c2) = (k1.certificate(&ca1, "customer one", 30), k2.certificate(&ca2, "customer two", 30));
    let t0 = builder().key_with_certificate(0x82, &k1, &c1).reader(0).spawn().unwrap();
    let t1 = builder().key_with_certificate(0x82, &k2, &c2).reader(1).spawn().unwrap();
    assert_eq!((t0.reader(), t1.reader()), (kagi_rig::READER_0, kagi_rig::READER_1));
    let dir = kagi_rig::temp_dir().unwrap();
    for (tok, cert) in [(&t0, &c1), (&t1, &c2)] {
        let f = dir.path().join("c.der");
        std::fs::write(&f, cert).unwrap();
        let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN, "-a", "test-signature", "-s", "82", "-K", "DER", "-i", p(&f)]);
        out.assert_success(&format!("test-signature on {}", tok.reader()));
        // Each reader has its own token: the other one's certificate does not verify.
        let other = if std::ptr::eq(cert, &c1) { &c2 } else { &c1 };
        std::fs::write(&f, other).unwrap();
        let out = ykpiv(tok.reader(), &["-a", "verify-pin", "-P", DEFAULT_PIN, "-a", "test-signature", "-s", "82", "-K", "DER", "-i", p(&f)]);
        assert!(!said(&out).contains("Successful ECDSA verification"), "{out:?}");
    }
    let out = ok("opensc-tool", &["-l"]);
    assert_eq!(out.stdout.lines().filter(|l| l.contains("Yes") && l.contains("Virtual PCD")).count(), 2, "{}", out.stdout);
}

#[test]
fn attestation_with_yubico_piv_tool() {
    let _rig = Rig::start().unwrap();
    let tok = builder().key(0x9A, &SlotKey::p256()).spawn().unwrap();
    let dir = kagi_rig::temp_dir().unwrap();
    let d = dir.path();
    let root = d.join("root.pem");
    std::fs::write(&root, kagi_rig::attestation_root_pem().unwrap()).unwrap();
    // yubico-piv-tool reads the F9 certificate and gets a statement for a key it generated.
    let f9 = d.join("f9.pem");
    std::fs::write(&f9, ok("yubico-piv-tool", &["-r", tok.reader(), "-a", "read-certificate", "-s", "f9"]).stdout).unwrap();
    let public = d.join("9c.pub.pem");
    let out = ykpiv(tok.reader(), &["-a", "generate", "-s", "9c", "-A", "ECCP256", "-o", p(&public)]);
    out.assert_success("generate 9c");
    let att = d.join("9c.att.pem");
    let out = ykpiv(tok.reader(), &["-a", "attest", "-s", "9c"]);
    out.assert_success("attest 9c");
    std::fs::write(&att, &out.stdout).unwrap();
    let verified = ok("openssl", &["verify", "-CAfile", p(&root), "-untrusted", p(&f9), p(&att)]);
    assert!(verified.stdout.contains(": OK"), "{verified:?}");
    let attested = ok("openssl", &["x509", "-in", p(&att), "-noout", "-pubkey"]).stdout;
    assert_eq!(attested, std::fs::read_to_string(&public).unwrap(), "the statement is for the generated key");
    let text = ok("openssl", &["x509", "-in", p(&att), "-noout", "-subject", "-ext", "1.3.6.1.4.1.41482.3.8"]);
    assert!(text.stdout.contains("PIV Attestation 9c"), "{}", text.stdout);
    // The key imported into 9A: the token cannot vouch for it; nor for an empty slot.
    assert!(!ykpiv(tok.reader(), &["-a", "attest", "-s", "9a"]).success(), "imported key attested");
    assert!(!ykpiv(tok.reader(), &["-a", "attest", "-s", "9d"]).success(), "empty slot attested");
    // A PIV card that is not a YubiKey: no ATTEST at all.
    let plain = builder().attestation(false).spawn().unwrap();
    let out = ykpiv(plain.reader(), &["-a", "generate", "-s", "9c", "-A", "ECCP256"]);
    out.assert_success("generate on the plain card");
    let card = pcsc_connect(plain.reader());
    assert_eq!(tx(&card, &SELECT).1, 0x9000);
    assert_eq!(tx(&card, &[0x00, 0xF9, 0x9C, 0x00, 0x00]).1, 0x6D00);
}
