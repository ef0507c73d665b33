//! Kagi uses and replaces only the bank's certificates, and writes only with a management key
//! kept on the token behind the PIN: checked on virtual tokens through pcscd + vpcd, with
//! yubico-piv-tool and OpenSC as independent witnesses.

mod common;

use common::*;
use kagi_proto::{EnrollBeginResult, ErrorCode, LoginToken, ManagementKeyState};
use kagi_rig::tools::{der_of_pem_cert, load_foreign_content, said, ykpiv};
use kagi_rig::{Host, ManagementKey, Rig, SlotKey, VToken, ALG_3DES, READER_0, READER_1};
use serde_json::json;

/// What another program put in 9A, 82 and 83: certificate objects and keys.
fn foreign_snapshot(token: &VToken) -> Vec<(String, Option<Vec<u8>>)> {
    let c = token.contents().unwrap();
    let mut out = Vec::new();
    for slot in [0x9Au8, 0x82, 0x83] {
        out.push((format!("object {slot:02X}"), c.object(kagi_rig::cert_tag(slot).unwrap()).map(<[u8]>::to_vec)));
        out.push((format!("key {slot:02X}"), c.keys.get(&slot).map(|k| k.material.clone().into_bytes())));
    }
    out
}

#[test]
fn foreign_keys_and_certificates_survive_acquisitions_and_log_ons() {
    let (_rig, token) = rig_with_token();
    let dir = kagi_rig::temp_dir().unwrap();
    let foreign = load_foreign_content(token.reader(), dir.path());
    let before = foreign_snapshot(&token);
    assert!(before.iter().filter(|(_, v)| v.is_some()).count() == 5, "9A/82 key+cert, 83 key: {before:?}");

    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    // The bank sees no certificate on this token, and no foreign subject ever.
    let st = only_token(status_for(&mut host, &ca));
    assert!(st.certificate.is_none(), "{st:?}");
    let _: kagi_proto::PinResult = change_pin(&mut host, FACTORY_PIN, PIN).into_result().unwrap();
    assert_eq!(authenticate(&mut host, &ca, &nonce(), PIN).error.unwrap().code, ErrorCode::NoCertificate);

    let (b1, first, _) = enroll(&mut host, &ca, "P-256", 1);
    assert_eq!(b1.slot, "84", "82 holds another CA's certificate, 83 a key the Key History counts");
    let n = nonce();
    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().unwrap();
    assert_eq!(login.certificate_der().unwrap(), first, "the log-on used the bank's certificate, not 9A's");
    verify_login(&login, ORIGIN, &n).unwrap();

    // The second acquisition (P-256 again) goes to a free slot too: the first is still valid.
    let (b2, second, _) = enroll(&mut host, &ca, "RSA-2048", 2);
    assert!(!["9A", "82", "83", "84"].contains(&b2.slot.as_str()), "{}", b2.slot);
    let n = nonce();
    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().unwrap();
    assert_eq!(login.certificate_der().unwrap(), second);
    verify_login(&login, ORIGIN, &n).unwrap();

    // Nothing Kagi did not write changed, byte for byte.
    assert_eq!(foreign_snapshot(&token), before);
    // Status never shows the foreign subjects, with or without the bank's issuers.
    for st in [status(&mut host), status_for(&mut host, &ca)] {
        let json = serde_json::to_string(&st).unwrap();
        assert!(!json.contains("foreign") && !json.contains("Other Company"), "{json}");
    }
    drop(host);
    // The foreign keys still sign, checked by yubico-piv-tool against their certificates.
    for (slot, cert) in [("9a", &foreign.cert_9a), ("82", &foreign.cert_82)] {
        let out = ykpiv(token.reader(), &["-a", "verify-pin", "-P", PIN, "-a", "test-signature", "-s", slot, "-i", cert.to_str().unwrap()]);
        out.assert_success(&format!("test-signature {slot}"));
        assert!(said(&out).contains("Successful ECDSA verification"), "{out:?}");
    }
    assert_eq!(token.contents().unwrap().certificate(0x9A).unwrap(), der_of_pem_cert(&foreign.cert_9a));
}

