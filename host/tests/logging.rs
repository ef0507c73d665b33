//! The host's log as a customer or an administrator turns it on, through the real binary
//! started as a browser starts it: nothing but warnings on stderr by default; a per-user file
//! (`~/.local/state/kagi/host.log`, `XDG_STATE_HOME` honoured), `0600`, ISO 8601 UTC
//! timestamps, when `~/.config/kagi/host.json` says `{"log":"info"}`; the machine policy's
//! `log` over the customer's; `kagi-host uninstall --scope user` removes the files.
//!
//! The machine policy is put where the test wants it with `KAGI_POLICY_FILE` (debug builds
//! only, `host/src/policy.rs`). No PC/SC is needed: a refused request is what gets logged.

use std::path::{Path, PathBuf};
use std::process::Command;

use kagi_proto::ids::chrome_origin;
use kagi_rig::{host_bin, Host};
use serde_json::json;

/// Starts the host with `HOME` = `home` (plus `env`), sends one request the host refuses and
/// logs, and returns its stderr after it exited.
fn run_host(home: &Path, env: &[(&str, &str)]) -> String {
    let h = home.display().to_string();
    let policy = home.join("no-policy.json").display().to_string();
    let mut all = vec![("HOME", h.as_str()), ("KAGI_POLICY_FILE", policy.as_str()), ("XDG_CONFIG_HOME", ""), ("XDG_STATE_HOME", "")];
    all.extend_from_slice(env);
    let mut host = Host::spawn_with(&[&chrome_origin()], &all).expect("host");
    let r = host.request(json!({"cmd": "status", "extra": 1}));
    assert_eq!(r.error.as_ref().map(|e| e.code.as_str()), Some("BAD_REQUEST"), "{r:?}");
    host.close(std::time::Duration::from_secs(15)).expect("the host exits when the browser closes the port");
    host.stderr()
}

fn state_log(home: &Path) -> PathBuf {
    home.join(".local/state/kagi/host.log")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ kagi-host[<pid>] <level>: ` opens every line.
fn iso_lines(text: &str) -> bool {
    text.lines().all(|l| {
        let b = l.as_bytes();
        b.len() > 24 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z' && l[24..].starts_with(" kagi-host[")
    })
}

#[test]
fn by_default_only_warnings_reach_stderr_and_no_file_is_written() {
    let d = tempfile::tempdir().unwrap();
    let stderr = run_host(d.path(), &[]);
    assert!(!stderr.contains("started by") && !stderr.contains("refused request"), "info lines on stderr:\n{stderr}");
    assert!(!d.path().join(".local/state/kagi").exists(), "a log directory appeared");
}

#[test]
fn the_customers_config_turns_on_a_private_rotated_file() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join(".config/kagi/host.json"), r#"{"log": "info"}"#);
    let stderr = run_host(d.path(), &[]);
    let log = state_log(d.path());
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}\nstderr:\n{stderr}", log.display()));
    assert!(text.contains("info: started by") && text.contains("refused request"), "{text}");
    assert!(text.contains("logging at info (user config"), "{text}");
    assert!(iso_lines(&text), "{text}");
    assert!(stderr.contains("refused request"), "the level applies to stderr too:\n{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A second host appends.
    run_host(d.path(), &[]);
    let again = std::fs::read_to_string(&log).unwrap();
    assert_eq!(again.matches("info: started by").count(), 2, "{again}");

    // A big log is rotated when the next host starts: host.log.1, and a fresh host.log.
    std::fs::write(&log, vec![b'x'; (1 << 20) + 1]).unwrap();
    run_host(d.path(), &[]);
    assert_eq!(std::fs::metadata(log.with_file_name("host.log.1")).unwrap().len(), (1 << 20) + 1);
    assert!(std::fs::read_to_string(&log).unwrap().contains("started by"));

    // Uninstall for the user takes the log files and their directory.
    let root = d.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let out = Command::new(host_bin())
        .args(["uninstall", "--scope", "user"])
        .env("HOME", d.path())
        .env("KAGI_INSTALL_ROOT", &root)
        .env("XDG_STATE_HOME", "")
        .env("XDG_CACHE_HOME", d.path().join("cache"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("host.log.1") && said.contains("host.log"), "{said}");
    assert!(!d.path().join(".local/state/kagi").exists(), "{said}");
    assert!(d.path().join(".config/kagi/host.json").exists(), "the customer's own config stays");
}

#[test]
fn xdg_state_home_is_honoured() {
    let d = tempfile::tempdir().unwrap();
    let (config, state) = (d.path().join("cfg"), d.path().join("st"));
    write(&config.join("kagi/host.json"), r#"{"log":"debug"}"#);
    let (c, s) = (config.display().to_string(), state.display().to_string());
    run_host(d.path(), &[("XDG_CONFIG_HOME", &c), ("XDG_STATE_HOME", &s)]);
    let text = std::fs::read_to_string(state.join("kagi/host.log")).expect("log under XDG_STATE_HOME");
    assert!(text.contains("logging at debug"), "{text}");
    assert!(!state_log(d.path()).exists());
}

#[test]
fn the_machine_policy_overrides_the_customer_and_a_bad_setting_is_said() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join(".config/kagi/host.json"), r#"{"log":"info"}"#);
    let policy = d.path().join("policy.json");
    // The administrator turns the log off: the customer's setting does not bring it back.
    write(&policy, r#"{"log":"off"}"#);
    let p = policy.display().to_string();
    let stderr = run_host(d.path(), &[("KAGI_POLICY_FILE", &p)]);
    assert!(!state_log(d.path()).exists(), "{stderr}");
    // The administrator turns it on (with an origin rule beside it).
    write(&policy, r#"{"allowedOrigins": ["https://bank.example"], "log": "info"}"#);
    run_host(d.path(), &[("KAGI_POLICY_FILE", &p)]);
    let text = std::fs::read_to_string(state_log(d.path())).expect("the policy's log");
    assert!(text.contains(&format!("logging at info (machine policy {p})")) && text.contains("1 allowed origin(s)"), "{text}");
    // A config that cannot be read: said on stderr, nothing else changes.
    let d2 = tempfile::tempdir().unwrap();
    write(&d2.path().join(".config/kagi/host.json"), r#"{"log": "verbose"}"#);
    let stderr = run_host(d2.path(), &[]);
    assert!(stderr.contains("warn:") && stderr.contains("host.json: log level not understood"), "{stderr}");
    assert!(!state_log(d2.path()).exists());
}
