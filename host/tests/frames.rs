//! Bad input from the browser side: the host answers with a typed error (or exits cleanly when
//! the stream itself is broken), never panics, never writes anything but frames to stdout.

use std::time::Duration;

use kagi_proto::{ErrorCode, Reply};
use kagi_rig::Host;
use serde_json::json;

fn code(r: &Reply) -> ErrorCode {
    r.error.as_ref().expect("error reply").code.clone()
}

fn assert_alive(host: &mut Host) {
    let r = host.request(json!({"cmd": "status"}));
    assert!(r.result.is_some() || r.error.is_some(), "host still serving");
}

#[test]
fn malformed_requests_get_typed_errors_and_the_host_keeps_serving() {
    let mut host = Host::spawn().unwrap();
    let cases: Vec<(&[u8], ErrorCode, Option<u64>)> = vec![
        (b"\xff\xfe\xfd", ErrorCode::BadRequest, None),
        (b"{not json", ErrorCode::BadRequest, None),
        (b"[]", ErrorCode::BadRequest, None),
        (b"", ErrorCode::BadRequest, None),
        (br#"{"cmd":"status"}"#, ErrorCode::BadRequest, None),
        (br#"{"id":7,"cmd":"format"}"#, ErrorCode::UnknownCommand { command: "format".into() }, Some(7)),
        (br#"{"id":8,"cmd":"status","extra":1}"#, ErrorCode::BadRequest, Some(8)),
        (br#"{"id":9,"cmd":"authenticate","origin":"https://bank.example"}"#, ErrorCode::BadRequest, Some(9)),
        (br#"{"id":10,"cmd":"enroll.begin","origin":"https://bank.example","pin":"123456","algorithm":7}"#, ErrorCode::BadRequest, Some(10)),
        (br#"{"id":11,"cmd":"enroll.finish","origin":"https://bank.example","certificate":"MIIB"}"#, ErrorCode::NoEnrollment, Some(11)),
    ];
    for (body, expected, id) in cases {
        host.send_frame(body).unwrap();
        let r = host.next_reply(None, Duration::from_secs(10)).unwrap_or_else(|| panic!("no reply to {:?}", String::from_utf8_lossy(body)));
        assert_eq!(code(&r), expected, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(r.id, id);
    }
    assert_alive(&mut host);
    assert!(!host.stderr().contains("panicked"), "{}", host.stderr());
}

#[test]
fn oversize_frame_is_refused_without_reading_it_into_memory() {
    let mut host = Host::spawn().unwrap();
    // Announce 1 GiB; send only a little of it. The host must answer right away, before the body.
    host.send_raw(&(1u32 << 30).to_ne_bytes()).unwrap();
    host.send_raw(&[b' '; 4096]).unwrap();
    let r = host.next_reply(None, Duration::from_secs(10)).expect("refusal before the body arrives");
    assert_eq!(code(&r), ErrorCode::BadRequest);
    assert!(r.error.unwrap().message.contains("exceeds"));
}

#[test]
fn oversize_frame_within_a_stream_is_skipped_and_serving_continues() {
    let mut host = Host::spawn().unwrap();
    let len = kagi_proto::frame::MAX_INCOMING + 1;
    host.send_raw(&(len as u32).to_ne_bytes()).unwrap();
    host.send_raw(&vec![b' '; len]).unwrap();
    let r = host.next_reply(None, Duration::from_secs(10)).expect("refusal");
    assert_eq!(code(&r), ErrorCode::BadRequest);
    assert_alive(&mut host);
}

#[test]
fn truncated_frame_then_eof_is_a_clean_exit() {
    let mut host = Host::spawn().unwrap();
    host.send_raw(&100u32.to_ne_bytes()).unwrap();
    host.send_raw(b"{\"id\":1,").unwrap();
    let st = host.close(Duration::from_secs(15)).expect("host exits");
    assert!(st.success(), "exit status {st:?}\n{}", host.stderr());
    assert!(host.stdout_closed(Duration::from_secs(1)));
    assert!(!host.stderr().contains("panicked"));
}

#[test]
fn closing_the_port_ends_the_host() {
    let mut host = Host::spawn().unwrap();
    assert_alive(&mut host);
    let st = host.close(Duration::from_secs(15)).expect("host exits");
    assert!(st.success());
}

#[test]
fn other_callers_are_refused_before_any_frame() {
    for args in [
        vec!["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"],
        vec!["/tmp/jp.kagi.host.json", "evil@example.com"],
    ] {
        let mut host = Host::spawn_with(&args, &[]).unwrap();
        assert!(host.hello.is_none(), "no hello for {args:?}");
        let st = host.wait_exit(Duration::from_secs(5)).expect("exits");
        assert!(!st.success());
        assert!(host.stderr().contains("refusing caller"), "{}", host.stderr());
    }
    // Firefox launching for Kagi's add-on is accepted.
    let host = Host::spawn_with(&["/tmp/jp.kagi.host.json", kagi_proto::ids::FIREFOX_EXTENSION_ID], &[]).unwrap();
    assert!(host.hello.is_some());
}
