//! Scenario tests for the broker: the service worker's behaviour without a browser.

use super::*;

const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const BANK: PortId = 1;
const OTHER: PortId = 2;
const POPUP: PortId = 3;
const WINDOW: PortId = 4;

fn page(origin: &str) -> PortKind {
    PortKind::Page { origin: Some(origin.into()), url: format!("{origin}/login") }
}

/// A broker with a ready host, a bank page on an allowed origin and a page on another origin.
fn ready() -> Broker {
    let mut b = Broker::new();
    assert_eq!(b.start(0), vec![Effect::ConnectHost]);
    b.host_message(json!({"type":"hello","protocol":1,"hostVersion":"0.1.0","capabilities":[]}), 1);
    b.port_connected(BANK, page("http://127.0.0.1:8480"));
    b.port_connected(OTHER, page("http://127.0.0.2:8480"));
    b
}

fn to_host(effects: &[Effect]) -> Vec<Value> {
    effects.iter().filter_map(|e| if let Effect::ToHost(v) = e { Some(v.clone()) } else { None }).collect()
}

fn to_port(effects: &[Effect], port: PortId) -> Vec<Value> {
    effects.iter().filter_map(|e| match e { Effect::ToPort(p, v) if *p == port => Some(v.clone()), _ => None }).collect()
}

fn request(cmd: &str, id: &str, args: Value) -> Value {
    json!({"type":"request","id":id,"cmd":cmd,"args":args})
}

fn token(retries: u8, with_cert: bool) -> Value {
    let cert = if with_cert { json!({"slot":"9A","serial":"01","notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z"}) } else { Value::Null };
    json!({"reader":"Virtual PCD 00 00","guid":"00","pinRetries":retries,"certificate":cert})
}

