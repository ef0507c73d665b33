//! Scenario tests for the broker: the service worker's behaviour without a browser.

use super::*;

const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// Stands for the bank's CA certificate (the envelope check wants a DER SEQUENCE).
const CA: &str = "MAA=";
const BANK: PortId = 1;
const OTHER: PortId = 2;
const POPUP: PortId = 3;
const WINDOW: PortId = 4;
const R0: &str = "Virtual PCD 00 00";
const R1: &str = "Virtual PCD 00 01";

fn sha(c: char) -> String {
    c.to_string().repeat(64)
}

fn page(origin: &str) -> PortKind {
    PortKind::Page { origin: Some(origin.into()), url: format!("{origin}/login") }
}

fn hello(protocol: u32) -> Value {
    json!({"type":"hello","protocol":protocol,"hostVersion":"0.2.0","capabilities":[]})
}

/// The customer's allowlist of these tests: the bank page's origin (a release build allows no
/// loopback origin by itself; a development build adds http://localhost and http://127.0.0.1).
fn bank_allowlist() -> Allowlist {
    let origins = ["http://127.0.0.1:8480", "http://localhost:8480", "http://localhost:1234"];
    Allowlist::from_settings(None, origins.map(String::from).to_vec()).0
}

/// A broker with a ready host, a bank page on an allowed origin and a page on another origin
/// (whose port was closed at once).
fn ready() -> Broker {
    let mut b = Broker::new();
    b.set_allowlist(bank_allowlist());
    assert_eq!(b.start(0), vec![Effect::ConnectHost]);
    b.host_message(hello(2), 1);
    assert_eq!(b.port_connected(BANK, page("http://127.0.0.1:8480")), vec![Effect::ToPort(BANK, json!({"type":"welcome"}))]);
    assert_eq!(b.port_connected(OTHER, page("http://127.0.0.2:8480")), vec![Effect::ClosePort(OTHER)]);
    b
}

fn to_host(effects: &[Effect]) -> Vec<Value> {
    effects.iter().filter_map(|e| if let Effect::ToHost(v) = e { Some(v.clone()) } else { None }).collect()
}

fn to_port(effects: &[Effect], port: PortId) -> Vec<Value> {
    effects.iter().filter_map(|e| match e { Effect::ToPort(p, v) if *p == port => Some(v.clone()), _ => None }).collect()
}

fn saved(effects: &[Effect]) -> Vec<Value> {
    effects.iter().filter_map(|e| if let Effect::SaveChoices(v) = e { Some(v.clone()) } else { None }).collect()
}

fn opens_window(effects: &[Effect]) -> bool {
    effects.iter().any(|e| matches!(e, Effect::OpenPinWindow { .. }))
}

fn request(cmd: &str, id: &str, args: Value) -> Value {
    json!({"type":"request","id":id,"cmd":cmd,"args":args})
}

fn login_args() -> Value {
    json!({"nonce": NONCE, "issuers": [CA]})
}

fn enroll_args() -> Value {
    json!({"algorithm": "P-256", "issuers": [CA]})
}

/// A token summary as the host sends it; `cert` is the SHA-256 of the bank's certificate on it.
fn tok(reader: &str, guid: &str, retries: u8, cert: Option<&str>) -> Value {
    let certificate = match cert {
        Some(s) => json!({"slot":"82","subject":{"country":"JP","organization":"Kagi Demo Shinkin Bank","organizationalUnits":[],"commonName":format!("SH001 {guid}")},
            "issuer":{"country":null,"organization":null,"organizationalUnits":[],"commonName":"Kagi Demo CA"},
            "serial":"01","notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z","keyAlgorithm":"P-256","sha256":s}),
        None => Value::Null,
    };
    json!({"reader":reader,"guid":guid,"pinRetries":retries,"pukRetries":3,"pinDefault":false,"managementKey":"pinProtected","certificate":certificate})
}

fn status_of(tokens: Vec<Value>) -> Value {
    json!({"readers":[{"name":R0,"tokenPresent":true},{"name":R1,"tokenPresent":tokens.len() > 1}],"tokens":tokens})
}

fn one_token(retries: u8, with_cert: bool) -> Value {
    status_of(vec![tok(R0, "aa", retries, with_cert.then_some(&*sha('a')))])
}

fn host_reply(b: &mut Broker, id: u64, result: Value, now: u64) -> Vec<Effect> {
    b.host_message(json!({"type":"reply","id":id,"result":result}), now)
}

fn host_error(b: &mut Broker, id: u64, err: Value, now: u64) -> Vec<Effect> {
    b.host_message(json!({"type":"reply","id":id,"error":err}), now)
}

fn id_of(v: &Value) -> u64 {
    v["id"].as_u64().expect("host request id")
}

/// The one request to the host in `effects`.
fn the_host_request(effects: &[Effect]) -> Value {
    let h = to_host(effects);
    assert_eq!(h.len(), 1, "{effects:?}");
    h[0].clone()
}

/// The last view the window got.
fn view(effects: &[Effect]) -> Value {
    to_port(effects, WINDOW).pop().unwrap_or_else(|| panic!("no view in {effects:?}"))
}

/// Starts `cmd` from the bank page, answers the preflight with `status`, attaches the window.
/// Returns the effects of the attach (the first view).
fn until_window(b: &mut Broker, cmd: &str, args: Value, status: Value) -> Vec<Effect> {
    let e = b.port_message(BANK, request(cmd, "L", args), 10);
    let pre = the_host_request(&e);
    assert_eq!(pre["cmd"], "status", "preflight");
    assert_eq!(pre["issuers"], json!([CA]), "the preflight asks with the bank's issuers");
    let e = host_reply(b, id_of(&pre), status, 11);
    let Some(Effect::OpenPinWindow { session, .. }) = e.iter().find(|x| matches!(x, Effect::OpenPinWindow { .. })).cloned() else { panic!("{e:?}") };
    b.port_connected(WINDOW, PortKind::PinWindow);
    b.port_message(WINDOW, json!({"type":"attach","session":session}), 12)
}

fn login_until_pin(b: &mut Broker) {
    let e = until_window(b, "authenticate", login_args(), one_token(3, true));
    let v = view(&e);
    assert_eq!((v["purpose"].as_str(), v["phase"].as_str()), (Some("login"), Some("pin")));
    assert_eq!(v["origin"], "http://127.0.0.1:8480");
    assert_eq!(v["retries"], 3);
}

// ----- status and events ---------------------------------------------------------------------

#[test]
fn page_status_forwards_issuers_and_is_matched_by_id() {
    let mut b = ready();
    let e1 = b.port_message(BANK, request("status", "a", json!({"issuers": [CA]})), 10);
    let e2 = b.port_message(BANK, request("status", "b", json!({"issuers": [CA]})), 11);
    let (h1, h2) = (the_host_request(&e1), the_host_request(&e2));
    assert_eq!(h1, json!({"id": id_of(&h1), "cmd": "status", "issuers": [CA]}));
    assert!(e1.contains(&Effect::RememberBankPage { url: "http://127.0.0.1:8480/login".into() }));
    // Replies in the other order still reach the right request.
    let r2 = host_reply(&mut b, id_of(&h2), one_token(3, true), 12);
    let r1 = host_reply(&mut b, id_of(&h1), json!({"readers":[],"tokens":[],"hostVersion":"0.2.0"}), 13);
    let m2 = &to_port(&r2, BANK)[0];
    assert_eq!(m2["id"], "b");
    assert_eq!(m2["result"]["host"], "ok");
    assert_eq!(m2["result"]["tokens"][0]["pinRetries"], 3);
    assert_eq!(m2["result"]["token"], m2["result"]["tokens"][0]);
    assert_eq!(to_port(&r1, BANK)[0], json!({"type":"reply","id":"a","result":{"host":"ok","hostVersion":"0.2.0","readers":[],"tokens":[],"token":null}}));
    // A late duplicate is ignored.
    assert!(host_reply(&mut b, id_of(&h1), json!({}), 14).is_empty());
}

