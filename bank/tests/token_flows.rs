//! Acquisition and log-on through the bank's HTTP API, driven by the real host on the virtual
//! token, as the page scripts drive them through the extension.

mod common;

use common::*;
use der::Decode;
use kagi_proto::{EnrollBeginResult, EnrollFinishResult, ErrorCode, LoginToken, StatusResult, WireError};
use kagi_rig::{Host, Rig, VToken};
use serde_json::{json, Value};

/// The customer's own PIN, chosen at the first acquisition (new virtual tokens have 123456).
const NEW_PIN: &str = "471129";

/// `enroll.begin` on a token that still has the factory PIN: 123456 and the new PIN.
fn first_enroll_begin(host: &mut Host, bank: &TestBank, alg: &str) -> EnrollBeginResult {
    host.request(json!({"cmd":"enroll.begin","origin":bank.origin,"pin":PIN,"newPin":NEW_PIN,"algorithm":alg,"issuers":bank.issuers()}))
        .into_result()
        .expect("enroll.begin (first, with newPin)")
}

/// `enroll.begin` once the customer has chosen their PIN.
fn enroll_begin(host: &mut Host, bank: &TestBank, alg: &str) -> EnrollBeginResult {
    host.request(json!({"cmd":"enroll.begin","origin":bank.origin,"pin":NEW_PIN,"algorithm":alg,"issuers":bank.issuers()}))
        .into_result()
        .expect("enroll.begin")
}

fn enroll_finish(host: &mut Host, origin: &str, cert_b64: &str) -> EnrollFinishResult {
    host.request(json!({"cmd":"enroll.finish","origin":origin,"certificate":cert_b64})).into_result().expect("enroll.finish")
}

fn try_authenticate(host: &mut Host, origin: &str, nonce: &str, issuers: &[String]) -> Result<LoginToken, WireError> {
    host.request(json!({"cmd":"authenticate","origin":origin,"nonce":nonce,"pin":NEW_PIN,"issuers":issuers})).into_result()
}

fn authenticate(host: &mut Host, bank: &TestBank, origin: &str, nonce: &str) -> LoginToken {
    try_authenticate(host, origin, nonce, &bank.issuers()).expect("authenticate")
}

/// `status` with this bank's `issuers`.
fn status(host: &mut Host, bank: &TestBank) -> StatusResult {
    host.request(json!({"cmd":"status","issuers":bank.issuers()})).into_result().expect("status")
}

/// The certificate serials `status` reports for this bank, one per token.
fn bank_serials(host: &mut Host, bank: &TestBank) -> Vec<String> {
    status(host, bank).with_certificate().map(|(_, c)| c.serial.clone()).collect()
}

/// Logs on with the token; returns the client (holding the logged-on session) and the reply.
fn log_on(bank: &TestBank, host: &mut Host) -> (Client, Resp) {
    let mut c = bank.client();
    let n = c.post_json("/api/nonce", &json!({}));
    assert_eq!(n.status, 200, "{}", n.body);
    let nonce = n.json()["nonce"].as_str().unwrap().to_owned();
    let token = authenticate(host, bank, &bank.origin, &nonce);
    let r = c.post_json("/api/login", &json!({"nonce": nonce, "token": token}));
    (c, r)
}

/// The certificate's subject as (OID, value) pairs in DER order.
fn subject_in_order(der: &[u8]) -> Vec<(String, String)> {
    let cert = x509_cert::Certificate::from_der(der).unwrap();
    cert.tbs_certificate()
        .subject()
        .iter()
        .map(|atv| {
            let v = x509_cert::ext::pkix::name::DirectoryString::try_from(&atv.value).unwrap().value().into_owned();
            (atv.oid.to_string(), v)
        })
        .collect()
}