fn status_result(retries: u8, with_cert: bool) -> Value {
    json!({"readers":[{"name":"Virtual PCD 00 00","tokenPresent":true}],"token":token(retries, with_cert)})
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

#[test]
fn status_is_relayed_and_matched_by_id() {
    let mut b = ready();
    let e1 = b.port_message(BANK, request("status", "a", json!({})), 10);
    let e2 = b.port_message(BANK, request("status", "b", json!({})), 11);
    let (h1, h2) = (to_host(&e1), to_host(&e2));
    assert_eq!(h1[0]["cmd"], "status");
    assert!(e1.contains(&Effect::RememberBankPage { url: "http://127.0.0.1:8480/login".into() }));
    // Replies in the other order still reach the right request.
    let r2 = host_reply(&mut b, id_of(&h2[0]), status_result(3, true), 12);
    let r1 = host_reply(&mut b, id_of(&h1[0]), json!({"readers":[],"token":null}), 13);
    assert_eq!(to_port(&r2, BANK)[0]["id"], "b");
    assert_eq!(to_port(&r2, BANK)[0]["result"]["host"], "ok");
    assert_eq!(to_port(&r2, BANK)[0]["result"]["token"]["pinRetries"], 3);
    assert_eq!(to_port(&r1, BANK)[0]["id"], "a");
    // A late duplicate is ignored.
    assert!(host_reply(&mut b, id_of(&h1[0]), json!({}), 14).is_empty());
}

#[test]
fn other_origins_are_refused_and_never_reach_the_host() {
    let mut b = ready();
    for cmd in ["status", "authenticate", "enroll.begin", "enroll.finish"] {
        let e = b.port_message(OTHER, request(cmd, "x", json!({"nonce": NONCE})), 10);
        assert!(to_host(&e).is_empty(), "{cmd}");
        assert_eq!(to_port(&e, OTHER)[0]["error"]["code"], "ORIGIN_NOT_ALLOWED", "{cmd}");
    }
    // A page without an http(s) origin (e.g. a file: URL) is refused too.
    b.port_connected(9, PortKind::Page { origin: None, url: "file:///x.html".into() });
    let e = b.port_message(9, request("status", "x", json!({})), 10);
    assert_eq!(to_port(&e, 9)[0]["error"]["code"], "ORIGIN_NOT_ALLOWED");
    // Only status is open to the popup.
    b.port_connected(POPUP, PortKind::Popup);
    let e = b.port_message(POPUP, request("authenticate", "x", json!({"nonce": NONCE})), 10);
    assert_eq!(to_port(&e, POPUP)[0]["error"]["code"], "ORIGIN_NOT_ALLOWED");
}

#[test]
fn events_reach_subscribed_allowed_pages_and_the_popup_only() {
    let mut b = ready();
    b.port_connected(POPUP, PortKind::Popup);
    b.port_connected(5, page("http://localhost:1234")); // allowed but not subscribed
    b.port_message(BANK, json!({"type":"subscribe"}), 2);
    b.port_message(OTHER, json!({"type":"subscribe"}), 2);
    let e = b.host_message(json!({"type":"event","event":"inserted","reader":"R","token":token(3, true)}), 3);
    assert_eq!(to_port(&e, BANK), vec![json!({"type":"event","event":{"type":"inserted","reader":"R","token":token(3, true)}})]);
    assert!(to_port(&e, OTHER).is_empty());
    assert!(to_port(&e, 5).is_empty());
    assert_eq!(to_port(&e, POPUP)[0]["event"]["event"], "inserted");
    let e = b.host_message(json!({"type":"event","event":"removed","reader":"R"}), 4);
    assert_eq!(to_port(&e, BANK)[0]["event"], json!({"type":"removed","reader":"R","token":null}));
    // Reader and PC/SC events are for the popup only.
    let e = b.host_message(json!({"type":"event","event":"readerAdded","reader":"R"}), 5);
    assert!(to_port(&e, BANK).is_empty());
    assert_eq!(to_port(&e, POPUP).len(), 1);
}

#[test]
fn policy_arriving_late_opens_an_already_connected_page() {
    let mut b = ready();
    b.port_connected(7, page("https://bank.example"));
    b.port_message(7, json!({"type":"subscribe"}), 2);
    let e = b.port_message(7, request("status", "x", json!({})), 3);
    assert_eq!(to_port(&e, 7)[0]["error"]["code"], "ORIGIN_NOT_ALLOWED");
    let (allow, _) = Allowlist::from_settings(Some(vec!["https://bank.example".into()]), vec![]);
    b.set_allowlist(allow);
    let e = b.port_message(7, request("status", "y", json!({})), 4);
    assert_eq!(to_host(&e).len(), 1);
    let e = b.host_message(json!({"type":"event","event":"removed","reader":"R"}), 5);
    assert_eq!(to_port(&e, 7).len(), 1);
}

#[test]
fn missing_host_is_reported_not_hung_and_retried_with_backoff() {
    let mut b = Broker::new();
    b.start(0);
    b.port_connected(BANK, page("http://127.0.0.1:8480"));
    // A request while connecting waits for the outcome.
    let e = b.port_message(BANK, request("status", "s", json!({})), 1);
    assert!(to_port(&e, BANK).is_empty() && to_host(&e).is_empty());
    let e = b.port_message(BANK, request("authenticate", "a", json!({"nonce": NONCE})), 1);
    assert!(to_port(&e, BANK).is_empty() && to_host(&e).is_empty());
    let e = b.host_disconnected("Specified native messaging host not found.", 2);
    let replies = to_port(&e, BANK);
    assert_eq!(replies[0]["result"]["host"], "HOST_NOT_INSTALLED");
    assert_eq!(replies[1]["error"]["code"], "HOST_NOT_INSTALLED");
    assert_eq!(b.next_deadline(), Some(2 + BACKOFF_MIN_MS));
    assert_eq!(b.tick(2 + BACKOFF_MIN_MS), vec![Effect::ConnectHost]);
    b.host_disconnected("Specified native messaging host not found.", 2000);
    assert_eq!(b.next_deadline(), Some(2000 + 2 * BACKOFF_MIN_MS), "backoff doubles");
    // A page asking meanwhile triggers an immediate attempt (the host may just have been installed).
    let e = b.port_message(BANK, request("status", "t", json!({})), 2100);
    assert!(e.contains(&Effect::ConnectHost));
    let e = b.host_message(json!({"type":"hello","protocol":1,"hostVersion":"0.1.0","capabilities":[]}), 2101);
    assert_eq!(to_host(&e)[0]["cmd"], "status");
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

/// Runs a login up to the PIN window being attached; returns the preflight-free broker.
fn login_until_pin(b: &mut Broker) {
    let e = b.port_message(BANK, request("authenticate", "L", json!({"nonce": NONCE})), 10);
    let pre = to_host(&e);
    assert_eq!(pre[0]["cmd"], "status", "preflight");
    let e = host_reply(b, id_of(&pre[0]), status_result(3, true), 11);
    assert!(e.contains(&Effect::OpenPinWindow { session: 1 }));
    assert_eq!(to_port(&e, BANK)[0], json!({"type":"progress","id":"L","step":"pin","waitingForUser":true}));
    b.port_connected(WINDOW, PortKind::PinWindow);
    let e = b.port_message(WINDOW, json!({"type":"attach","session":1}), 12);
    let view = &to_port(&e, WINDOW)[0];
    assert_eq!(view["purpose"], "login");
    assert_eq!(view["origin"], "http://127.0.0.1:8480");
    assert_eq!(view["phase"], "pin");
    assert_eq!(view["retries"], 3);
}

#[test]
fn login_with_a_wrong_then_right_pin() {
    let mut b = ready();
    login_until_pin(&mut b);
    // The PIN entry time does not count: a day later nothing has timed out.
    assert!(b.tick(86_400_000).is_empty());
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"000000"}), 86_400_001);
    let h = to_host(&e);
    assert_eq!(h[0]["cmd"], "authenticate");
    assert_eq!(h[0]["origin"], "http://127.0.0.1:8480", "origin from the sender, not the page");
    assert_eq!(h[0]["pin"], "000000");
    let e = host_error(&mut b, id_of(&h[0]), json!({"code":"PIN_INCORRECT","retries":2,"message":"x"}), 86_400_002);
    let view = &to_port(&e, WINDOW)[0];
    assert_eq!((view["phase"].as_str(), view["retries"].as_u64()), (Some("pin"), Some(2)));
    assert_eq!(view["error"]["code"], "PIN_INCORRECT");
    assert!(to_port(&e, BANK).iter().all(|m| m["type"] == "progress"), "the page is not answered yet");
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 86_400_003);
    let h = to_host(&e);
    let login = json!({"format":"kagi-auth:1","certificate":"MAA=","algorithm":"ES256","signature":"AQI="});
    let e = host_reply(&mut b, id_of(&h[0]), login.clone(), 86_400_004);
    assert_eq!(to_port(&e, BANK), vec![json!({"type":"reply","id":"L","result":login})]);
    assert_eq!(to_port(&e, WINDOW)[0]["phase"], "done");
}

