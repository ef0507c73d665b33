//! The command line: browser launch arguments always reach the native messaging path (clap never
//! sees them); everything else is a clap command with the usual --help / --version.

use std::process::Command;

use kagi_rig::{host_bin, Host};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(host_bin()).args(args).output().expect("run kagi-host");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn browser_launch_is_native_messaging_even_with_parent_window() {
    // The host watches the readers while it runs: stay out of the way of tests that restart pcscd.
    let _lock = kagi_rig::Rig::lock().expect("rig lock");
    // Chrome on Windows appends --parent-window=<hwnd>; clap would reject that flag.
    let origin = kagi_proto::ids::chrome_origin();
    let mut host = Host::spawn_with(&[&origin, "--parent-window=0"], &[]).expect("host");
    assert!(host.hello.is_some(), "no hello: {}", host.stderr());
    let mut ff = Host::spawn_with(&["/usr/lib/mozilla/native-messaging-hosts/jp.kagi.host.json", "kagi@kagi.example"], &[]).expect("host");
    assert!(ff.hello.is_some(), "no hello: {}", ff.stderr());
    host.close(std::time::Duration::from_secs(10));
    ff.close(std::time::Duration::from_secs(10));
}

#[test]
fn version_help_and_usage_errors() {
    let (rc, out, _) = run(&["--version"]);
    assert_eq!(rc, 0);
    assert_eq!(out.trim(), format!("kagi-host {}", env!("CARGO_PKG_VERSION")));
    let (rc, out, _) = run(&["--help"]);
    assert_eq!(rc, 0);
    for word in ["install", "uninstall", "doctor", "chrome-extension://<id>/"] {
        assert!(out.contains(word), "--help lacks {word}: {out}");
    }
    let (rc, _, err) = run(&[]);
    assert_eq!(rc, 2, "no arguments is a usage error: {err}");
    let (rc, _, err) = run(&["install", "--browser", "netscape"]);
    assert_eq!(rc, 2);
    assert!(err.contains("netscape"), "{err}");
    // Another extension is still refused before anything is read.
    let (rc, _, _) = run(&["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]);
    assert_eq!(rc, 3);
}