#[test]
fn acquire_onto_the_token_then_log_on_and_off() {
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut host = Host::spawn().unwrap();

    // 【取得】 with the contract information.
    let mut c = bank.client();
    let r = c.acquire_start(CONTRACT, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["eligibility"], "FIRST_ISSUE");

    // The page gets the bank's CA from its own page (meta) or the API; both are the CA certificate.
    let meta = c.get("/").body;
    assert!(meta.contains(&format!(r#"<meta name="kagi-issuers" content="{}">"#, bank.issuers()[0])), "login page lacks the issuers meta");
    assert_eq!(c.get("/api/issuers").json(), json!({"issuers": bank.issuers()}));

    // 【専用USBに保存する】 on a token with the factory PIN: without a new PIN the host refuses
    // before writing anything ...
    let r = host.request(json!({"cmd":"enroll.begin","origin":bank.origin,"pin":PIN,"algorithm":"P-256","issuers":bank.issuers()}));
    assert_eq!(r.into_result::<Value>().unwrap_err().code, ErrorCode::PinChangeRequired);
    // ... and a weak one is refused too.
    let r = host.request(json!({"cmd":"enroll.begin","origin":bank.origin,"pin":PIN,"newPin":"111111","algorithm":"P-256","issuers":bank.issuers()}));
    assert_eq!(r.into_result::<Value>().unwrap_err().code, ErrorCode::PinWeak);
    // With the customer's new PIN: key + CSR on the token, issued by the bank, stored on the token.
    let begin = first_enroll_begin(&mut host, &bank, "P-256");
    let r = c.submit_csr(&unb64(&begin.csr));
    assert_eq!(r.status, 201, "{}", r.body);
    let issued = r.json();
    let cert_b64 = issued["certificate"].as_str().unwrap().to_owned();
    let der = unb64(&cert_b64);
    assert_eq!(issued["issuedCount"], 1);
    let finish = enroll_finish(&mut host, &bank.origin, &cert_b64);
    assert_eq!(finish.certificate.serial, issued["serial"].as_str().unwrap());

    // The certificate: the bank's subject layout, in order, and the CA's own extensions.
    assert_eq!(
        subject_in_order(&der),
        vec![
            ("2.5.4.6".to_string(), "JP".to_string()),
            ("2.5.4.10".into(), kagi_bank::ca::CA_ORGANIZATION.into()),
            ("2.5.4.11".into(), kagi_bank::ca::CA_UNIT.into()),
            ("2.5.4.11".into(), "IssuedCount=001".into()),
            ("2.5.4.3".into(), CN.into()),
        ]
    );
    let serial = issued["serial"].as_str().unwrap();
    assert_eq!(serial.len(), 32, "16-byte serial");
    let info = kagi_verify::CertInfo::parse(&der).unwrap();
    assert_eq!(secs_between(info.not_before, info.not_after), 365 * DAY as i64, "one year");
    assert_eq!(info.digital_signature, Some(true));
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let (_, eku) = cert.tbs_certificate().get_extension::<x509_cert::ext::pkix::ExtendedKeyUsage>().unwrap().expect("EKU");
    assert_eq!(eku.0.iter().map(|o| o.to_string()).collect::<Vec<_>>(), vec!["1.3.6.1.5.5.7.3.2"]);

    // Certificate retrieval and the completion page (電子証明書情報).
    let r = c.get("/api/certificate");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["certificate"], cert_b64.as_str());
    let page = c.get("/acquire/complete");
    assert_eq!(page.status, 200);
    for needle in [
        "電子証明書の取得と専用USBへの保存が完了いたしました。",
        r#"id="cert-country">JP<"#,
        &format!(r#"id="cert-organization">{}<"#, kagi_bank::ca::CA_ORGANIZATION),
        &format!(r#"id="cert-ou-1">{}<"#, kagi_bank::ca::CA_UNIT),
        r#"id="cert-ou-2">IssuedCount=001<"#,
        &format!(r#"id="cert-common-name">{CN}<"#),
        &format!(r#"id="cert-serial">{serial}<"#),
        "専用USBをパソコンに接続してからログオンしてください",
        "ログオフ後は、すみやかに専用USBをパソコンから取り外してください。",
    ] {
        assert!(page.body.contains(needle), "completion page lacks {needle}");
    }

    // The token now shows the bank's certificate as its login certificate; `status` without
    // issuers (the extension's own popup) shows the token but no certificate.
    assert_eq!(bank_serials(&mut host, &bank), vec![serial.to_owned()]);
    let bare: StatusResult = host.request(json!({"cmd":"status"})).into_result().unwrap();
    assert_eq!(bare.tokens.len(), 1);
    assert!(bare.tokens[0].certificate.is_none(), "no certificate without issuers");
    // The factory PIN no longer works; the new one does (log-on below).
    let nonce = bank.client().post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    let r = host.request(json!({"cmd":"authenticate","origin":bank.origin,"nonce":nonce,"pin":PIN,"issuers":bank.issuers()}));
    assert!(matches!(r.into_result::<Value>().unwrap_err().code, ErrorCode::PinIncorrect { retries: 2 }));

    // Log on: nonce → token signs → bank verifies → session.
    let (mut user, r) = log_on(&bank, &mut host);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["redirect"], "/home");
    assert_eq!(r.json()["customer"]["contractNumber"], CONTRACT);
    let s = user.get("/api/session").json();
    assert_eq!(s["loggedOn"], true);
    assert_eq!(s["serial"], serial);
    let home = user.get("/home");
    assert_eq!(home.status, 200);
    assert!(home.body.contains(kagi_bank::DEMO_CUSTOMER.name));
    assert!(home.body.contains(r#"id="logoff-button""#));

    // Log off (the form button): the session is gone.
    let r = user.post_form("/logoff", "");
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/?reason=logoff"));
    assert_eq!(user.get("/api/session").json()["loggedOn"], false);
    assert_eq!(user.get("/home").location.as_deref(), Some("/?reason=session"));

    // A replayed log-on (same nonce and token) is refused.
    let mut c = bank.client();
    let nonce = c.post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    let token = authenticate(&mut host, &bank, &bank.origin, &nonce);
    assert_eq!(c.post_json("/api/login", &json!({"nonce": nonce, "token": token})).status, 200);
    let again = c.post_json("/api/login", &json!({"nonce": nonce, "token": token}));
    assert_eq!((again.status, again.code().as_str()), (401, "NONCE_REPLAYED"));

    // A token signed for another origin (the bank's localhost name) does not log on here.
    let mut c = bank.client();
    let nonce = c.post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    let token = authenticate(&mut host, &bank, &format!("http://localhost:{}", bank.port), &nonce);
    let r = c.post_json("/api/login", &json!({"nonce": nonce, "token": token}));
    assert_eq!((r.status, r.code().as_str()), (401, "BAD_SIGNATURE"));

    // A nonce fetched by one browser session cannot be used from another.
    let mut a = bank.client();
    let mut b = bank.client();
    let nonce = a.post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    b.post_json("/api/nonce", &json!({}));
    let token = authenticate(&mut host, &bank, &bank.origin, &nonce);
    let r = b.post_json("/api/login", &json!({"nonce": nonce, "token": token}));
    assert_eq!((r.status, r.code().as_str()), (401, "NONCE_WRONG_SESSION"));

    // Expired nonce: the bank's clock moves past the five minutes.
    let mut c = bank.client();
    let nonce = c.post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    let token = authenticate(&mut host, &bank, &bank.origin, &nonce);
    bank.clock.advance(kagi_verify::NONCE_TTL + std::time::Duration::from_secs(1));
    let r = c.post_json("/api/login", &json!({"nonce": nonce, "token": token}));
    assert_eq!((r.status, r.code().as_str()), (401, "NONCE_EXPIRED"));
    bank.clock.set(std::time::SystemTime::now());

    // After the operator's reissue, the old certificate no longer logs on.
    bank.bank.db.mark_reissue(bank.bank.db.customer_by_contract(CONTRACT).unwrap().unwrap().id, kagi_bank::clock::Clock::now(&*bank.clock)).unwrap();
    let (_, r) = log_on(&bank, &mut host);
    assert_eq!((r.status, r.code().as_str()), (401, "CERT_REVOKED"));

    // ...and the customer acquires again (reissue): IssuedCount=002 on a new key, logs on again.
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).json()["eligibility"], "REISSUE");
    let begin = enroll_begin(&mut host, &bank, "P-256");
    let r = c.submit_csr(&unb64(&begin.csr));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["issuedCount"], 2);
    let new_cert = r.json()["certificate"].as_str().unwrap().to_owned();
    assert!(subject_in_order(&unb64(&new_cert)).contains(&("2.5.4.11".into(), "IssuedCount=002".into())));
    enroll_finish(&mut host, &bank.origin, &new_cert);
    let (_, r) = log_on(&bank, &mut host);
    assert_eq!(r.status, 200, "{}", r.body);

    // Every refused log-on above is in the bank's log with its code and the contract number of
    // the certificate, and nothing else (no nonce, signature or cookie): the whole line is fixed.
    let refused: Vec<String> = bank.log.lines().into_iter().filter(|l| l.starts_with("log-on refused: ")).collect();
    let codes: Vec<&str> = refused.iter().map(|l| l.split(' ').nth(2).unwrap_or("")).collect();
    assert_eq!(codes, ["NONCE_REPLAYED", "BAD_SIGNATURE", "NONCE_WRONG_SESSION", "NONCE_EXPIRED", "CERT_REVOKED"], "{refused:#?}");
    for (line, code) in refused.iter().zip(&codes) {
        assert_eq!(line, &format!("log-on refused: {code} contract={CONTRACT:?} status=401"));
    }
}

/// One-click renewal: a customer logged on with the current certificate, inside its renewal
/// window, opens the renewal with one call and no password; the renewed certificate logs on,
/// and then the window (of the new certificate) is closed again.
#[test]
fn renewal_from_a_certificate_log_on_takes_one_call() {
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = manual_clock();
    // The first certificate is issued 340 days ago on the bank's clock: now it is inside its
    // renewal window and still valid by the PC's clock (the host signs only with such).
    let real_now = std::time::SystemTime::now();
    clock.set(at(real_now, -340 * DAY as i64));
    let bank = TestBank::start(dir.path(), clock);
    let mut host = Host::spawn().unwrap();
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    let begin = first_enroll_begin(&mut host, &bank, "P-256");
    let r = c.submit_csr(&unb64(&begin.csr));
    assert_eq!(r.status, 201, "{}", r.body);
    let first_serial = r.json()["serial"].as_str().unwrap().to_owned();
    enroll_finish(&mut host, &bank.origin, r.json()["certificate"].as_str().unwrap());
    bank.clock.set(real_now);

    // Log on with it: /home offers the renewal as a button (a POST), not the password form.
    let (mut user, r) = log_on(&bank, &mut host);
    assert_eq!(r.status, 200, "{}", r.body);
    let home = user.get("/home");
    assert!(home.body.contains(r#"id="renewal-notice""#) && home.body.contains(r#"<form method="post" action="/acquire/renew""#), "{}", home.body);
    assert!(home.body.contains(r#"id="renew-button""#));
    // The button itself (in another logged-on session): straight to the save step, no password.
    let (mut page_user, r) = log_on(&bank, &mut host);
    assert_eq!(r.status, 200, "{}", r.body);
    let page = page_user.post_form("/acquire/renew", "");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"data-eligibility="RENEWAL""#) && page.body.contains(r#"id="save-usb-button""#));
    assert!(!page.body.contains(r#"id="acquire-password""#));
    assert!(page.body.contains("電子証明書でログオン中のお客様です"), "the page says why no password was asked");

    // One call, no password: the acquisition is open, on a new session id, still logged on.
    let before = user.cookie.clone().unwrap();
    let r = user.acquire_renew();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["eligibility"], "RENEWAL");
    assert_eq!(r.json()["customer"]["contractNumber"], CONTRACT);
    assert_ne!(user.cookie.clone().unwrap(), before, "new session id at acquisition start");
    let s = user.get("/api/session").json();
    assert_eq!((s["loggedOn"].as_bool(), s["serial"].as_str()), (Some(true), Some(first_serial.as_str())));
    let begin = enroll_begin(&mut host, &bank, "P-256");
    let r = user.submit_csr(&unb64(&begin.csr));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["issuedCount"], 2);
    let new_serial = r.json()["serial"].as_str().unwrap().to_owned();
    enroll_finish(&mut host, &bank.origin, r.json()["certificate"].as_str().unwrap());
    assert!(bank.log.lines().iter().any(|l| l.starts_with("renewal opened from certificate log-on") && l.contains(CONTRACT)));

    // The renewed certificate logs on; its own window is far off, so one-click renewal is refused.
    let (mut again, r) = log_on(&bank, &mut host);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["certificate"]["serial"], new_serial.as_str());
    assert!(!again.get("/home").body.contains("renew-button"));
    let r = again.acquire_renew();
    assert_eq!((r.status, r.code().as_str()), (403, "NOT_IN_RENEWAL_PERIOD"));
}

#[test]
fn rsa2048_acquisition_and_log_on() {
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut host = Host::spawn().unwrap();
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    let begin = first_enroll_begin(&mut host, &bank, "RSA-2048");
    let r = c.submit_csr(&unb64(&begin.csr));
    assert_eq!(r.status, 201, "{}", r.body);
    enroll_finish(&mut host, &bank.origin, r.json()["certificate"].as_str().unwrap());
    let (_, r) = log_on(&bank, &mut host);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_failed_save_can_be_retried_in_the_same_acquisition() {
    // The token was pulled after the CA issued: the page submits a second CSR, which replaces
    // the first certificate (never stored) instead of hitting the renewal rule.
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut host = Host::spawn().unwrap();
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    let first = c.submit_csr(&unb64(&first_enroll_begin(&mut host, &bank, "P-256").csr));
    assert_eq!(first.status, 201);
    let second = c.submit_csr(&unb64(&enroll_begin(&mut host, &bank, "P-256").csr));
    assert_eq!(second.status, 201, "{}", second.body);
    let first_serial = first.json()["serial"].as_str().unwrap().to_owned();
    assert!(bank.bank.db.certificate(&first_serial).unwrap().unwrap().revoked, "the unsaved certificate is revoked");
    enroll_finish(&mut host, &bank.origin, second.json()["certificate"].as_str().unwrap());
    let (_, r) = log_on(&bank, &mut host);
    assert_eq!(r.status, 200, "{}", r.body);
    // A new acquisition session is bound by the renewal rule again.
    let mut other = bank.client();
    let r = other.acquire_start(CONTRACT, PASSWORD);
    assert_eq!((r.status, r.code().as_str()), (403, "NOT_IN_RENEWAL_PERIOD"));
}

/// Acquires a certificate from `bank` onto the token (through the HTTP API, as the page does);
/// returns the issued serial. `first`: the token still has the factory PIN.
fn acquire(host: &mut Host, bank: &TestBank, reader: Option<&str>, first: bool) -> String {
    let mut c = bank.client();
    let r = c.acquire_start(CONTRACT, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
    let mut req = json!({"cmd":"enroll.begin","origin":bank.origin,"algorithm":"P-256","issuers":bank.issuers()});
    if first {
        req["pin"] = json!(PIN);
        req["newPin"] = json!(NEW_PIN);
    } else {
        req["pin"] = json!(NEW_PIN);
    }
    if let Some(reader) = reader {
        req["reader"] = json!(reader);
    }
    let begin: EnrollBeginResult = host.request(req).into_result().expect("enroll.begin");
    if let Some(reader) = reader {
        assert_eq!(begin.reader, reader);
    }
    let r = c.submit_csr(&unb64(&begin.csr));
    assert_eq!(r.status, 201, "{}", r.body);
    enroll_finish(host, &bank.origin, r.json()["certificate"].as_str().unwrap());
    r.json()["serial"].as_str().unwrap().to_owned()
}

#[test]
fn two_banks_on_one_token_each_see_and_use_only_their_own_certificate() {
    // Two banks with CAs of the same name (both demo banks) but different keys: the host tells
    // their certificates apart by the CA's signature, not by the name.
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).spawn().unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestBank::start(dir_a.path(), manual_clock());
    let b = TestBank::start(dir_b.path(), manual_clock());
    assert_ne!(a.issuers(), b.issuers());
    let mut host = Host::spawn().unwrap();

    let serial_a = acquire(&mut host, &a, None, true);
    // Bank B sees the token but not bank A's certificate, and cannot log on with it.
    let st = status(&mut host, &b);
    assert_eq!(st.tokens.len(), 1);
    assert!(st.tokens[0].certificate.is_none(), "bank B must not see bank A's certificate: {:?}", st.tokens[0].certificate);
    let nonce = b.client().post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    let r = try_authenticate(&mut host, &b.origin, &nonce, &b.issuers());
    assert_eq!(r.unwrap_err().code, ErrorCode::NoCertificate);

    // Bank B's acquisition leaves bank A's certificate in place.
    let serial_b = acquire(&mut host, &b, None, false);
    assert_ne!(serial_a, serial_b);
    assert_eq!(bank_serials(&mut host, &a), vec![serial_a.clone()]);
    assert_eq!(bank_serials(&mut host, &b), vec![serial_b.clone()]);

    // Each bank logs on with its own certificate.
    for (bank, serial) in [(&a, &serial_a), (&b, &serial_b)] {
        let (mut user, r) = log_on(bank, &mut host);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(user.get("/api/session").json()["serial"], serial.as_str());
    }
}

#[test]
fn two_tokens_with_certificates_of_the_same_bank_need_a_choice() {
    let _rig = Rig::start().unwrap();
    let _t0 = VToken::builder().reader(0).spawn().unwrap();
    let _t1 = VToken::builder().reader(1).spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut host = Host::spawn().unwrap();

    let s0 = acquire(&mut host, &bank, Some(kagi_rig::READER_0), true);
    // The second token: a second acquisition session of the same customer would hit the renewal
    // rule, so the operator's reissue opens it (the bank's way to issue a second certificate).
    let id = bank.bank.db.customer_by_contract(CONTRACT).unwrap().unwrap().id;
    bank.bank.db.mark_reissue(id, kagi_bank::clock::Clock::now(&*bank.clock)).unwrap();
    let s1 = acquire(&mut host, &bank, Some(kagi_rig::READER_1), true);
    let st = status(&mut host, &bank);
    let found: Vec<(String, String)> = st.with_certificate().map(|(t, c)| (t.reader.clone(), c.serial.clone())).collect();
    assert_eq!(found, vec![(kagi_rig::READER_0.to_owned(), s0.clone()), (kagi_rig::READER_1.to_owned(), s1.clone())]);

    // Without a choice the host does not pick one ...
    let mut c = bank.client();
    let nonce = c.post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    let r = try_authenticate(&mut host, &bank.origin, &nonce, &bank.issuers());
    assert_eq!(r.unwrap_err().code, ErrorCode::ChoiceRequired);
    // ... with one (what Kagi's window sends after the customer chose), it signs with that one.
    let chosen = st.tokens[1].certificate.as_ref().unwrap().sha256.clone();
    let token: LoginToken = host
        .request(json!({"cmd":"authenticate","origin":bank.origin,"nonce":nonce,"pin":NEW_PIN,"issuers":bank.issuers(),"certificate":chosen}))
        .into_result()
        .expect("authenticate with a chosen certificate");
    let r = c.post_json("/api/login", &json!({"nonce": nonce, "token": token}));
    // The reissue revoked the first token's certificate; the second token's is the live one.
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(c.get("/api/session").json()["serial"], s1.as_str());
}