#[test]
fn status_token_is_the_one_holding_the_bank_certificate() {
    let mut b = ready();
    let mut ask = |tokens: Vec<Value>| {
        let e = b.port_message(BANK, request("status", "s", json!({"issuers": [CA]})), 10);
        let e = host_reply(&mut b, id_of(&the_host_request(&e)), status_of(tokens), 11);
        to_port(&e, BANK)[0]["result"]["token"]["reader"].clone()
    };
    assert_eq!(ask(vec![tok(R0, "aa", 3, None), tok(R1, "bb", 3, Some(&sha('b')))]), R1);
    // Both or neither hold one: the first token.
    assert_eq!(ask(vec![tok(R0, "aa", 3, Some(&sha('a'))), tok(R1, "bb", 3, Some(&sha('b')))]), R0);
    assert_eq!(ask(vec![tok(R0, "aa", 3, None), tok(R1, "bb", 3, None)]), R0);
}

#[test]
fn popup_status_asks_without_issuers() {
    let mut b = ready();
    let e = b.port_connected(POPUP, PortKind::Popup);
    assert_eq!(to_port(&e, POPUP)[0]["host"], "ok");
    let e = b.port_message(POPUP, request("status", "p", json!({})), 10);
    let h = the_host_request(&e);
    assert_eq!(h, json!({"id": id_of(&h), "cmd": "status"}));
    assert!(!e.iter().any(|x| matches!(x, Effect::RememberBankPage { .. })));
    let e = host_reply(&mut b, id_of(&h), status_of(vec![tok(R0, "aa", 2, None)]), 11);
    let r = &to_port(&e, POPUP)[0]["result"];
    assert_eq!((r["host"].as_str(), r["token"]["pinRetries"].as_u64()), (Some("ok"), Some(2)));
}

#[test]
fn a_bank_page_status_remembers_its_certificate_validity_for_the_renewal_badge() {
    let mut b = ready();
    b.set_certificates(&json!({"https://other.example": {"notBefore": "2026-06-01T00:00:00Z", "notAfter": "2027-06-01T00:00:00Z"}}));
    let saved = |e: &[Effect]| e.iter().filter_map(|x| if let Effect::SaveCertificates(v) = x { Some(v.clone()) } else { None }).collect::<Vec<_>>();
    let status = |b: &mut Broker, port: PortId, args: Value, reply: Value| {
        let e = b.port_message(port, request("status", "s", args), 10);
        saved(&host_reply(b, id_of(&the_host_request(&e)), reply, 11))
    };
    let both = json!({
        "https://other.example": {"notBefore": "2026-06-01T00:00:00Z", "notAfter": "2027-06-01T00:00:00Z"},
        "http://127.0.0.1:8480": {"notBefore": "2026-01-01T00:00:00Z", "notAfter": "2027-01-01T00:00:00Z"},
    });
    assert_eq!(status(&mut b, BANK, json!({"issuers": [CA]}), one_token(3, true)), [both.clone()]);
    assert_eq!(b.certificates(), &both);
    // The same again, no bank certificate on the token, or the popup's own status: no write.
    assert!(status(&mut b, BANK, json!({"issuers": [CA]}), one_token(3, true)).is_empty());
    assert!(status(&mut b, BANK, json!({"issuers": [CA]}), one_token(3, false)).is_empty());
    b.port_connected(POPUP, PortKind::Popup);
    assert!(status(&mut b, POPUP, json!({}), one_token(3, true)).is_empty());
    assert_eq!(b.certificates(), &both, "what is remembered stays until the bank page shows another");
}

#[test]
fn bad_issuers_are_refused_before_the_host() {
    let mut b = ready();
    for issuers in [json!([]), json!(["!!"]), json!("MAA="), json!([CA, 5]), json!(vec![CA; 9])] {
        let e = b.port_message(BANK, request("status", "s", json!({"issuers": issuers})), 10);
        assert!(to_host(&e).is_empty(), "{issuers}");
        assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "BAD_REQUEST", "{issuers}");
    }
    // Log-on and acquisition need them.
    for (cmd, args) in [("authenticate", json!({"nonce": NONCE})), ("enroll.begin", json!({"algorithm": "P-256"}))] {
        let e = b.port_message(BANK, request(cmd, "x", args), 10);
        assert!(to_host(&e).is_empty(), "{cmd}");
        assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "BAD_REQUEST", "{cmd}");
    }
}

#[test]
fn other_origins_get_silence_and_never_reach_the_host() {
    let mut b = ready();
    // Its port was closed on connection; anything that still arrives is dropped without a word.
    for cmd in ["status", "authenticate", "enroll.begin", "enroll.finish"] {
        let e = b.port_message(OTHER, request(cmd, "x", login_args()), 10);
        assert!(e.is_empty(), "{cmd}: {e:?}");
    }
    assert!(b.port_message(OTHER, json!({"type":"subscribe"}), 10).is_empty());
    let e = b.host_message(json!({"type":"event","event":"removed","reader":"R"}), 11);
    assert!(to_port(&e, OTHER).is_empty());
    // A page without an http(s) origin (e.g. a file: URL, or a refused sender record) too.
    assert_eq!(b.port_connected(9, PortKind::Page { origin: None, url: "file:///x.html".into() }), vec![Effect::ClosePort(9)]);
    assert!(b.port_message(9, request("status", "x", json!({})), 10).is_empty());
}

#[test]
fn release_build_closes_loopback_pages_that_are_not_configured() {
    let mut b = Broker::new();
    b.start(0);
    b.host_message(hello(2), 1);
    let e = b.port_connected(5, page("http://localhost:3000"));
    if crate::origin::DEV_ORIGINS {
        assert_eq!(e, vec![Effect::ToPort(5, json!({"type":"welcome"}))]);
    } else {
        assert_eq!(e, vec![Effect::ClosePort(5)], "no built-in loopback origin in a release build");
    }
}

#[test]
fn a_page_whose_origin_is_removed_while_open_gets_no_answer() {
    let mut b = ready();
    b.port_message(BANK, json!({"type":"subscribe"}), 2);
    b.set_allowlist(Allowlist::from_settings(Some(vec!["https://bank.example".into()]), vec![]).0);
    if crate::origin::DEV_ORIGINS {
        return; // 127.0.0.1 stays allowed in a development build
    }
    assert!(b.port_message(BANK, request("status", "x", json!({})), 3).is_empty());
    let e = b.host_message(json!({"type":"event","event":"removed","reader":"R"}), 4);
    assert!(to_port(&e, BANK).is_empty());
}

#[test]
fn pages_cannot_change_pins_and_the_popup_cannot_log_on() {
    let mut b = ready();
    let args = json!({"pin":"123456","newPin":"24681357","newPinConfirm":"24681357","puk":"12345678"});
    for cmd in ["pin.change", "pin.unblock"] {
        let e = b.port_message(BANK, request(cmd, "x", args.clone()), 10);
        assert!(to_host(&e).is_empty(), "{cmd}");
        assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "ORIGIN_NOT_ALLOWED", "{cmd}");
    }
    b.port_connected(POPUP, PortKind::Popup);
    for (cmd, a) in [("authenticate", login_args()), ("enroll.begin", enroll_args())] {
        let e = b.port_message(POPUP, request(cmd, "x", a), 10);
        assert!(to_host(&e).is_empty(), "{cmd}");
        assert_eq!(to_port(&e, POPUP)[0]["error"]["code"], "ORIGIN_NOT_ALLOWED", "{cmd}");
    }
}

#[test]
fn events_carry_presence_only_and_reach_subscribed_allowed_pages_and_the_popup() {
    let mut b = ready();
    b.port_connected(POPUP, PortKind::Popup);
    b.port_connected(5, page("http://localhost:1234")); // allowed but not subscribed
    b.port_message(BANK, json!({"type":"subscribe"}), 2);
    b.port_message(OTHER, json!({"type":"subscribe"}), 2);
    let e = b.host_message(json!({"type":"event","event":"inserted","reader":"R"}), 3);
    assert_eq!(to_port(&e, BANK), vec![json!({"type":"event","event":{"type":"inserted","reader":"R"}})]);
    assert!(to_port(&e, OTHER).is_empty());
    assert!(to_port(&e, 5).is_empty());
    assert_eq!(to_port(&e, POPUP)[0]["event"]["event"], "inserted");
    let e = b.host_message(json!({"type":"event","event":"removed","reader":"R"}), 4);
    assert_eq!(to_port(&e, BANK)[0]["event"], json!({"type":"removed","reader":"R"}));
    // Reader and PC/SC events are for the popup only.
    let e = b.host_message(json!({"type":"event","event":"readerAdded","reader":"R"}), 5);
    assert!(to_port(&e, BANK).is_empty());
    assert_eq!(to_port(&e, POPUP).len(), 1);
}