#[test]
fn the_pin_never_goes_to_a_page_port() {
    let mut b = ready();
    b.port_message(BANK, json!({"type":"subscribe"}), 1);
    b.port_message(OTHER, json!({"type":"subscribe"}), 1);
    let mut all = Vec::new();
    let e = b.port_message(BANK, request("authenticate", "L", json!({"nonce": NONCE})), 10);
    all.extend(e.clone());
    all.extend(host_reply(&mut b, id_of(&to_host(&e)[0]), status_result(3, true), 11));
    b.port_connected(WINDOW, PortKind::PinWindow);
    all.extend(b.port_message(WINDOW, json!({"type":"attach","session":1}), 12));
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"97531864"}), 13);
    all.extend(e.clone());
    all.extend(host_error(&mut b, id_of(&to_host(&e)[0]), json!({"code":"PIN_INCORRECT","retries":2,"message":"x"}), 14));
    for eff in &all {
        if let Effect::ToPort(_, v) = eff {
            assert!(!v.to_string().contains("97531864"), "{v}");
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
        assert_eq!(to_port(&e, WINDOW)[0]["error"]["code"], "PIN_FORMAT");
    }
}

#[test]
fn blocked_pin_ends_with_contact_the_bank() {
    let mut b = ready();
    login_until_pin(&mut b);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"000000"}), 20);
    let e = host_error(&mut b, id_of(&to_host(&e)[0]), json!({"code":"PIN_BLOCKED","message":"x"}), 21);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "PIN_BLOCKED");
    assert_eq!(to_port(&e, WINDOW)[0]["phase"], "failed");
    assert_eq!(to_port(&e, WINDOW)[0]["error"]["code"], "PIN_BLOCKED");
    // Already blocked before asking: the window does not open.
    b.port_disconnected(WINDOW, 22);
    let e = b.port_message(BANK, request("authenticate", "M", json!({"nonce": NONCE})), 30);
    let e = host_reply(&mut b, id_of(&to_host(&e)[0]), status_result(0, true), 31);
    assert!(!e.iter().any(|x| matches!(x, Effect::OpenPinWindow { .. })));
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "PIN_BLOCKED");
}

