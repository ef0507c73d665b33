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
    let mut rig = Rig::start_owned().unwrap();
    // One private pcscd per process (libpcsclite reads the socket name once): a second is refused.
    let e = Pcscd::start_owned().unwrap_err();
    assert!(e.to_string().contains("already has a private pcscd"), "{e}");
    let tok = VToken::builder().reader(0).spawn().unwrap();
    rig.pcscd.restart().unwrap();
    // The token reconnects to the new vpcd by itself (same ports over restarts).
    wait_card_state(READER_0, true, Duration::from_secs(10)).unwrap();
    let out = run_with_timeout(Command::new("opensc-tool").args(["-r", READER_0, "-n"]), Duration::from_secs(30)).unwrap();
    assert!(out.stdout.contains("Personal Identity Verification Card"), "{out:?}\n{}", tok.log());
    rig.pcscd.kill().unwrap();
    assert!(!pcscd_answers());
    rig.pcscd.start().unwrap();
    wait_card_state(READER_0, true, Duration::from_secs(10)).unwrap();
    let pid = rig.pcscd.pid().unwrap();
    drop(tok);
    drop(rig);
    assert!(!pcscd_answers(), "private pcscd stopped on drop");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "pcscd {pid} still runs after drop");
}

/// Set in the child process of [`two_processes_each_have_their_own_pcscd`].
const CHILD_ENV: &str = "KAGI_RIG_TEST_CHILD";

/// Two test processes at once, each with a token in "its" reader 0: each sees only its own
/// token, so suites need no global lock. The same test runs as the child (with `CHILD_ENV`) while
/// the parent holds its rig and token.
#[test]
fn two_processes_each_have_their_own_pcscd() {
    let rig = Rig::start().unwrap();
    let socket = pcscd_socket();
    assert_ne!(socket, std::path::Path::new(PCSCD_SOCKET), "the rig must not use the system pcscd");
    assert_eq!(socket, rig.pcscd.socket());
    assert_ne!(vpcd_port(0), SYSTEM_VPCD_PORT, "the rig must not use the system vpcd ports");
    let own = std::env::var(CHILD_ENV).is_ok();
    let mut tok = VToken::builder().reader(0).spawn().unwrap();
    let opensc = |reader: &str| {
        run_with_timeout(Command::new("opensc-tool").args(["-r", reader, "-n"]), Duration::from_secs(30)).unwrap()
    };
    assert!(opensc(READER_0).stdout.contains("Personal Identity Verification Card"));
    if own {
        // The child: its reader 0 holds its own token, its reader 1 is empty.
        assert!(!card_present(READER_1).unwrap());
        println!("child-ok port={}", vpcd_port(0));
        return;
    }
    let me = std::env::current_exe().unwrap();
    let out = run_with_timeout(
        Command::new(me)
            .args(["--exact", "two_processes_each_have_their_own_pcscd", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .env_remove(CSOCK_ENV),
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    let child_port: u16 = out
        .stdout
        .split("child-ok port=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("child did not report: {out:?}"));
    assert_ne!(child_port, vpcd_port(0), "both processes on one vpcd");
    // Ours is untouched by the child's pcscd coming and going.
    assert!(card_present(READER_0).unwrap());
    tok.pull().unwrap();
    drop(rig);
}
