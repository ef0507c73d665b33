//! Tests of the rig itself, against the real pcscd + vpcd.

use kagi_rig::*;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn workspace_root_is_the_workspace() {
    let root = workspace_root();
    let toml = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(toml.contains("[workspace]"));
}

#[test]
fn run_with_timeout_captures_and_times_out() {
    let out = run_with_timeout(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), Duration::from_secs(10)).unwrap();
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    assert_eq!(out.status.code(), Some(3));
    let e = run_with_timeout(Command::new("sleep").arg("5"), Duration::from_millis(200)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn lock_is_exclusive_between_threads() {
    let guard = Rig::lock().unwrap();
    let got = Arc::new(AtomicBool::new(false));
    let g2 = got.clone();
    let t = std::thread::spawn(move || {
        let _l = Rig::lock().unwrap();
        g2.store(true, Ordering::SeqCst);
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(!got.load(Ordering::SeqCst), "second lock taken while the first is held");
    drop(guard);
    t.join().unwrap();
    assert!(got.load(Ordering::SeqCst));
}

#[test]
fn token_spawn_pull_plug_and_drop() {
    let _rig = Rig::start().unwrap();
    let mut tok = VToken::builder().reader(1).spawn().unwrap();
    assert_eq!(tok.reader(), READER_1);
    let pid = tok.pid().unwrap();
    let out = run_with_timeout(Command::new("opensc-tool").args(["-r", READER_1, "-n"]), Duration::from_secs(30)).unwrap();
    assert!(out.stdout.contains("Personal Identity Verification Card"), "{out:?}");
    let state = std::fs::read_to_string(tok.state_path()).unwrap();
    tok.pull().unwrap();
    assert!(tok.pid().is_none());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "pulled token still exists");
    tok.plug().unwrap();
    // Same state file, same token (CHUID GUID etc.).
    assert_eq!(std::fs::read_to_string(tok.state_path()).unwrap(), state);
    let pid = tok.pid().unwrap();
    drop(tok);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "dropped token still exists");
    wait_card_state(READER_1, false, Duration::from_secs(5)).unwrap();
}

#[test]
fn second_token_on_a_busy_reader_is_refused() {
    let _rig = Rig::start().unwrap();
    let _a = VToken::builder().reader(0).spawn().unwrap();
    let e = VToken::builder().reader(0).spawn().unwrap_err();
    assert!(e.to_string().contains("already present"), "{e}");
}

#[test]
fn pcscd_crash_and_restart_with_token_reconnecting() {
    let lock = Rig::lock().unwrap();
    // Fault tests need a pcscd of our own; if someone else's is running, report the skip.
    if pcscd_answers() {
        kagi_rig::skip("rig::pcscd_crash_and_restart_with_token_reconnecting", "a pcscd not started by this rig is running");
        return;
    }
    let mut pcscd = Pcscd::start_owned().unwrap();
    assert!(pcscd.is_owned());
    // A second owned instance is refused clearly.
    let e = Pcscd::start_owned().unwrap_err();
    assert!(e.to_string().contains("did not start"), "{e}");
    let tok = VToken::builder().reader(0).spawn().unwrap();
    pcscd.restart().unwrap();
    // The token reconnects to the new vpcd by itself.
    wait_card_state(READER_0, true, Duration::from_secs(10)).unwrap();
    let out = run_with_timeout(Command::new("opensc-tool").args(["-r", READER_0, "-n"]), Duration::from_secs(30)).unwrap();
    assert!(out.stdout.contains("Personal Identity Verification Card"), "{out:?}\n{}", tok.log());
    pcscd.kill().unwrap();
    assert!(!pcscd_answers());
    pcscd.start().unwrap();
    wait_card_state(READER_0, true, Duration::from_secs(10)).unwrap();
    drop(tok);
    drop(pcscd);
    assert!(!pcscd_answers(), "owned pcscd stopped on drop");
    drop(lock);
}

#[test]
fn ensure_reuses_a_running_pcscd() {
    let _lock = Rig::lock().unwrap();
    let first = Pcscd::ensure().unwrap();
    let second = Pcscd::ensure().unwrap();
    assert!(!second.is_owned(), "second ensure() must reuse the running pcscd");
    assert!(second.pid().is_none());
    drop(second);
    assert!(pcscd_answers(), "dropping a borrowed handle must not stop pcscd");
    drop(first);
}