#[test]
fn closing_or_cancelling_the_window_cancels() {
    let mut b = ready();
    login_until_pin(&mut b);
    let e = b.port_disconnected(WINDOW, 20);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "CANCELLED");
    // The token is free again.
    login_until_pin_again(&mut b);
    let e = b.port_message(WINDOW, json!({"type":"cancel"}), 40);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "CANCELLED");
}

fn login_until_pin_again(b: &mut Broker) {
    let e = b.port_message(BANK, request("authenticate", "L2", json!({"nonce": NONCE})), 30);
    let e = host_reply(b, id_of(&to_host(&e)[0]), status_result(3, true), 31);
    let Some(Effect::OpenPinWindow { session }) = e.iter().find(|x| matches!(x, Effect::OpenPinWindow { .. })).cloned() else { panic!("{e:?}") };
    b.port_connected(WINDOW, PortKind::PinWindow);
    b.port_message(WINDOW, json!({"type":"attach","session":session}), 32);
}

#[test]
fn one_interactive_request_at_a_time() {
    let mut b = ready();
    login_until_pin(&mut b);
    let e = b.port_message(BANK, request("enroll.begin", "E", json!({"algorithm":"P-256"})), 20);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "BUSY");
    assert!(to_host(&e).is_empty());
}

#[test]
fn preflight_reports_missing_token_and_certificate() {
    let mut b = ready();
    let e = b.port_message(BANK, request("authenticate", "L", json!({"nonce": NONCE})), 10);
    let e = host_reply(&mut b, id_of(&to_host(&e)[0]), json!({"readers":[{"name":"R","tokenPresent":false}],"token":null}), 11);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "TOKEN_ABSENT");
    let e = b.port_message(BANK, request("authenticate", "L", json!({"nonce": NONCE})), 12);
    let e = host_reply(&mut b, id_of(&to_host(&e)[0]), json!({"readers":[],"token":null}), 13);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "NO_READER");
    let e = b.port_message(BANK, request("authenticate", "L", json!({"nonce": NONCE})), 14);
    let e = host_reply(&mut b, id_of(&to_host(&e)[0]), status_result(3, false), 15);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "NO_CERTIFICATE");
    let e = b.port_message(BANK, request("authenticate", "L", json!({"nonce": "short"})), 16);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "BAD_REQUEST");
}