#[test]
fn policy_arriving_late_welcomes_the_page_on_its_next_connection() {
    let mut b = ready();
    // Before the policy: closed without a word (the content script asks again later).
    assert_eq!(b.port_connected(7, page("https://bank.example")), vec![Effect::ClosePort(7)]);
    let (allow, _) = Allowlist::from_settings(Some(vec!["https://bank.example".into()]), vec![]);
    b.set_allowlist(allow);
    assert_eq!(b.port_connected(8, page("https://bank.example")), vec![Effect::ToPort(8, json!({"type":"welcome"}))]);
    b.port_message(8, json!({"type":"subscribe"}), 2);
    let e = b.port_message(8, request("status", "y", json!({})), 4);
    assert_eq!(to_host(&e).len(), 1);
    let e = b.host_message(json!({"type":"event","event":"removed","reader":"R"}), 5);
    assert_eq!(to_port(&e, 8).len(), 1);
}

// ----- the host connection -------------------------------------------------------------------

#[test]
fn missing_host_is_reported_not_hung_and_retried_with_backoff() {
    let mut b = Broker::new();
    b.set_allowlist(bank_allowlist());
    b.start(0);
    b.port_connected(BANK, page("http://127.0.0.1:8480"));
    // A request while connecting waits for the outcome.
    let e = b.port_message(BANK, request("status", "s", json!({})), 1);
    assert!(to_port(&e, BANK).is_empty() && to_host(&e).is_empty());
    let e = b.port_message(BANK, request("authenticate", "a", login_args()), 1);
    assert!(to_port(&e, BANK).is_empty() && to_host(&e).is_empty());
    let e = b.host_disconnected("Specified native messaging host not found.", 2);
    let replies = to_port(&e, BANK);
    assert_eq!(replies[0]["result"], json!({"host":"HOST_NOT_INSTALLED","readers":[],"tokens":[],"token":null}));
    assert_eq!(replies[1]["error"]["code"], "HOST_NOT_INSTALLED");
    assert_eq!(b.next_deadline(), Some(2 + BACKOFF_MIN_MS));
    assert_eq!(b.tick(2 + BACKOFF_MIN_MS), vec![Effect::ConnectHost]);
    b.host_disconnected("Specified native messaging host not found.", 2000);
    assert_eq!(b.next_deadline(), Some(2000 + 2 * BACKOFF_MIN_MS), "backoff doubles");
    // A page asking meanwhile triggers an immediate attempt (the host may just have been installed).
    let e = b.port_message(BANK, request("status", "t", json!({"issuers": [CA]})), 2100);
    assert!(e.contains(&Effect::ConnectHost));
    let e = b.host_message(hello(2), 2101);
    assert_eq!(the_host_request(&e)["issuers"], json!([CA]), "the queued request keeps its issuers");
}

#[test]
fn a_protocol_1_host_is_reported_as_too_old() {
    let mut b = Broker::new();
    b.set_allowlist(bank_allowlist());
    b.start(0);
    b.port_connected(BANK, page("http://127.0.0.1:8480"));
    b.port_message(BANK, request("status", "s", json!({})), 1);
    let e = b.host_message(hello(1), 2);
    assert!(to_host(&e).is_empty());
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "UNKNOWN_COMMAND");
    let e = b.port_message(BANK, request("authenticate", "a", login_args()), 3);
    assert!(to_host(&e).is_empty());
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "UNKNOWN_COMMAND");
}

#[test]
fn a_host_that_never_says_hello_is_dropped() {
    let mut b = Broker::new();
    b.start(0);
    let e = b.tick(HELLO_TIMEOUT_MS);
    assert_eq!(e[0], Effect::DisconnectHost);
    assert!(matches!(b.host_state(), HostState::Unavailable { .. }));
}

#[test]
fn host_death_fails_pending_requests_and_reconnects() {
    let mut b = ready();
    let e = b.port_message(BANK, request("status", "s", json!({})), 10);
    assert_eq!(to_host(&e).len(), 1);
    let e = b.host_disconnected("Native host has exited.", 20);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "INTERNAL");
    assert_eq!(b.tick(20 + BACKOFF_MIN_MS), vec![Effect::ConnectHost]);
}

#[test]
fn host_requests_time_out() {
    let mut b = ready();
    b.port_message(BANK, request("status", "s", json!({})), 10);
    assert!(b.tick(10 + 9_999).is_empty());
    let e = b.tick(10 + 10_000);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "TIMEOUT");
}

// ----- log-on --------------------------------------------------------------------------------

#[test]
fn login_with_a_wrong_then_right_pin() {
    let mut b = ready();
    login_until_pin(&mut b);
    // The PIN entry time does not count: a day later nothing has timed out.
    assert!(b.tick(86_400_000).is_empty());
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"000000"}), 86_400_001);
    let h = the_host_request(&e);
    assert_eq!(h["cmd"], "authenticate");
    assert_eq!(h["origin"], "http://127.0.0.1:8480", "origin from the sender, not the page");
    assert_eq!(h["pin"], "000000");
    assert_eq!(h["issuers"], json!([CA]));
    assert_eq!(h["certificate"], sha('a'), "the certificate the preflight found");
    let e = host_error(&mut b, id_of(&h), json!({"code":"PIN_INCORRECT","retries":2,"message":"x"}), 86_400_002);
    let v = view(&e);
    assert_eq!((v["phase"].as_str(), v["retries"].as_u64()), (Some("pin"), Some(2)));
    assert_eq!(v["error"]["code"], "PIN_INCORRECT");
    assert!(to_port(&e, BANK).iter().all(|m| m["type"] == "progress"), "the page is not answered yet");
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 86_400_003);
    let h = the_host_request(&e);
    let login = json!({"format":"kagi-auth:1","certificate":"MAA=","algorithm":"ES256","signature":"AQI="});
    let e = host_reply(&mut b, id_of(&h), login.clone(), 86_400_004);
    assert_eq!(to_port(&e, BANK), vec![json!({"type":"reply","id":"L","result":login})]);
    assert_eq!(view(&e)["phase"], "done");
}

#[test]
fn the_pin_never_goes_to_a_page_port() {
    let mut b = ready();
    b.port_message(BANK, json!({"type":"subscribe"}), 1);
    b.port_message(OTHER, json!({"type":"subscribe"}), 1);
    let mut all = Vec::new();
    let e = b.port_message(BANK, request("authenticate", "L", login_args()), 10);
    all.extend(e.clone());
    all.extend(host_reply(&mut b, id_of(&the_host_request(&e)), one_token(3, true), 11));
    b.port_connected(WINDOW, PortKind::PinWindow);
    all.extend(b.port_message(WINDOW, json!({"type":"attach","session":1}), 12));
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"97531864"}), 13);
    all.extend(e.clone());
    all.extend(host_error(&mut b, id_of(&the_host_request(&e)), json!({"code":"PIN_BLOCKED","message":"x"}), 14));
    let e = b.port_message(WINDOW, json!({"type":"unblock","puk":"86427531","newPin":"24681357","newPinConfirm":"24681357"}), 15);
    all.extend(e.clone());
    for eff in &all {
        if let Effect::ToPort(_, v) = eff {
            let s = v.to_string();
            assert!(!s.contains("97531864") && !s.contains("86427531") && !s.contains("24681357"), "{v}");
        }
    }
}

#[test]
fn bad_pin_format_is_caught_before_the_host() {
    let mut b = ready();
    login_until_pin(&mut b);
    for bad in ["12345", "123456789", "12a456", ""] {
        let e = b.port_message(WINDOW, json!({"type":"pin","pin":bad}), 20);
        assert!(to_host(&e).is_empty(), "{bad}");
        assert_eq!(view(&e)["error"]["code"], "PIN_FORMAT");
    }
}

