//! The `kagi-rig` command as the browser and shell suites use it, checked from outside with
//! independent tools: OpenSC's `opensc-tool -l` through the printed `PCSCLITE_CSOCK_NAME` for
//! readers and cards, `kagi-host doctor` for the host registration, openssl for the test CA.
//! This process never talks PC/SC itself: the rig it checks is the command's.

use kagi_rig::{run_with_timeout, CmdOutput};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn rig(args: &[&str]) -> Value {
    let out = run_with_timeout(Command::new(env!("CARGO_BIN_EXE_kagi-rig")).args(args), T).expect("run kagi-rig");
    out.assert_success(&format!("kagi-rig {}", args.join(" ")));
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("kagi-rig {args:?} printed {:?}: {e}", out.stdout))
}

/// `opensc-tool -l` against the rig's pcscd: reader name → card present.
fn readers(socket: &str) -> Vec<(String, bool)> {
    let out: CmdOutput =
        run_with_timeout(Command::new("opensc-tool").arg("-l").env("PCSCLITE_CSOCK_NAME", socket), T).expect("opensc-tool");
    out.stdout
        .lines()
        .filter(|l| l.contains("Virtual PCD"))
        .map(|l| {
            let name = l[l.find("Virtual PCD").unwrap_or(0)..].trim().to_string();
            (name, l.split_whitespace().nth(1) == Some("Yes"))
        })
        .collect()
}

/// `kagi-rig down` when dropped, so a failing test leaves no rig behind (the service also ends
/// with this test process: it is started with `--owner-pid`).
struct Down(String);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = run_with_timeout(Command::new(env!("CARGO_BIN_EXE_kagi-rig")).args(["down", "--dir", &self.0]), T);
    }
}

fn owner() -> String {
    std::process::id().to_string()
}

fn alive(pid: u64) -> bool {
    kagi_rig::service::process_alive(pid as u32)
}

