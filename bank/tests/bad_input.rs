//! Malformed input gets a clear 4xx, never a 500.

mod common;

use common::*;
use serde_json::json;

fn assert_4xx(r: &Resp, what: &str) {
    assert!((400..500).contains(&r.status), "{what}: {} {}", r.status, r.body);
}

fn assert_code(r: &Resp, status: u16, code: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    assert_eq!(r.code(), code, "{what}");
}

#[test]
fn api_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut c = bank.client();
    c.post_json("/api/nonce", &json!({}));

    for (path, body, what) in [
        ("/api/login", &b"{"[..], "truncated JSON"),
        ("/api/login", b"[]", "array"),
        ("/api/login", b"{}", "missing fields"),
        ("/api/login", br#"{"nonce":"x","token":{"format":"kagi-auth:1"}}"#, "token missing fields"),
        ("/api/login", br#"{"nonce":1,"token":null}"#, "wrong types"),
        ("/api/login", br#"{"nonce":"x","token":{"format":"kagi-auth:1","certificate":"","algorithm":"HS256","signature":""}}"#, "unknown algorithm"),
        ("/api/acquire/start", br#"{"contractNumber":"SH001001"}"#, "no password"),
        ("/api/acquire/start", br#"{"contractNumber":"SH001001","password":"x","admin":true}"#, "unknown field"),
        ("/api/csr", br#"{"csr":42}"#, "csr not a string"),
        ("/api/csr", b"\xff\xfe", "not UTF-8"),
    ] {
        let r = c.post_raw(path, "application/json", body);
        assert_code(&r, 400, "BAD_REQUEST", what);
    }

    // Well-formed JSON, bad content.
    let token = json!({"format":"kagi-auth:1","certificate":"%%%","algorithm":"ES256","signature":"AAAA"});
    let n = c.post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    assert_code(&c.post_json("/api/login", &json!({"nonce": n, "token": token})), 401, "MALFORMED_TOKEN", "bad base64 cert");
    let n = c.post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    let token = json!({"format":"kagi-auth:1","certificate":b64(b"junk"),"algorithm":"ES256","signature":"AAAA"});
    assert_code(&c.post_json("/api/login", &json!({"nonce": n, "token": token})), 401, "CERT_MALFORMED", "junk cert");
    let token = json!({"format":"kagi-auth:0","certificate":"","algorithm":"ES256","signature":""});
    assert_code(&c.post_json("/api/login", &json!({"nonce": "x".repeat(5000), "token": token})), 401, "NONCE_UNKNOWN", "huge nonce");
    let mut fresh = bank.client();
    assert_code(&fresh.post_json("/api/login", &json!({"nonce": "x", "token": token})), 401, "NO_SESSION", "no cookie");
    // A cookie that is not ours.
    fresh.cookie = Some(format!("{}=not-a-session", kagi_bank::session::COOKIE_NAME));
    assert_code(&fresh.post_json("/api/login", &json!({"nonce": "x", "token": token})), 401, "NO_SESSION", "bogus cookie");
    // Each of these refused log-ons is in the log with its code, and no request value (the
    // 5000-byte nonce, the certificate, the signature) is.
    let refused: Vec<String> = bank.log.lines().into_iter().filter(|l| l.starts_with("log-on refused: ")).collect();
    let codes: Vec<&str> = refused.iter().map(|l| l.split(' ').nth(2).unwrap_or("")).collect();
    assert_eq!(
        codes,
        ["BAD_REQUEST", "BAD_REQUEST", "BAD_REQUEST", "BAD_REQUEST", "BAD_REQUEST", "BAD_REQUEST", "MALFORMED_TOKEN", "CERT_MALFORMED", "NONCE_UNKNOWN", "NO_SESSION", "NO_SESSION"],
        "{refused:#?}"
    );
    for (line, code) in refused.iter().zip(&codes) {
        let status = if *code == "BAD_REQUEST" { 400 } else { 401 };
        assert_eq!(line, &format!("log-on refused: {code} contract=\"-\" status={status}"));
    }

    // CSRs: bad base64, not DER, a broken signature, an unsupported key.
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    assert_code(&c.post_json("/api/csr", &json!({"csr": "@@@"})), 400, "BAD_REQUEST", "csr base64");
    assert_code(&c.submit_csr(b"\x30\x03\x02\x01\x00"), 400, "CSR_INVALID", "csr junk DER");
    let mut csr = software_csr();
    let last = csr.len() - 1;
    csr[last] ^= 0x01;
    assert_code(&c.submit_csr(&csr), 400, "CSR_SIGNATURE", "csr signature flipped");
    let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let csr = rcgen::CertificateParams::new(vec![]).unwrap().serialize_request(&p384).unwrap();
    assert_code(&c.submit_csr(csr.der()), 400, "CSR_KEY_UNSUPPORTED", "P-384");
    // ...none of which used up the acquisition.
    assert_eq!(c.submit_csr(&software_csr()).status, 201);

    // Transport-level mistakes.
    let r = c.post_raw("/api/login", "text/plain", b"{}");
    assert_4xx(&r, "wrong content type");
    assert_eq!(r.code(), "BAD_REQUEST");
    let status = raw_post_status(bank.port, "/api/csr", 200_000);
    assert_eq!(status, Some(413), "oversize body");
    assert_4xx(&c.get("/api/login"), "GET on a POST route");
    assert_code(&c.get("/api/nope"), 404, "NOT_FOUND", "unknown path");

    // Cross-site browser requests are refused.
    let r = {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut r = agent
            .post(format!("{}/api/nonce", bank.base))
            .header("origin", "https://evil.example")
            .header("content-type", "application/json")
            .send("{}")
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(r.0, 403, "{}", r.1);
    assert!(r.1.contains("ORIGIN_NOT_SERVED"));
}

#[test]
fn pages_and_forms() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut c = bank.client();
    for (body, status, what) in [
        ("", 400, "empty form"),
        ("contract_number=&password=", 400, "blank fields"),
        ("contract_number=SH001001&password=wrong", 401, "wrong password"),
        (&*format!("contract_number={}&password=x", "9".repeat(500)), 400, "overlong"),
        ("%%%=%%%", 400, "not urlencoded"),
    ] {
        let r = c.post_form("/acquire", body);
        assert_eq!(r.status, status, "{what}: {}", r.body);
        assert!(r.content_type.starts_with("text/html"), "{what}");
        assert!(r.body.contains(r#"id="acquire-error""#), "{what}");
    }
    let r = c.post_raw("/acquire", "application/json", b"{}");
    assert_4xx(&r, "JSON to the form");
    // Pages with odd queries still render; protected pages redirect.
    assert_eq!(c.get("/?reason=%3Cscript%3E&lang=xx").status, 200);
    assert_eq!(c.get("/home").status, 303);
    assert_eq!(c.get("/acquire/complete").location.as_deref(), Some("/acquire"));
    // A refused 【取得】 opens no session; a nonce does.
    assert_code(&c.get("/api/certificate"), 401, "NO_SESSION", "refused 【取得】 made no session");
    c.post_json("/api/nonce", &serde_json::json!({}));
    assert_code(&c.get("/api/certificate"), 404, "NOT_FOUND", "session without acquisition");
    assert_code(&bank.client().get("/api/certificate"), 401, "NO_SESSION", "no session");
    // Every page renders in both languages with the stable ids.
    for (path, ids) in [
        ("/", &["kagi-token-status", "logon-button", "acquire-button", "login-message", "logon-error", "install-link"][..]),
        ("/acquire", &["contract-number", "acquire-password", "get-button", "acquire-error", "install-link"][..]),
        ("/help/install", &["extension", "host", "token", "to-logon"][..]),
    ] {
        for lang in ["", "?lang=en"] {
            let r = c.get(&format!("{path}{lang}"));
            assert_eq!(r.status, 200, "{path}{lang}");
            for id in ids {
                assert!(r.body.contains(&format!(r#"id="{id}""#)), "{path}{lang} lacks #{id}");
            }
        }
    }
    let login = c.get("/").body;
    assert!(login.contains("電子証明書取得") && login.contains("ログオン") && login.contains("data-kagi-status"));
    assert!(c.get("/?lang=en").body.contains(r#"<html lang="en">"#));
    let js = c.get("/static/kagi.js");
    assert_eq!(js.status, 200);
    assert!(js.content_type.starts_with("text/javascript"));
    assert!(js.body.contains("export class Kagi"));
    // The 【取得】 form leads to the save step.
    let r = c.post_form("/acquire", &format!("contract_number={CONTRACT}&password={PASSWORD}"));
    assert_eq!(r.status, 200);
    for id in ["save-usb-button", "acquire-progress", "acquire-error", "kagi-token-status", "contract-confirmed"] {
        assert!(r.body.contains(&format!(r#"id="{id}""#)), "save step lacks #{id}");
    }
    assert!(r.body.contains("専用USBに保存する") && r.body.contains("30秒～1分程度"));
    assert!(r.body.contains(r#"id="first-pin-note""#) && r.body.contains("新しい暗証番号"), "the save step explains the first PIN change");

    // Pages that talk to the token carry the bank's CA for the extension (`issuers`), the same
    // certificate as /static/ca-cert.pem and /api/issuers; pages that do not, do not.
    let issuers = bank.bank.issuers();
    assert_eq!(issuers.len(), 1);
    assert_eq!(common::unb64(&issuers[0]), bank.bank.ca.cert_der);
    let meta = format!(r#"<meta name="kagi-issuers" content="{}">"#, issuers[0]);
    assert!(r.body.contains(&meta), "save step lacks the issuers meta");
    assert!(c.get("/").body.contains(&meta) && c.get("/?lang=en").body.contains(&meta));
    assert!(!c.get("/help/install").body.contains("kagi-issuers"));
    let api = c.get("/api/issuers");
    assert_eq!(api.status, 200);
    assert_eq!(api.json(), serde_json::json!({"issuers": issuers}));
    // Customer-facing texts say 暗証番号, never "PIN".
    for page in [c.get("/").body, c.get("/help/install").body, r.body.clone()] {
        let text: String = page.split('<').map(|t| t.split_once('>').map_or("", |(_, x)| x)).collect();
        assert!(!text.contains("PIN"), "a Japanese page says PIN: {text}");
    }
    let bank_js = c.get("/static/bank.js").body;
    // The extension's error texts come from the catalog the extension shows too (issue 15),
    // served before bank.js as `const CATALOG = { ja: …, en: … };`; the bank's own texts follow.
    let (catalog, own) = bank_js.split_once(" };\n").unwrap();
    let catalog_ja = &catalog[catalog.find("{ ja: ").unwrap()..catalog.find(", en: ").unwrap()];
    for code in ["PIN_WEAK", "PIN_CHANGE_REQUIRED", "PUK_INCORRECT", "PUK_BLOCKED", "TOKEN_FULL", "MANAGEMENT_KEY_UNKNOWN", "CHOICE_REQUIRED"] {
        assert!(catalog_ja.contains(&format!("\"{code}\": \"")), "the catalog bank.js serves has no Japanese text for {code}");
    }
    assert!(catalog_ja.contains("{bank}までお問い合わせください"), "the catalog names the bank by placeholder (当金庫 here)");
    let ja = &own[own.find("  ja: {").unwrap()..own.find("  en: {").unwrap()];
    for line in ja.lines() {
        let text = line.split_once(": \"").map_or("", |(_, v)| v);
        assert!(!text.contains("PIN"), "bank.js Japanese text says PIN: {line}");
    }
    // The install page names the smart card service of the customer's platform.
    let windows = c.get_with_user_agent("/help/install", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36").body;
    assert!(windows.contains("「Smart Card」サービス（SCardSvr）") && windows.contains(".msi"), "Windows: SCardSvr and the MSI");
    assert!(!windows.contains("pcscd") && !windows.contains("apt install"), "Windows users are not told about pcscd or apt");
    let linux = c.get_with_user_agent("/help/install", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36").body;
    assert!(linux.contains("スマートカードサービス（pcscd）") && !linux.contains("SCardSvr"), "Linux: pcscd");
}

/// POSTs a JSON body of `len` bytes over a plain socket (the server may answer before reading
/// it all, which an HTTP client reports as a broken connection); returns the status.
fn raw_post_status(port: u16, path: &str, len: usize) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let body = format!(r#"{{"csr":"{}"}}"#, "A".repeat(len));
    let head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body.as_bytes());
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    line.split(' ').nth(1)?.parse().ok()
}