#[test]
fn blocked_pin_offers_the_unblock_then_logs_on_with_the_new_pin() {
    let mut b = ready();
    login_until_pin(&mut b);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"000000"}), 20);
    let e = host_error(&mut b, id_of(&the_host_request(&e)), json!({"code":"PIN_BLOCKED","message":"x"}), 21);
    let v = view(&e);
    assert_eq!((v["phase"].as_str(), v["error"]["code"].as_str(), v["pukRetries"].as_u64()), (Some("blocked"), Some("PIN_BLOCKED"), Some(3)));
    assert_eq!(to_port(&e, BANK), vec![json!({"type":"progress","id":"L","step":"unblock","waitingForUser":true})], "the page waits");
    // The new PIN is checked with the shared rule before anything reaches the token.
    for (puk, new, again, code) in [
        ("12345678", "24681357", "24681358", "PIN_MISMATCH"),
        ("12345678", "123456", "123456", "PIN_WEAK"),
        ("12345678", "777777", "777777", "PIN_WEAK"),
        ("12345678", "1234", "1234", "PIN_FORMAT"),
        ("123", "24681357", "24681357", "PUK_FORMAT"),
    ] {
        let e = b.port_message(WINDOW, json!({"type":"unblock","puk":puk,"newPin":new,"newPinConfirm":again}), 22);
        assert!(to_host(&e).is_empty(), "{code}");
        assert_eq!(view(&e)["error"]["code"], code);
    }
    let e = b.port_message(WINDOW, json!({"type":"unblock","puk":"00000000","newPin":"24681357","newPinConfirm":"24681357"}), 23);
    let h = the_host_request(&e);
    assert_eq!(h, json!({"id": id_of(&h), "cmd":"pin.unblock","puk":"00000000","newPin":"24681357","reader":R0}));
    assert_eq!(view(&e)["phase"], "unblocking");
    let e = host_error(&mut b, id_of(&h), json!({"code":"PUK_INCORRECT","retries":2,"message":"x"}), 24);
    let v = view(&e);
    assert_eq!((v["phase"].as_str(), v["error"]["code"].as_str(), v["pukRetries"].as_u64()), (Some("blocked"), Some("PUK_INCORRECT"), Some(2)));
    let e = b.port_message(WINDOW, json!({"type":"unblock","puk":"12345678","newPin":"24681357","newPinConfirm":"24681357"}), 25);
    let e = host_reply(&mut b, id_of(&the_host_request(&e)), json!({"reader": R0}), 26);
    let v = view(&e);
    assert_eq!((v["phase"].as_str(), v["unblocked"].as_bool(), v["error"].is_null()), (Some("pin"), Some(true), true));
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"24681357"}), 27);
    let h = the_host_request(&e);
    assert_eq!((h["cmd"].as_str(), h["pin"].as_str()), (Some("authenticate"), Some("24681357")));
    let e = host_reply(&mut b, id_of(&h), json!({"format":"kagi-auth:1"}), 28);
    assert_eq!(to_port(&e, BANK)[0]["result"]["format"], "kagi-auth:1");
}

#[test]
fn no_tries_left_is_a_blocked_pin() {
    let mut b = ready();
    login_until_pin(&mut b);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"000000"}), 20);
    let e = host_error(&mut b, id_of(&the_host_request(&e)), json!({"code":"PIN_INCORRECT","retries":0,"message":"x"}), 21);
    assert_eq!((view(&e)["phase"].as_str(), view(&e)["error"]["code"].as_str()), (Some("blocked"), Some("PIN_BLOCKED")));
}

#[test]
fn a_blocked_puk_ends_the_session() {
    let mut b = ready();
    let e = until_window(&mut b, "authenticate", login_args(), one_token(0, true));
    assert_eq!(view(&e)["phase"], "blocked", "already blocked: the window opens on the unblock");
    let e = b.port_message(WINDOW, json!({"type":"unblock","puk":"00000000","newPin":"24681357","newPinConfirm":"24681357"}), 20);
    let e = host_error(&mut b, id_of(&the_host_request(&e)), json!({"code":"PUK_BLOCKED","message":"x"}), 21);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "PUK_BLOCKED");
    assert_eq!((view(&e)["phase"].as_str(), view(&e)["error"]["code"].as_str()), (Some("failed"), Some("PUK_BLOCKED")));
}

#[test]
fn cancelling_while_blocked_tells_the_page_the_pin_is_blocked() {
    let mut b = ready();
    until_window(&mut b, "authenticate", login_args(), one_token(0, true));
    let e = b.port_message(WINDOW, json!({"type":"cancel"}), 20);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "PIN_BLOCKED");
}

#[test]
fn closing_or_cancelling_the_window_cancels() {
    let mut b = ready();
    login_until_pin(&mut b);
    let e = b.port_disconnected(WINDOW, 20);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "CANCELLED");
    // The token is free again.
    until_window(&mut b, "authenticate", login_args(), one_token(3, true));
    let e = b.port_message(WINDOW, json!({"type":"cancel"}), 40);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "CANCELLED");
}

#[test]
fn one_interactive_request_at_a_time() {
    let mut b = ready();
    login_until_pin(&mut b);
    let e = b.port_message(BANK, request("enroll.begin", "E", enroll_args()), 20);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "BUSY");
    assert!(to_host(&e).is_empty());
}

#[test]
fn preflight_reports_missing_token_and_certificate() {
    let mut b = ready();
    let mut preflight = |status: Value| {
        let e = b.port_message(BANK, request("authenticate", "L", login_args()), 10);
        let e = host_reply(&mut b, id_of(&the_host_request(&e)), status, 11);
        assert!(!opens_window(&e));
        to_port(&e, BANK)[0]["error"]["code"].clone()
    };
    assert_eq!(preflight(json!({"readers":[{"name":"R","tokenPresent":false}],"tokens":[]})), "TOKEN_ABSENT");
    assert_eq!(preflight(json!({"readers":[],"tokens":[]})), "NO_READER");
    assert_eq!(preflight(one_token(3, false)), "NO_CERTIFICATE");
    let e = b.port_message(BANK, request("authenticate", "L", json!({"nonce": "short", "issuers": [CA]})), 16);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "BAD_REQUEST");
}

// ----- choosing among the bank's certificates ------------------------------------------------

fn two_certs() -> Value {
    status_of(vec![tok(R0, "aa", 3, Some(&sha('a'))), tok(R1, "bb", 2, Some(&sha('b')))])
}

/// A log-on up to the PIN: returns the certificate the host was asked to sign with.
fn login_cert(b: &mut Broker, status: Value, choose: Option<u64>) -> (Value, Vec<Effect>) {
    let mut all = until_window(b, "authenticate", login_args(), status);
    if let Some(i) = choose {
        let v = view(&all);
        assert_eq!(v["phase"], "choose", "{v}");
        let e = b.port_message(WINDOW, json!({"type":"choose","index":i}), 13);
        assert_eq!(view(&e)["phase"], "pin");
        all.extend(e);
    } else {
        assert_eq!(view(&all)["phase"], "pin");
    }
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 14);
    let h = the_host_request(&e);
    host_reply(b, id_of(&h), json!({"format":"kagi-auth:1"}), 15);
    b.port_disconnected(WINDOW, 16);
    (h["certificate"].clone(), all)
}