/// The management key as yubico-piv-tool reads it from Printed Information after the PIN.
fn protected_key_hex(reader: &str, pin: &str) -> Option<String> {
    let out = ykpiv(reader, &["-a", "verify-pin", "-P", pin, "-a", "read-object", "--id", "0x5FC109"]);
    if !out.success() {
        return None;
    }
    // 88 1A 89 18 <24-byte key>
    let hex = out.stdout.trim().to_lowercase();
    hex.strip_prefix("881a8918").map(str::to_owned)
}

#[test]
fn management_key_moves_behind_the_pin_at_the_first_acquisition() {
    let _rig = Rig::start().unwrap();
    // A 3DES-only token (older YubiKey), so that yubico-piv-tool 2.2 can use the new key.
    let token = VToken::builder().reader(0).aes_management_key(false).spawn().unwrap();
    let dir = kagi_rig::temp_dir().unwrap();
    let obj = dir.path().join("obj.hex");
    std::fs::write(&obj, "0102").unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    assert_eq!(only_token(status(&mut host)).management_key, ManagementKeyState::Factory);
    assert_eq!(protected_key_hex(token.reader(), FACTORY_PIN), None, "nothing stored yet");
    let _: kagi_proto::PinResult = change_pin(&mut host, FACTORY_PIN, PIN).into_result().unwrap();
    enroll(&mut host, &ca, "P-256", 1);
    assert_eq!(only_token(status(&mut host)).management_key, ManagementKeyState::PinProtected);

    // The factory key no longer writes anything.
    let out = ykpiv(token.reader(), &["-a", "write-object", "--id", "0x5FC108", "-i", obj.to_str().unwrap()]);
    assert!(!out.success() && said(&out).contains("Failed authentication"), "{out:?}");
    // The key is readable only after the PIN, and it writes.
    assert!(
        !ykpiv(token.reader(), &["-a", "read-object", "--id", "0x5FC109"]).success(),
        "Printed Information without the PIN"
    );
    let key = protected_key_hex(token.reader(), PIN).expect("the key in 5FC109 after verify-pin");
    assert_eq!(key.len(), 48);
    assert_ne!(key, kagi_rig::DEFAULT_MGMT_KEY_HEX);
    let c = token.contents().unwrap();
    assert_eq!(c.management_key, ManagementKey::new(ALG_3DES, &hex::decode(&key).unwrap()), "3DES where AES is refused");
    assert_eq!(c.object(kagi_rig::TAG_ADMIN_DATA), Some(&[0x80, 0x03, 0x81, 0x01, 0x02][..]), "ADMIN DATA flag");
    ykpiv(token.reader(), &[&format!("--key={key}"), "-a", "write-object", "--id", "0x5FC108", "-i", obj.to_str().unwrap()])
        .assert_success("write with the key from 5FC109");

    // A second acquisition works with the stored key; nothing about it is kept on the PC.
    let mut again = Host::spawn().unwrap();
    let (b, _, _) = enroll(&mut again, &ca, "P-256", 2);
    assert_eq!(b.slot, "83");
}