#[test]
fn up_plug_pull_replug_down_as_an_independent_client_sees_them() {
    let dir = kagi_rig::temp_dir().unwrap();
    let d = dir.path().join("rig");
    let ds = d.to_str().unwrap();
    let info = rig(&["up", "--dir", ds, "--owner-pid", &owner()]);
    let _down = Down(ds.to_string());
    let socket = info["env"]["PCSCLITE_CSOCK_NAME"].as_str().unwrap().to_string();
    let (pid, pcscd) = (info["pid"].as_u64().unwrap(), info["pcscdPid"].as_u64().unwrap());
    assert!(alive(pid) && alive(pcscd), "{info}");
    // Its own vpcd ports, not the machine's (35963/35964), and its own socket.
    let ports: Vec<u64> = info["vpcdPorts"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect();
    assert!(ports.iter().all(|p| (20000..30000).contains(p)), "{ports:?}");
    assert_ne!(socket, kagi_rig::PCSCD_SOCKET);
    assert_eq!(readers(&socket), vec![("Virtual PCD 00 00".into(), false), ("Virtual PCD 00 01".into(), false)]);

    let state = dir.path().join("token.json");
    let t = rig(&["token", "plug", "--dir", ds, "--reader", "1", "--state", state.to_str().unwrap(), "--contents", r#"{"pin":"24681357"}"#]);
    assert_eq!(t["plugged"], true, "{t}");
    assert_eq!(readers(&socket), vec![("Virtual PCD 00 00".into(), false), ("Virtual PCD 00 01".into(), true)]);
    // The contents asked for: the PIN, read by an independent client from the card.
    let verify = run_with_timeout(
        Command::new("opensc-tool")
            .args(["-r", "1", "-s", "00A4040009A00000030800001000", "-s", "00200080083234363831333537"])
            .env("PCSCLITE_CSOCK_NAME", &socket),
        T,
    )
    .unwrap();
    let last = verify.stdout.lines().filter(|l| l.starts_with("Received")).last().unwrap_or_default();
    assert_eq!(last, "Received (SW1=0x90, SW2=0x00)", "VERIFY with the PIN asked for:\n{}", verify.stdout);

    rig(&["token", "pull", "--dir", ds, "--reader", "1"]);
    assert_eq!(readers(&socket)[1], ("Virtual PCD 00 01".into(), false));
    // Plugged back: the same token (its state file), with the same PIN.
    rig(&["token", "plug", "--dir", ds, "--reader", "1"]);
    assert_eq!(readers(&socket)[1], ("Virtual PCD 00 01".into(), true));
    let replugged = rig(&["token", "replug", "--dir", ds, "--reader", "1"]);
    assert_ne!(replugged["pid"], t["pid"], "a replug is a new token process");
    assert_eq!(readers(&socket)[1], ("Virtual PCD 00 01".into(), true));
    let status = rig(&["status", "--dir", ds]);
    assert_eq!(status["readers"][1]["plugged"], true, "{status}");
    assert_eq!(status["readers"][0]["plugged"], false, "{status}");

    let down = rig(&["down", "--dir", ds]);
    assert_eq!(down["killed"], false, "stopped when asked: {down}");
    let token_pid = replugged["pid"].as_u64().unwrap();
    for p in [pid, pcscd, token_pid] {
        assert!(!alive(p), "pid {p} still runs after down");
    }
    assert!(!Path::new(&socket).exists(), "the private socket is gone");
    assert!(!d.join("rig.json").exists());
}

#[test]
fn a_rig_whose_owner_is_gone_stops_by_itself() {
    let dir = kagi_rig::temp_dir().unwrap();
    let d = dir.path().join("rig");
    let mut owner = Command::new("sleep").arg("30").spawn().unwrap();
    let info = rig(&["up", "--dir", d.to_str().unwrap(), "--owner-pid", &owner.id().to_string()]);
    let (pid, pcscd) = (info["pid"].as_u64().unwrap(), info["pcscdPid"].as_u64().unwrap());
    assert!(alive(pid));
    owner.kill().unwrap();
    owner.wait().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (alive(pid) || alive(pcscd)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid) && !alive(pcscd), "the rig outlived its owner");
}

#[test]
fn register_installs_through_kagi_host_and_doctor_finds_it() {
    let host = kagi_rig::host_bin();
    assert!(host.exists(), "{} is missing: cargo build -p kagi-host", host.display());
    let dir = kagi_rig::temp_dir().unwrap();
    let home = dir.path().join("home");
    let hs = home.to_str().unwrap();
    let doctor = |what: &str| {
        let out = run_with_timeout(Command::new(&host).args(["doctor", "--json"]).env("HOME", &home).env_remove("KAGI_INSTALL_ROOT"), T)
            .unwrap();
        let r: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{what}: doctor said {:?}: {e}", out.stdout));
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["code"] == "HOST_MANIFEST_OK" && c["scope"] == "user")
            .map(|c| c["browser"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    for browser in ["chromium", "firefox"] {
        let r = rig(&["register", "--browser", browser, "--home", hs, "--host", host.to_str().unwrap()]);
        assert_eq!(r["outcomes"][0]["action"], "written", "{r}");
    }
    let found = doctor("registered");
    assert!(found.contains(&"chromium".to_string()) && found.contains(&"firefox".to_string()), "{found:?}");
    // Chromium's user manifests live in its user-data-dir: the one `register` names.
    let r = rig(&["register", "--browser", "chromium", "--profile", home.join(".config/chromium").to_str().unwrap(), "--host", host.to_str().unwrap()]);
    assert_eq!(r["outcomes"][0]["action"], "unchanged", "{r}");
    assert!(home.join(".config/chromium/NativeMessagingHosts/jp.kagi.host.json").exists());
    for browser in ["chromium", "firefox"] {
        let r = rig(&["register", "--browser", browser, "--home", hs, "--host", host.to_str().unwrap(), "--remove"]);
        assert_eq!(r["outcomes"][0]["action"], "removed", "{r}");
    }
    assert_eq!(doctor("removed"), Vec::<String>::new());
    // A profile elsewhere cannot be registered through `kagi-host install`: said, not guessed.
    let out = run_with_timeout(
        Command::new(env!("CARGO_BIN_EXE_kagi-rig")).args(["register", "--browser", "chromium", "--profile", "/tmp/x", "--host", "/bin/true"]),
        T,
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
}

#[test]
fn the_test_ca_issues_for_a_csr_and_openssl_verifies_it() {
    let dir = kagi_rig::temp_dir().unwrap();
    let d = dir.path();
    let ca = rig(&["ca", "new", "--dir", d.to_str().unwrap()]);
    let key = d.join("k.pem");
    let csr = d.join("r.der");
    let run = |args: &[&str]| {
        run_with_timeout(Command::new("openssl").args(args), T).unwrap().assert_success(&args.join(" "));
    };
    run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.to_str().unwrap()]);
    run(&["req", "-new", "-key", key.to_str().unwrap(), "-subj", "/CN=x", "-outform", "DER", "-out", csr.to_str().unwrap()]);
    let csr_b64 = kagi_rig::testca::b64(&std::fs::read(&csr).unwrap());
    let out = {
        use std::io::Write;
        let mut c = Command::new(env!("CARGO_BIN_EXE_kagi-rig"))
            .args(["ca", "issue", "--dir", d.to_str().unwrap(), "--serial", "6d89a42202c56aafed5e6c8de3277d8c"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(csr_b64.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    };
    assert!(out.status.success());
    let cert = d.join("c.der");
    std::fs::write(&cert, kagi_rig::testca::unb64(String::from_utf8_lossy(&out.stdout).trim())).unwrap();
    let pem = d.join("c.pem");
    run(&["x509", "-inform", "DER", "-in", cert.to_str().unwrap(), "-out", pem.to_str().unwrap()]);
    let v = run_with_timeout(Command::new("openssl").args(["verify", "-CAfile", ca["pem"].as_str().unwrap(), pem.to_str().unwrap()]), T)
        .unwrap();
    assert!(v.stdout.contains(": OK"), "{}{}", v.stdout, v.stderr);
    let serial = run_with_timeout(Command::new("openssl").args(["x509", "-in", pem.to_str().unwrap(), "-noout", "-serial"]), T).unwrap();
    assert_eq!(serial.stdout.trim().to_lowercase(), "serial=6d89a42202c56aafed5e6c8de3277d8c");
    // A CSR that is not one: an error, not a certificate.
    let bad = run_with_timeout(Command::new("sh").arg("-c").arg(format!("echo AAAA | {} ca issue --dir {}", env!("CARGO_BIN_EXE_kagi-rig"), d.display())), T)
        .unwrap();
    assert_eq!(bad.status.code(), Some(1), "{}", bad.stderr);
}