#[test]
fn several_certificates_are_listed_and_the_choice_is_remembered_until_it_disappears() {
    let mut b = ready();
    // The window lists both; the page waits on "choose".
    let e = b.port_message(BANK, request("authenticate", "L", login_args()), 10);
    let e = host_reply(&mut b, id_of(&the_host_request(&e)), two_certs(), 11);
    assert!(opens_window(&e));
    assert_eq!(to_port(&e, BANK)[0], json!({"type":"progress","id":"L","step":"choose","waitingForUser":true}));
    b.port_connected(WINDOW, PortKind::PinWindow);
    let v = view(&b.port_message(WINDOW, json!({"type":"attach","session":1}), 12));
    assert_eq!(v["phase"], "choose");
    assert_eq!(
        v["choices"][1],
        json!({"reader":R1,"organization":"Kagi Demo Shinkin Bank","commonName":"SH001 bb","notAfter":"2027-01-01T00:00:00Z","hasCertificate":true})
    );
    // An index out of range is ignored.
    assert!(b.port_message(WINDOW, json!({"type":"choose","index":2}), 12).is_empty());
    let e = b.port_message(WINDOW, json!({"type":"choose","index":1}), 13);
    assert_eq!(saved(&e), vec![json!({"http://127.0.0.1:8480": {"sha256": sha('b'), "guid": "bb", "reader": R1}})]);
    assert_eq!(view(&e)["retries"], 2, "tries of the chosen token");
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 14);
    let h = the_host_request(&e);
    assert_eq!(h["certificate"], sha('b'));
    host_reply(&mut b, id_of(&h), json!({"format":"kagi-auth:1"}), 15);
    b.port_disconnected(WINDOW, 16);

    // Next time: no question.
    let (cert, e) = login_cert(&mut b, two_certs(), None);
    assert_eq!(cert, sha('b'));
    assert!(saved(&e).is_empty());
    // That token pulled out: the other one is used, and the choice is kept.
    let (cert, e) = login_cert(&mut b, status_of(vec![tok(R0, "aa", 3, Some(&sha('a')))]), None);
    assert_eq!(cert, sha('a'));
    assert!(saved(&e).is_empty());
    let (cert, _) = login_cert(&mut b, two_certs(), None);
    assert_eq!(cert, sha('b'));
    // A page status showing that token without that certificate forgets the choice.
    let e = b.port_message(BANK, request("status", "s", json!({"issuers": [CA]})), 20);
    let changed = status_of(vec![tok(R0, "aa", 3, Some(&sha('a'))), tok(R1, "bb", 3, Some(&sha('c')))]);
    let e = host_reply(&mut b, id_of(&the_host_request(&e)), changed.clone(), 21);
    assert_eq!(saved(&e), vec![json!({})]);
    let (cert, _) = login_cert(&mut b, changed, Some(0));
    assert_eq!(cert, sha('a'));
}

#[test]
fn stored_choices_are_loaded_and_another_origin_has_its_own() {
    let mut b = ready();
    b.set_choices(&json!({"http://127.0.0.1:8480": {"sha256": sha('b'), "guid": "bb", "reader": R1}, "junk": 1}));
    let (cert, _) = login_cert(&mut b, two_certs(), None);
    assert_eq!(cert, sha('b'));
    b.port_connected(8, page("http://localhost:8480"));
    let e = b.port_message(8, request("authenticate", "L", login_args()), 30);
    let e = host_reply(&mut b, id_of(&the_host_request(&e)), two_certs(), 31);
    assert_eq!(to_port(&e, 8)[0]["step"], "choose");
}

#[test]
fn choice_required_from_the_host_looks_again_in_the_same_window() {
    let mut b = ready();
    login_until_pin(&mut b);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 20);
    let e = host_error(&mut b, id_of(&the_host_request(&e)), json!({"code":"CHOICE_REQUIRED","message":"x"}), 21);
    let pre = the_host_request(&e);
    assert_eq!(pre["cmd"], "status");
    let e = host_reply(&mut b, id_of(&pre), two_certs(), 22);
    assert!(!opens_window(&e), "the window is already open");
    assert_eq!(view(&e)["phase"], "choose");
}

// ----- acquisition ---------------------------------------------------------------------------

#[test]
fn acquisition_runs_through_every_step() {
    let mut b = ready();
    // A token without a certificate may acquire one.
    let e = b.port_message(BANK, request("enroll.begin", "B", enroll_args()), 10);
    let e = host_reply(&mut b, id_of(&the_host_request(&e)), one_token(3, false), 11);
    assert!(e.contains(&Effect::OpenPinWindow { session: 1, confirm: false }));
    assert_eq!(to_port(&e, BANK)[0]["step"], "confirm");
    b.port_connected(WINDOW, PortKind::PinWindow);
    let v = view(&b.port_message(WINDOW, json!({"type":"attach","session":1}), 12));
    assert_eq!((v["phase"].as_str(), v["purpose"].as_str()), (Some("confirm"), Some("enroll")));
    assert_eq!((v["newPin"].as_bool(), v["setup"].as_bool()), (Some(false), Some(false)));
    // The PIN is not accepted before the customer confirmed.
    assert!(to_host(&b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 13)).is_empty());
    let e = b.port_message(WINDOW, json!({"type":"confirm"}), 14);
    assert_eq!(view(&e)["phase"], "pin");
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"24681357"}), 15);
    let h = the_host_request(&e);
    assert_eq!(
        h,
        json!({"id": id_of(&h), "cmd":"enroll.begin","origin":"http://127.0.0.1:8480","pin":"24681357","algorithm":"P-256","issuers":[CA],"reader":R0})
    );
    assert_eq!(to_port(&e, BANK)[0], json!({"type":"progress","id":"B","step":"generate","waitingForUser":false}));
    // Key generation may take a minute: not a timeout.
    assert!(b.tick(15 + 60_000).is_empty());
    let e = host_reply(&mut b, id_of(&h), json!({"reader":R0,"slot":"82","algorithm":"P-256","csr":"MIIB"}), 60_020);
    assert_eq!(to_port(&e, BANK)[0]["result"], json!({"reader":R0,"slot":"82","algorithm":"P-256","csr":"MIIB","enrollment":"1"}));
    assert_eq!(view(&e)["phase"], "issue");
    // Only the page that began may finish, with the right enrollment id.
    let e = b.port_message(BANK, request("enroll.finish", "F0", json!({"enrollment":"2","certificate":"MIIC"})), 60_030);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "NO_ENROLLMENT");
    let e = b.port_message(BANK, request("enroll.finish", "F", json!({"enrollment":"1","certificate":"MIIC"})), 60_040);
    let h = the_host_request(&e);
    assert_eq!(h, json!({"id": id_of(&h), "cmd":"enroll.finish","origin":"http://127.0.0.1:8480","certificate":"MIIC"}));
    assert_eq!(view(&e)["phase"], "store");
    let summary = json!({"slot":"82","serial":"02","sha256":sha('d')});
    let e = host_reply(&mut b, id_of(&h), json!({"certificate": summary}), 60_050);
    assert_eq!(to_port(&e, BANK)[0], json!({"type":"reply","id":"F","result":{"certificate": summary}}));
    assert_eq!(view(&e)["phase"], "done");
    assert_eq!(view(&e)["certificate"], summary);
    assert!(saved(&e).is_empty(), "nothing was chosen");
}

fn factory_token(pin_default: bool, key: &str) -> Value {
    let mut t = tok(R0, "aa", 3, None);
    t["pinDefault"] = json!(pin_default);
    t["managementKey"] = json!(key);
    status_of(vec![t])
}

#[test]
fn a_factory_pin_is_replaced_before_anything_is_written() {
    let mut b = ready();
    let e = until_window(&mut b, "enroll.begin", enroll_args(), factory_token(true, "factory"));
    let v = view(&e);
    assert_eq!((v["newPin"].as_bool(), v["setup"].as_bool()), (Some(true), Some(true)), "new PIN and first-use set-up announced");
    b.port_message(WINDOW, json!({"type":"confirm"}), 13);
    for (msg, code) in [
        (json!({"type":"pin","pin":"123456"}), "PIN_FORMAT"),
        (json!({"type":"pin","pin":"123456","newPin":"24681357","newPinConfirm":"2468135"}), "PIN_MISMATCH"),
        (json!({"type":"pin","pin":"123456","newPin":"123456","newPinConfirm":"123456"}), "PIN_WEAK"),
        (json!({"type":"pin","pin":"123456","newPin":"00000000","newPinConfirm":"00000000"}), "PIN_WEAK"),
    ] {
        let e = b.port_message(WINDOW, msg, 14);
        assert!(to_host(&e).is_empty(), "{code}");
        assert_eq!(view(&e)["error"]["code"], code);
    }
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456","newPin":"24681357","newPinConfirm":"24681357"}), 15);
    let h = the_host_request(&e);
    assert_eq!((h["pin"].as_str(), h["newPin"].as_str()), (Some("123456"), Some("24681357")));
}