#[test]
fn aes_management_key_where_the_token_takes_it() {
    let (_rig, token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    enroll(&mut host, &ca, "P-256", 1);
    let c = token.contents().unwrap();
    assert_eq!(c.management_key.alg, kagi_rig::ALG_AES192);
    assert_ne!(c.management_key.key, kagi_rig::FACTORY_MGMT_KEY.to_vec());
    // OpenSC's piv-tool generates a key with the stored AES key, not with the factory key.
    let key = protected_key_hex(token.reader(), PIN).expect("stored key");
    assert_eq!(hex::decode(&key).unwrap(), c.management_key.key);
    let dir = kagi_rig::temp_dir().unwrap();
    let keyfile = dir.path().join("mgm.key");
    let colon = |k: &[u8]| k.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    std::fs::write(&keyfile, colon(&kagi_rig::FACTORY_MGMT_KEY) + "\n").unwrap();
    let pivtool = |alg: &str, slot: &str| {
        kagi_rig::run_with_timeout(
            std::process::Command::new("piv-tool")
                .args(["-r", token.reader(), "-A", &format!("M:9B:{alg}"), "-G", &format!("{slot}:11")])
                .env("PIV_EXT_AUTH_KEY", &keyfile),
            std::time::Duration::from_secs(60),
        )
        .unwrap()
    };
    let _ = pivtool("03", "9D");
    assert!(!token.contents().unwrap().has_key(0x9D), "the factory key no longer generates");
    std::fs::write(&keyfile, colon(&c.management_key.key) + "\n").unwrap();
    let _ = pivtool("0A", "9D");
    assert!(token.contents().unwrap().has_key(0x9D), "the key from 5FC109 does:\n{}", token.log());
}

#[test]
fn token_without_metadata_or_aes_is_initialised_too() {
    let _rig = Rig::start().unwrap();
    let token = VToken::builder().reader(0).metadata(false).aes_management_key(false).pin(PIN).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    let t = only_token(status(&mut host));
    assert_eq!((t.management_key, t.pin_default), (ManagementKeyState::Factory, None), "found out by trying the factory key");
    let (_, cert, _) = enroll(&mut host, &ca, "P-256", 1);
    assert_eq!(only_token(status(&mut host)).management_key, ManagementKeyState::PinProtected);
    let (b, _, _) = enroll(&mut host, &ca, "P-256", 2);
    assert_eq!(b.slot, "83");
    let login: LoginToken = authenticate(&mut host, &ca, &nonce(), PIN).into_result().unwrap();
    assert_ne!(login.certificate_der().unwrap(), cert);
    assert_eq!(token.contents().unwrap().management_key.alg, ALG_3DES);
}

#[test]
fn unknown_management_key_is_refused_before_anything_is_written() {
    let _rig = Rig::start().unwrap();
    let token = VToken::builder().reader(0).pin(PIN).management_key(ManagementKey::random(ALG_3DES)).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    assert_eq!(only_token(status(&mut host)).management_key, ManagementKeyState::Unknown);
    let keys_before = token.contents().unwrap().keys.len();
    let r = enroll_begin(&mut host, &ca, "P-256");
    assert_eq!(r.error.unwrap().code, ErrorCode::ManagementKeyUnknown);
    assert_eq!(token.contents().unwrap().keys.len(), keys_before, "no key generated");
}

#[test]
fn a_token_with_no_free_slot_is_full() {
    let _rig = Rig::start().unwrap();
    // Every retired slot counted by the Key History (20 keys with off-card certificates).
    let token = VToken::builder().reader(0).pin(PIN).key_history(0, 20, Some("https://other.example/certs")).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    let r = enroll_begin(&mut host, &ca, "P-256");
    assert_eq!(r.error.unwrap().code, ErrorCode::TokenFull);
    let c = token.contents().unwrap();
    assert!(c.keys.is_empty(), "no key generated");
    assert_eq!(c.management_key, ManagementKey::factory(), "not even initialised");
}

#[test]
fn keys_without_certificates_are_never_reused_where_metadata_shows_them() {
    let _rig = Rig::start().unwrap();
    // A key in 82 that no Key History announces: only GET METADATA shows it.
    let other = SlotKey::p256();
    let token = VToken::builder().reader(0).pin(PIN).key(0x82, &other).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let before = token.contents().unwrap().keys[&0x82].material.clone();
    let mut host = Host::spawn().unwrap();
    let (b, _, _) = enroll(&mut host, &ca, "P-256", 1);
    assert_eq!(b.slot, "83");
    assert_eq!(token.contents().unwrap().keys[&0x82].material, before);
}

#[test]
fn two_tokens_of_two_banks_and_two_of_one() {
    let _rig = Rig::start().unwrap();
    let a = VToken::builder().reader(0).pin(PIN).spawn().unwrap();
    let b = VToken::builder().reader(1).pin(PIN).spawn().unwrap();
    let (bank_a, bank_b) = (TestCa::new("Bank A CA"), TestCa::new("Bank B CA"));
    let mut host = Host::spawn().unwrap();
    // Two PIV tokens and no bank certificate yet: the acquisition must be told which.
    assert_eq!(enroll_begin(&mut host, &bank_a, "P-256").error.unwrap().code, ErrorCode::ChoiceRequired);
    let acquire = |host: &mut Host, ca: &TestCa, reader: &str| {
        let begin: EnrollBeginResult = host
            .request(json!({"cmd":"enroll.begin","origin":ORIGIN,"pin":PIN,"algorithm":"P-256","issuers":issuers(ca),"reader":reader}))
            .into_result()
            .unwrap();
        assert_eq!(begin.reader, reader);
        let cert = ca.issue(&begin.csr, 1, 0, 365);
        let _: kagi_proto::EnrollFinishResult = enroll_finish(host, &cert).into_result().unwrap();
        cert
    };
    let cert_a = acquire(&mut host, &bank_a, a.reader());
    let cert_b = acquire(&mut host, &bank_b, b.reader());
    // Each bank's page sees and logs on with its own token.
    for (ca, cert, reader) in [(&bank_a, &cert_a, READER_0), (&bank_b, &cert_b, READER_1)] {
        let st = status_for(&mut host, ca);
        let with: Vec<_> = st.with_certificate().map(|(t, c)| (t.reader.clone(), c.sha256.clone())).collect();
        assert_eq!(with, vec![(reader.to_string(), sha256_hex(cert))]);
        let n = nonce();
        let login: LoginToken = authenticate(&mut host, ca, &n, PIN).into_result().unwrap();
        assert_eq!(&login.certificate_der().unwrap(), cert);
        verify_login(&login, ORIGIN, &n).unwrap();
    }
    // A renewal needs no reader: the token holding the bank's certificate is the one.
    let renew: EnrollBeginResult = enroll_begin(&mut host, &bank_b, "P-256").into_result().unwrap();
    assert_eq!(renew.reader, READER_1);

    // Bank A's certificate on both tokens: the customer must choose, and the choice holds.
    let second_a = acquire(&mut host, &bank_a, b.reader());
    let n = nonce();
    assert_eq!(authenticate(&mut host, &bank_a, &n, PIN).error.unwrap().code, ErrorCode::ChoiceRequired);
    for cert in [&cert_a, &second_a] {
        let r = host.request(json!({"cmd":"authenticate","origin":ORIGIN,"nonce":n.as_str(),"pin":PIN,"issuers":issuers(&bank_a),"certificate":sha256_hex(cert)}));
        let login: LoginToken = r.into_result().unwrap();
        assert_eq!(&login.certificate_der().unwrap(), cert);
        verify_login(&login, ORIGIN, &n).unwrap();
    }
}

#[test]
fn a_key_history_kagi_cannot_parse_is_left_alone() {
    let _rig = Rig::start().unwrap();
    // F3 claims 25 bytes for a 27-byte URL: the object does not parse.
    let bad = hex::decode("c10101c20101f31968747470733a2f2f6f746865722e6578616d706c652f6365727473fe00").unwrap();
    let other = SlotKey::p256();
    let token = VToken::builder().reader(0).pin(PIN).key(0x82, &other).object(kagi_rig::TAG_KEY_HISTORY, &bad).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    assert!(only_token(status_for(&mut host, &ca)).certificate.is_none());
    let (b, cert, _) = enroll(&mut host, &ca, "P-256", 1);
    assert_eq!(b.slot, "83", "82 holds a key (GET METADATA), whatever the Key History says");
    assert_eq!(token.contents().unwrap().object(kagi_rig::TAG_KEY_HISTORY), Some(&bad[..]), "not rewritten");
    let n = nonce();
    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().unwrap();
    assert_eq!(login.certificate_der().unwrap(), cert, "found without the Key History");

    // Without GET METADATA nothing shows which slots are free: Kagi writes nowhere.
    drop(host);
    drop(token);
    let token = VToken::builder().reader(0).pin(PIN).metadata(false).object(kagi_rig::TAG_KEY_HISTORY, &bad).spawn().unwrap();
    let mut host = Host::spawn().unwrap();
    assert_eq!(enroll_begin(&mut host, &ca, "P-256").error.unwrap().code, ErrorCode::TokenFull);
    assert!(token.contents().unwrap().keys.is_empty());
}