#[test]
fn acquisition_runs_through_every_step() {
    let mut b = ready();
    // A token without a certificate may acquire one.
    let e = b.port_message(BANK, request("enroll.begin", "B", json!({"algorithm":"P-256"})), 10);
    let e = host_reply(&mut b, id_of(&to_host(&e)[0]), status_result(3, false), 11);
    assert!(e.contains(&Effect::OpenPinWindow { session: 1 }));
    assert_eq!(to_port(&e, BANK)[0]["step"], "confirm");
    b.port_connected(WINDOW, PortKind::PinWindow);
    let e = b.port_message(WINDOW, json!({"type":"attach","session":1}), 12);
    assert_eq!((to_port(&e, WINDOW)[0]["phase"].as_str(), to_port(&e, WINDOW)[0]["purpose"].as_str()), (Some("confirm"), Some("enroll")));
    // The PIN is not accepted before the customer confirmed.
    assert!(to_host(&b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 13)).is_empty());
    let e = b.port_message(WINDOW, json!({"type":"confirm"}), 14);
    assert_eq!(to_port(&e, WINDOW)[0]["phase"], "pin");
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 15);
    let h = to_host(&e);
    assert_eq!((h[0]["cmd"].as_str(), h[0]["algorithm"].as_str()), (Some("enroll.begin"), Some("P-256")));
    assert_eq!(to_port(&e, BANK)[0], json!({"type":"progress","id":"B","step":"generate","waitingForUser":false}));
    // Key generation may take a minute: not a timeout.
    assert!(b.tick(15 + 60_000).is_empty());
    let e = host_reply(&mut b, id_of(&h[0]), json!({"slot":"82","algorithm":"P-256","csr":"MIIB"}), 60_020);
    assert_eq!(to_port(&e, BANK)[0]["result"], json!({"slot":"82","algorithm":"P-256","csr":"MIIB","enrollment":"1"}));
    assert_eq!(to_port(&e, WINDOW)[0]["phase"], "issue");
    // Only the page that began may finish, with the right enrollment id.
    let e = b.port_message(BANK, request("enroll.finish", "F0", json!({"enrollment":"2","certificate":"MIIC"})), 60_030);
    assert_eq!(to_port(&e, BANK)[0]["error"]["code"], "NO_ENROLLMENT");
    let e = b.port_message(BANK, request("enroll.finish", "F", json!({"enrollment":"1","certificate":"MIIC"})), 60_040);
    let h = to_host(&e);
    assert_eq!(h[0], json!({"id": id_of(&h[0]), "cmd":"enroll.finish","origin":"http://127.0.0.1:8480","certificate":"MIIC"}));
    assert_eq!(to_port(&e, WINDOW)[0]["phase"], "store");
    let summary = json!({"slot":"82","serial":"02"});
    let e = host_reply(&mut b, id_of(&h[0]), json!({"certificate": summary}), 60_050);
    assert_eq!(to_port(&e, BANK)[0], json!({"type":"reply","id":"F","result":{"certificate": summary}}));
    assert_eq!(to_port(&e, WINDOW)[0]["phase"], "done");
    assert_eq!(to_port(&e, WINDOW)[0]["certificate"], summary);
}

#[test]
fn acquisition_aborted_by_the_bank_shows_in_the_window() {
    let mut b = ready();
    let e = b.port_message(BANK, request("enroll.begin", "B", json!({})), 10);
    host_reply(&mut b, id_of(&to_host(&e)[0]), status_result(3, true), 11);
    b.port_connected(WINDOW, PortKind::PinWindow);
    b.port_message(WINDOW, json!({"type":"attach","session":1}), 12);
    b.port_message(WINDOW, json!({"type":"confirm"}), 13);
    let e = b.port_message(WINDOW, json!({"type":"pin","pin":"123456"}), 14);
    host_reply(&mut b, id_of(&to_host(&e)[0]), json!({"slot":"82","algorithm":"P-256","csr":"MIIB"}), 15);
    let e = b.port_message(BANK, request("enroll.abort", "A", json!({"enrollment":"1","code":"INTERNAL","message":"CA down"})), 16);
    assert_eq!(to_port(&e, WINDOW)[0]["error"]["code"], "ISSUE_FAILED");
    assert!(to_host(&e).is_empty());
}