#[test]
fn pin_change_required_by_the_host_asks_for_a_new_pin_and_resends() {
    let mut b = ready();
    // The token did not say its PIN is the factory one (no GET METADATA).
    let mut t = tok(R0, "aa", 3, None);
    t["pinDefault"] = Value::Null;
    until_window(&mut b, "enroll.begin", enroll_args(), status_of(vec![t]));
    b.port_message(WINDOW, json!({"type":"confirm"}), 13);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 14);
    let h = the_host_request(&e);
    assert!(h.get("newPin").is_none());
    let e = host_error(&mut b, id_of(&h), json!({"code":"PIN_CHANGE_REQUIRED","message":"x"}), 15);
    let v = view(&e);
    assert_eq!((v["phase"].as_str(), v["newPin"].as_bool(), v["error"]["code"].as_str()), (Some("pin"), Some(true), Some("PIN_CHANGE_REQUIRED")));
    assert_eq!(to_port(&e, BANK)[0]["step"], "pin");
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456","newPin":"24681357","newPinConfirm":"24681357"}), 16);
    let h = the_host_request(&e);
    assert_eq!((h["cmd"].as_str(), h["newPin"].as_str()), (Some("enroll.begin"), Some("24681357")));
    // The token's key attestation reaches the page untouched, beside the CSR.
    let attested = json!({"reader":R0,"slot":"82","algorithm":"P-256","csr":"MIIB","attestation":"MIIC","attestationIntermediate":"MIID"});
    let e = host_reply(&mut b, id_of(&h), attested, 17);
    assert_eq!(view(&e)["newPin"], false, "done with the new PIN");
    let r = &to_port(&e, BANK)[0]["result"];
    assert_eq!((r["attestation"].as_str(), r["attestationIntermediate"].as_str()), (Some("MIIC"), Some("MIID")));
}

#[test]
fn an_unknown_management_key_is_refused_without_a_window() {
    let mut b = ready();
    let e = b.port_message(BANK, request("enroll.begin", "B", enroll_args()), 10);
    let e = host_reply(&mut b, id_of(&the_host_request(&e)), factory_token(false, "unknown"), 11);
    assert!(!opens_window(&e));
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "MANAGEMENT_KEY_UNKNOWN");
    // A log-on does not write: the management key does not matter.
    let mut t = tok(R0, "aa", 3, Some(&sha('a')));
    t["managementKey"] = json!("unknown");
    let e = until_window(&mut b, "authenticate", login_args(), status_of(vec![t]));
    assert_eq!(view(&e)["phase"], "pin");
}

#[test]
fn acquisition_with_two_tokens_asks_which_one_and_sends_its_reader() {
    let mut b = ready();
    let e = until_window(&mut b, "enroll.begin", enroll_args(), status_of(vec![tok(R0, "aa", 3, None), tok(R1, "bb", 3, None)]));
    let v = view(&e);
    assert_eq!(v["phase"], "choose");
    assert_eq!(v["choices"][0]["hasCertificate"], false);
    let e = b.port_message(WINDOW, json!({"type":"choose","index":1}), 13);
    assert!(saved(&e).is_empty(), "a token without the bank's certificate is not a remembered choice");
    b.port_message(WINDOW, json!({"type":"confirm"}), 14);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"24681357"}), 15);
    assert_eq!(the_host_request(&e)["reader"], R1);
}

#[test]
fn renewal_on_the_chosen_token_moves_the_choice_to_the_new_certificate() {
    let mut b = ready();
    b.set_choices(&json!({"http://127.0.0.1:8480": {"sha256": sha('b'), "guid": "bb", "reader": R1}}));
    let e = until_window(&mut b, "enroll.begin", enroll_args(), two_certs());
    assert_eq!(view(&e)["reader"], R1, "the remembered token");
    b.port_message(WINDOW, json!({"type":"confirm"}), 13);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"24681357"}), 14);
    host_reply(&mut b, id_of(&the_host_request(&e)), json!({"reader":R1,"slot":"83","algorithm":"P-256","csr":"MIIB"}), 15);
    let e = b.port_message(BANK, request("enroll.finish", "F", json!({"enrollment":"1","certificate":"MIIC"})), 16);
    let e = host_reply(&mut b, id_of(&the_host_request(&e)), json!({"certificate": {"slot":"83","sha256":sha('e')}}), 17);
    assert_eq!(saved(&e), vec![json!({"http://127.0.0.1:8480": {"sha256": sha('e'), "guid": "bb", "reader": R1}})]);
}

#[test]
fn acquisition_aborted_by_the_bank_shows_in_the_window() {
    let mut b = ready();
    until_window(&mut b, "enroll.begin", enroll_args(), one_token(3, true));
    b.port_message(WINDOW, json!({"type":"confirm"}), 13);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"24681357"}), 14);
    host_reply(&mut b, id_of(&the_host_request(&e)), json!({"reader":R0,"slot":"82","algorithm":"P-256","csr":"MIIB"}), 15);
    let e = b.port_message(BANK, request("enroll.abort", "A", json!({"enrollment":"1","code":"INTERNAL","message":"CA down"})), 16);
    assert_eq!(view(&e)["error"]["code"], "ISSUE_FAILED");
    assert!(to_host(&e).is_empty());
}

// ----- PIN change and unblock from the popup -------------------------------------------------

#[test]
fn popup_changes_and_unblocks_the_pin() {
    let mut b = ready();
    b.port_connected(POPUP, PortKind::Popup);
    let change = json!({"pin":"123456","newPin":"24681357","newPinConfirm":"24681357","reader":R0});
    let e = b.port_message(POPUP, request("pin.change", "c", change.clone()), 10);
    let h = the_host_request(&e);
    assert_eq!(h, json!({"id": id_of(&h), "cmd":"pin.change","pin":"123456","newPin":"24681357","reader":R0}));
    let e = host_reply(&mut b, id_of(&h), json!({"reader": R0}), 11);
    assert_eq!(to_port(&e, POPUP), vec![json!({"type":"reply","id":"c","result":{"reader":R0}})]);
    // Wrong PIN: the tries left reach the popup.
    let e = b.port_message(POPUP, request("pin.change", "d", change), 12);
    let e = host_error(&mut b, id_of(&the_host_request(&e)), json!({"code":"PIN_INCORRECT","retries":2,"message":"x"}), 13);
    assert_eq!(to_port(&e, POPUP)[0]["error"], json!({"code":"PIN_INCORRECT","retries":2,"message":"x"}));
    // Checked before the host: format, confirmation, the weak-PIN rule.
    for (args, code) in [
        (json!({"pin":"12","newPin":"24681357","newPinConfirm":"24681357"}), "PIN_FORMAT"),
        (json!({"pin":"123456","newPin":"24681357","newPinConfirm":"24681350"}), "PIN_MISMATCH"),
        (json!({"pin":"123456","newPin":"11111111","newPinConfirm":"11111111"}), "PIN_WEAK"),
    ] {
        let e = b.port_message(POPUP, request("pin.change", "x", args), 14);
        assert!(to_host(&e).is_empty(), "{code}");
        assert_eq!(to_port(&e, POPUP)[0]["error"]["code"], code);
    }
    let e = b.port_message(POPUP, request("pin.unblock", "u", json!({"puk":"12345678","newPin":"24681357","newPinConfirm":"24681357"})), 15);
    let h = the_host_request(&e);
    assert_eq!(h, json!({"id": id_of(&h), "cmd":"pin.unblock","puk":"12345678","newPin":"24681357"}));
    let e = host_error(&mut b, id_of(&h), json!({"code":"PUK_BLOCKED","message":"x"}), 16);
    assert_eq!(to_port(&e, POPUP)[0]["error"]["code"], "PUK_BLOCKED");
}

/// The broker writes host requests itself (no serde_json in the WASM): field for field what
/// `kagi_proto::Request::to_json` writes and `Request::parse` reads back, for every command.
#[test]
fn host_requests_as_proto_writes_them() {
    let origin = r#""origin":"http://127.0.0.1:8480""#;
    let lines = [
        r#"{"id":1,"cmd":"status"}"#.to_owned(),
        r#"{"id":2,"cmd":"status","issuers":["MAA="]}"#.to_owned(),
        format!(r#"{{"id":3,"cmd":"authenticate",{origin},"nonce":"{NONCE}","pin":"123456","issuers":["MAA=","MAA="]}}"#),
        format!(r#"{{"id":4,"cmd":"authenticate",{origin},"nonce":"{NONCE}","pin":"123456","issuers":["MAA="],"certificate":"{}"}}"#, sha('a')),
        format!(r#"{{"id":5,"cmd":"enroll.begin",{origin},"pin":"123456","algorithm":"P-256","issuers":["MAA="]}}"#),
        format!(r#"{{"id":6,"cmd":"enroll.begin",{origin},"pin":"123456","algorithm":"RSA-2048","issuers":["MAA="],"reader":"{R0}","newPin":"97531864"}}"#),
        format!(r#"{{"id":7,"cmd":"enroll.finish",{origin},"certificate":"MAA="}}"#),
        r#"{"id":8,"cmd":"pin.change","pin":"123456","newPin":"97531864"}"#.to_owned(),
        format!(r#"{{"id":9,"cmd":"pin.change","pin":"123456","newPin":"97531864","reader":"{R1}"}}"#),
        format!(r#"{{"id":10,"cmd":"pin.unblock","puk":"12345678","newPin":"97531864","reader":"{R1}"}}"#),
        r#"{"id":11,"cmd":"pin.unblock","puk":"12345678","newPin":"97531864"}"#.to_owned(),
        r#"{"id":12,"cmd":"diagnose"}"#.to_owned(),
        r#"{"id":13,"cmd":"diagnose","issuers":["MAA="]}"#.to_owned(),
        format!(r#"{{"id":14,"cmd":"confirm",{origin},"nonce":"{NONCE}","pin":"123456","issuers":["MAA="],"tx":{}}}"#, tx_json()),
        format!(r#"{{"id":15,"cmd":"confirm",{origin},"nonce":"{NONCE}","pin":"123456","issuers":["MAA="],"tx":{},"certificate":"{}"}}"#, tx_json(), sha('a')),
    ];
    crate::nfc::install();
    for line in lines {
        let r = kagi_proto::Request::parse(line.as_bytes()).unwrap_or_else(|_| panic!("{line}"));
        let ours = host::request_json(r.id, &r.command);
        assert_eq!(ours, crate::json::from_serde(r.to_json()), "{line}");
        assert_eq!(ours, crate::json::from_serde(serde_json::from_str(&line).unwrap()), "{line}");
    }
}

// ----- Support desk: diagnose and the badge (issue 15) ---------------------------------------

#[test]
fn the_popup_alone_asks_diagnose_and_gets_the_hosts_reply() {
    let mut b = ready();
    // A bank page may not learn what the machine looks like.
    let e = b.port_message(BANK, request("diagnose", "x", json!({})), 10);
    assert!(to_host(&e).is_empty());
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "ORIGIN_NOT_ALLOWED");
    b.port_connected(POPUP, PortKind::Popup);
    let e = b.port_message(POPUP, request("diagnose", "d", json!({})), 11);
    let h = the_host_request(&e);
    assert_eq!(h, json!({"id": id_of(&h), "cmd": "diagnose"}));
    let result = json!({"ok": true, "hostVersion": "0.2.0", "text": "Kagi 診断情報\n"});
    let e = host_reply(&mut b, id_of(&h), result.clone(), 12);
    assert_eq!(to_port(&e, POPUP), vec![json!({"type":"reply","id":"d","result":result})]);
}

#[test]
fn without_a_host_diagnose_says_host_not_installed_and_the_badge_is_raised_until_hello() {
    let mut b = Broker::new();
    assert_eq!(b.host_missing(), None, "not tried yet: no badge");
    assert_eq!(b.start(0), vec![Effect::ConnectHost]);
    b.port_connected(POPUP, PortKind::Popup);
    let e = b.port_message(POPUP, request("diagnose", "d", json!({})), 1);
    assert!(to_host(&e).is_empty());
    let e = b.host_disconnected("Specified native messaging host not found.", 2);
    assert_eq!(to_port(&e, POPUP)[0]["error"]["code"], "HOST_NOT_INSTALLED");
    assert_eq!(b.host_missing(), Some(true));
    // A retry in flight keeps the badge; the hello clears it.
    let e = b.port_message(POPUP, request("status", "s", json!({})), 3);
    assert!(e.contains(&Effect::ConnectHost));
    assert_eq!(b.host_missing(), None);
    b.host_message(hello(2), 4);
    assert_eq!(b.host_missing(), Some(false));
}

// ----- Transaction confirmation (issue 16) ---------------------------------------------------

use crate::txview::tests::tx;

fn tx_json() -> String {
    tx().to_string()
}

fn confirm_args(tx: Value) -> Value {
    json!({"nonce": NONCE, "issuers": [CA], "tx": tx})
}

/// A bank page asks to confirm `tx()`: the window opens in confirmation mode at the PIN.
/// Returns the session's window view.
fn confirm_until_pin(b: &mut Broker) -> Value {
    crate::nfc::install();
    let e = b.port_message(BANK, request("confirm", "L", confirm_args(tx())), 10);
    let e = host_reply(b, id_of(&the_host_request(&e)), one_token(3, true), 11);
    assert!(e.contains(&Effect::OpenPinWindow { session: 1, confirm: true }), "the taller confirmation window");
    b.port_connected(WINDOW, PortKind::PinWindow);
    let e = b.port_message(WINDOW, json!({"type":"attach","session":1}), 12);
    let v = view(&e);
    assert_eq!((v["purpose"].as_str(), v["phase"].as_str()), (Some("confirm"), Some("pin")));
    v
}

#[test]
fn confirm_opens_the_window_with_every_parsed_field_in_signing_order() {
    let mut b = ready();
    let v = confirm_until_pin(&mut b);
    assert_eq!(v["origin"], "http://127.0.0.1:8480");
    assert_eq!(v["retries"], 3);
    assert_eq!(v["inputDelayMs"], 1000);
    // Exactly the schema's 26 fields, in the order they are signed, with the page's values.
    let shown: Vec<(String, String)> = v["tx"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
    let names: Vec<&str> = kagi_proto::tx::DENSAI_FIELDS.iter().map(|(n, _)| *n).collect();
    assert_eq!(shown.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), names);
    for (k, val) in &shown {
        assert_eq!(tx()[k.as_str()].as_str(), Some(val.as_str()), "{k}");
    }
    // The page learns only that the customer is being asked.
    let page = to_port(&until_window_progress(&mut ready()), BANK);
    assert_eq!(page, vec![json!({"type":"progress","id":"L","step":"pin","waitingForUser":true})]);
}

/// The page's messages while a confirmation reaches the PIN.
fn until_window_progress(b: &mut Broker) -> Vec<Effect> {
    crate::nfc::install();
    let e = b.port_message(BANK, request("confirm", "L", confirm_args(tx())), 10);
    host_reply(b, id_of(&the_host_request(&e)), one_token(3, true), 11)
}

#[test]
fn the_pin_from_the_window_goes_to_the_host_with_the_typed_tx_and_the_signature_to_the_page() {
    let mut b = ready();
    confirm_until_pin(&mut b);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 12 + 1_000);
    let h = the_host_request(&e);
    assert_eq!(h["cmd"], "confirm");
    assert_eq!(h["origin"], "http://127.0.0.1:8480", "the origin is the sender record's, not the page's word");
    assert_eq!((h["nonce"].as_str(), h["pin"].as_str()), (Some(NONCE), Some("123456")));
    assert_eq!(h["issuers"], json!([CA]));
    assert_eq!(h["tx"], tx(), "the typed tx, never a digest");
    assert_eq!(h["certificate"], sha('a'));
    // The PIN went to the host only: nothing with it reached the page.
    assert!(to_port(&e, BANK).iter().all(|m| !m.to_string().contains("123456")));
    assert_eq!(to_port(&e, BANK), vec![json!({"type":"progress","id":"L","step":"sign","waitingForUser":false})]);
    let sig = json!({"format":"kagi-tx:1","certificate":"MAA=","algorithm":"ES256","signature":"AA==","bodySha256":"00"});
    let e = host_reply(&mut b, id_of(&h), sig.clone(), 1_100);
    assert_eq!(to_port(&e, BANK), vec![json!({"type":"reply","id":"L","result":sig})]);
    assert_eq!(view(&e)["phase"], "done");
}

#[test]
fn a_pin_from_the_page_is_not_taken() {
    let mut b = ready();
    crate::nfc::install();
    let mut args = confirm_args(tx());
    args["pin"] = json!("123456");
    let e = b.port_message(BANK, request("confirm", "L", args), 10);
    let pre = the_host_request(&e);
    assert_eq!(pre["cmd"], "status", "the page's PIN does not skip the window");
    let e = host_reply(&mut b, id_of(&pre), one_token(3, true), 11);
    assert!(opens_window(&e));
    assert!(to_host(&e).is_empty(), "nothing is signed before the customer types the PIN in the window");
    // The page cannot speak for the window either.
    let e = b.port_message(BANK, json!({"type":"pin","pin":"123456"}), 2_000);
    assert!(to_host(&e).is_empty());
}

#[test]
fn each_bad_tx_is_tx_invalid_naming_the_field_without_window_or_host() {
    let mut b = ready();
    crate::nfc::install();
    let with = |k: &str, v: Value| {
        let mut t = tx();
        t[k] = v;
        t
    };
    let without = |k: &str| {
        let mut t = tx();
        if let Value::Object(m) = &mut t {
            m.remove(k);
        }
        t
    };
    let cases = [
        (with("kind", json!("densai.transfer/9")), "kind"),
        (with("memo", json!("振込先変更のお知らせ")), "memo"),
        (without("dueDate"), "dueDate"),
        (with("amountYen", json!("１２３４５")), "amountYen"),
        (with("counterparty.accountNo", json!("７６５４３２１")), "counterparty.accountNo"),
        (with("counterparty.name", json!("株式会社\u{202E}品部南")), "counterparty.name"),
        (with("payer.name", json!("鍵\u{200B}商事")), "payer.name"),
        // NFD: カ + combining voiced mark is not NFC (ガ is).
        (with("counterparty.name", json!("カ\u{3099}イシャ")), "counterparty.name"),
        (with("dueDate", json!("2027-02-29")), "dueDate"),
        (with("recordDate", json!("2026/12/01")), "recordDate"),
        (with("amountYen", json!(12345678)), "amountYen"),
        (with("amountYen", json!("0")), "amountYen"),
        (json!("00ff"), "tx"),
    ];
    for (t, field) in cases {
        let e = b.port_message(BANK, request("confirm", "c", confirm_args(t.clone())), 10);
        assert!(to_host(&e).is_empty(), "{field}: nothing to the host");
        assert!(!opens_window(&e), "{field}: no window");
        let r = to_port(&e, BANK);
        assert_eq!(r.len(), 1, "{field}");
        assert_eq!(r[0]["error"]["code"], "TX_INVALID", "{field}");
        assert_eq!(r[0]["error"]["field"], field, "{t}");
        // The refusal names the field, never the value the page chose.
        if let Some(v) = t.get(field).and_then(Value::as_str) {
            assert!(!r[0]["error"]["message"].as_str().unwrap().contains(v), "{field}");
        }
    }
    // The tx is judged before anything else about the request.
    let e = b.port_message(BANK, request("confirm", "c", json!({"nonce": "short", "tx": with("guarantee", json!("2"))})), 10);
    assert_eq!(to_port(&e, BANK)[0]["error"]["field"], "guarantee");
    // A valid tx with a bad nonce or without issuers: BAD_REQUEST, still no window.
    for args in [json!({"nonce": "short", "issuers": [CA], "tx": tx()}), json!({"nonce": NONCE, "tx": tx()})] {
        let e = b.port_message(BANK, request("confirm", "c", args), 10);
        assert!(to_host(&e).is_empty() && !opens_window(&e));
        assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "BAD_REQUEST");
    }
}

#[test]
fn a_foreign_origin_gets_silence_and_the_popup_cannot_confirm() {
    let mut b = ready();
    crate::nfc::install();
    // OTHER's port was closed at once (ready()); a message on it changes nothing.
    assert!(b.port_message(OTHER, request("confirm", "c", confirm_args(tx())), 10).is_empty());
    // An origin that was allowed when the page loaded and is not now: no answer either.
    b.set_allowlist(Allowlist::from_settings(None, vec![]).0);
    assert!(b.port_message(BANK, request("confirm", "c", confirm_args(tx())), 10).is_empty());
    b.set_allowlist(bank_allowlist());
    b.port_connected(POPUP, PortKind::Popup);
    let e = b.port_message(POPUP, request("confirm", "p", confirm_args(tx())), 11);
    assert!(to_host(&e).is_empty() && !opens_window(&e));
    assert_eq!(to_port(&e, POPUP)[0]["error"]["code"], "ORIGIN_NOT_ALLOWED");
}

#[test]
fn cancel_sends_nothing_to_the_host_and_the_page_gets_cancelled() {
    for how in ["button", "closed"] {
        let mut b = ready();
        confirm_until_pin(&mut b);
        let e = if how == "button" {
            b.port_message(WINDOW, json!({"type":"cancel"}), 500)
        } else {
            b.port_disconnected(WINDOW, 500)
        };
        assert!(to_host(&e).is_empty(), "{how}");
        assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "CANCELLED", "{how}: as a cancelled log-on");
        // Nothing is pending: a PIN afterwards goes nowhere.
        assert!(to_host(&b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 5_000)).is_empty(), "{how}");
    }
}

#[test]
fn input_in_the_first_second_of_the_window_is_ignored() {
    let mut b = ready();
    confirm_until_pin(&mut b);
    // The window attached at 12: a PIN (an Enter held down as it appeared) before 1012 is dropped.
    for at in [12, 500, 1_011] {
        let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), at);
        assert!(to_host(&e).is_empty(), "at {at}");
        assert!(to_port(&e, BANK).is_empty(), "at {at}");
        assert_eq!(view(&e)["phase"], "pin", "at {at}: the window asks again");
    }
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 1_012);
    assert_eq!(the_host_request(&e)["cmd"], "confirm");
    // A log-on has no such delay (its window shows nothing to read).
    let mut b = ready();
    login_until_pin(&mut b);
    assert_eq!(the_host_request(&b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 13))["cmd"], "authenticate");
}

#[test]
fn pin_incorrect_and_card_removed_as_for_log_on() {
    let mut b = ready();
    confirm_until_pin(&mut b);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"111111"}), 2_000);
    let e = host_error(&mut b, id_of(&the_host_request(&e)), json!({"code":"PIN_INCORRECT","retries":2,"message":"x"}), 2_100);
    let v = view(&e);
    assert_eq!((v["phase"].as_str(), v["error"]["code"].as_str(), v["retries"].as_u64()), (Some("pin"), Some("PIN_INCORRECT"), Some(2)));
    assert_eq!(v["tx"]["amountYen"], "12345678", "the window still shows the transaction");
    assert!(to_port(&e, BANK).iter().all(|m| m["type"] == "progress"), "the page keeps waiting");
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 3_000);
    let h = the_host_request(&e);
    assert_eq!(h["cmd"], "confirm");
    let e = host_error(&mut b, id_of(&h), json!({"code":"CARD_REMOVED","message":"x"}), 3_100);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "CARD_REMOVED");
    assert_eq!((view(&e)["phase"].as_str(), view(&e)["error"]["code"].as_str()), (Some("failed"), Some("CARD_REMOVED")));
}

#[test]
fn the_token_pulled_with_the_confirmation_window_open_is_card_removed_and_nothing_is_signed() {
    let mut b = ready();
    confirm_until_pin(&mut b);
    // Another reader's token going changes nothing.
    let e = b.host_message(json!({"type":"event","event":"removed","reader":R1}), 2_000);
    assert!(to_port(&e, BANK).is_empty() && to_port(&e, WINDOW).is_empty());
    let e = b.host_message(json!({"type":"event","event":"removed","reader":R0}), 2_100);
    assert!(to_host(&e).is_empty());
    let page: Vec<Value> = to_port(&e, BANK).into_iter().filter(|m| m["type"] == "reply").collect();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["error"]["code"], "CARD_REMOVED");
    assert_eq!((view(&e)["phase"].as_str(), view(&e)["error"]["code"].as_str()), (Some("failed"), Some("CARD_REMOVED")));
    // A PIN typed afterwards goes nowhere.
    assert!(to_host(&b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 3_000)).is_empty());
    // A log-on's window stays (the host answers when the PIN comes).
    let mut b = ready();
    login_until_pin(&mut b);
    let e = b.host_message(json!({"type":"event","event":"removed","reader":R0}), 2_000);
    assert!(to_port(&e, WINDOW).is_empty());
}
