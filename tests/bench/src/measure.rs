//! The measurements. Each compares Kagi with a baseline measured right before or after it.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kagi_host::piv::{commands, KeyAlgorithm, Pin, Slot};
use kagi_proto::{Event, LoginToken};
use kagi_rig::testca::{nonce, verify_login, TestCa};
use kagi_rig::{host_bin, Host, Rig, VToken};
use serde::Serialize;
use serde_json::json;

use crate::stats::{summarise, Row};

const ORIGIN: &str = "https://bank.example";
/// The customer's PIN (set on the token before it is plugged in, as after a first acquisition).
const PIN: &str = "482915";
const PKCS11: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

/// A single figure (sizes, memory, CPU time).
#[derive(Debug, Clone, Serialize)]
pub struct Value {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

fn value(name: &str, value: f64, unit: &str) -> Value {
    Value { name: name.into(), value, unit: unit.into() }
}

type R<T> = Result<T, String>;

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

pub fn all(quick: bool) -> R<(Vec<Row>, Vec<Value>)> {
    let n = |full: usize, q: usize| if quick { q } else { full };
    let mut rows = Vec::new();
    let mut values = Vec::new();
    let _rig = Rig::start().map_err(err("rig"))?;
    let mut token = VToken::builder().reader(0).pin(PIN).spawn().map_err(err("virtual token"))?;
    let ca = TestCa::new("Kagi Bench CA");
    let mut host = Host::spawn().map_err(err("host"))?;
    let cert = enroll(&mut host, &ca, "P-256")?.1;
    eprintln!("kagi-bench: token ready in {}", token.reader());

    rows.push(cold_start(n(40, 10))?);
    let bank = issuers(&ca);
    rows.extend(warm_authenticate(&mut host, &bank, token.reader(), n(300, 50))?);
    drop(host);
    rows.extend(one_shot(&bank, token.reader(), &cert, n(15, 4))?);
    let mut host = Host::spawn().map_err(err("host"))?;
    rows.extend(events(&mut host, &mut token, n(6, 2))?);
    rows.extend(enrolments(&mut host, &ca, n(5, 2), n(3, 1))?);
    drop(host);
    values.extend(memory_and_idle(&bank, n(1000, 200), if quick { 3 } else { 10 })?);
    values.extend(wasm_size());
    Ok((rows, values))
}

fn enroll(host: &mut Host, ca: &TestCa, alg: &str) -> R<(Duration, Vec<u8>)> {
    let t = Instant::now();
    let begin: kagi_proto::EnrollBeginResult = host
        .request(json!({"cmd":"enroll.begin","origin":ORIGIN,"pin":PIN,"algorithm":alg,"issuers":issuers(ca)}))
        .into_result()
        .map_err(|e| format!("enroll.begin: {}", e.message))?;
    let begin_time = t.elapsed();
    let cert = ca.issue(&begin.csr, 1, 0, 365);
    let t = Instant::now();
    let _: kagi_proto::EnrollFinishResult = host
        .request(json!({"cmd":"enroll.finish","origin":ORIGIN,"certificate":kagi_rig::testca::b64(&cert)}))
        .into_result()
        .map_err(|e| format!("enroll.finish: {}", e.message))?;
    Ok((begin_time + t.elapsed(), cert))
}

/// The bank's CA as requests name it (`issuers`).
fn issuers(ca: &TestCa) -> serde_json::Value {
    json!([kagi_rig::testca::b64(&ca.der)])
}

fn authenticate(host: &mut Host, bank: &serde_json::Value) -> R<()> {
    let n = nonce();
    let t: LoginToken = host
        .request(json!({"cmd":"authenticate","origin":ORIGIN,"nonce":n.as_str(),"pin":PIN,"issuers":bank}))
        .into_result()
        .map_err(|e| format!("authenticate: {}", e.message))?;
    verify_login(&t, ORIGIN, &n)
}

/// The host as a browser starts it, with piped stdin/stdout.
fn spawn_host() -> R<std::process::Child> {
    Command::new(host_bin())
        .arg(kagi_proto::ids::chrome_origin())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(err("kagi-host"))
}

/// Spawn → hello frame on stdout, against spawning `/bin/true`.
fn cold_start(n: usize) -> R<Row> {
    let mut host = Vec::new();
    let mut base = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        Command::new("/bin/true").status().map_err(err("/bin/true"))?;
        base.push(t.elapsed());

        let t = Instant::now();
        let mut child = spawn_host()?;
        let mut out = child.stdout.take().ok_or("no stdout")?;
        let body = kagi_proto::frame::read(&mut out, kagi_proto::frame::MAX_OUTGOING).map_err(err("hello"))?.ok_or("no hello")?;
        host.push(t.elapsed());
        if !String::from_utf8_lossy(&body).contains("\"hello\"") {
            return Err("first frame is not a hello".into());
        }
        drop(child.stdin.take());
        let _ = child.wait();
    }
    Ok(summarise("host cold start (spawn → hello)", &host, Some(("spawn /bin/true", &base))))
}

/// One authenticate through a running host, against the same VERIFY + GENERAL AUTHENTICATE
/// sent straight to the card with the pcsc crate.
fn warm_authenticate(host: &mut Host, bank: &serde_json::Value, reader: &str, n: usize) -> R<Vec<Row>> {
    let mut via_host = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        authenticate(host, bank)?;
        via_host.push(t.elapsed());
    }
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(err("pcsc"))?;
    let name = std::ffi::CString::new(reader).map_err(err("reader"))?;
    let mut card = ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY).map_err(err("connect"))?;
    let pin = Pin::new(PIN).map_err(err("pin"))?;
    let select = commands::select().to_bytes().map_err(err("apdu"))?;
    let verify = commands::verify_pin(&pin).to_bytes().map_err(err("apdu"))?;
    let slot = Slot::from_key_ref(0x82).ok_or("slot")?;
    let mut raw = Vec::new();
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    for i in 0..n {
        let digest = [i as u8; 32];
        let sign = commands::sign(slot, KeyAlgorithm::EccP256, &digest).to_bytes().map_err(err("apdu"))?;
        let t = Instant::now();
        {
            let tx = card.transaction().map_err(err("transaction"))?;
            if i == 0 {
                tx.transmit(&select, &mut buf).map_err(err("select"))?;
            }
            let r = tx.transmit(&verify, &mut buf).map_err(err("verify"))?;
            if r != [0x90, 0x00] {
                return Err(format!("VERIFY answered {r:02x?}"));
            }
            let r = tx.transmit(&sign, &mut buf).map_err(err("sign"))?;
            if r.len() < 2 || r[r.len() - 2..] != [0x90, 0x00] {
                return Err(format!("GENERAL AUTHENTICATE answered {r:02x?}"));
            }
        }
        raw.push(t.elapsed());
    }
    // Reset: the PIN must not stay verified.
    let _ = card.disconnect(pcsc::Disposition::ResetCard);
    Ok(vec![summarise("authenticate via host (warm)", &via_host, Some(("raw VERIFY+SIGN APDUs (pcsc)", &raw)))])
}

fn run(cmd: &mut Command) -> R<Duration> {
    let t = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().map_err(err("spawn"))?;
    let d = t.elapsed();
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(d)
}

/// PIN + one signature as a one-shot command: Kagi's host spawned cold, against OpenSC's
/// pkcs11-tool and yubico-piv-tool doing the same.
fn one_shot(bank: &serde_json::Value, reader: &str, cert: &[u8], n: usize) -> R<Vec<Row>> {
    let dir = kagi_rig::temp_dir().map_err(err("temp"))?;
    // yubico-piv-tool checks its test signature against the certificate given as input.
    let cert_pem = dir.path().join("cert.pem");
    let b64 = kagi_rig::testca::b64(cert);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    std::fs::write(&cert_pem, format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n")))
        .map_err(err("cert"))?;
    let data = dir.path().join("data");
    std::fs::write(&data, [7u8; 32]).map_err(err("data"))?;
    let sig = dir.path().join("sig");
    let mut kagi = Vec::new();
    let mut p11 = Vec::new();
    let mut ykpiv = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let mut child = spawn_host()?;
        let mut out = child.stdout.take().ok_or("stdout")?;
        let mut inp = child.stdin.take().ok_or("stdin")?;
        let n = nonce();
        let req = json!({"id":1,"cmd":"authenticate","origin":ORIGIN,"nonce":n.as_str(),"pin":PIN,"issuers":bank}).to_string();
        kagi_proto::frame::write(&mut inp, req.as_bytes()).map_err(err("write"))?;
        let reply = loop {
            let body = kagi_proto::frame::read(&mut out, kagi_proto::frame::MAX_OUTGOING).map_err(err("read"))?.ok_or("host exited")?;
            if let Ok(kagi_proto::Outgoing::Reply(r)) = serde_json::from_slice(&body) {
                break r;
            }
        };
        drop(inp);
        let mut rest = Vec::new();
        let _ = out.read_to_end(&mut rest);
        let _ = child.wait();
        kagi.push(t.elapsed());
        let token: LoginToken = reply.into_result().map_err(|e| format!("one-shot authenticate: {}", e.message))?;
        verify_login(&token, ORIGIN, &n)?;

        p11.push(run(Command::new("pkcs11-tool").args([
            "--module",
            PKCS11,
            "--slot-description",
            reader,
            "--login",
            "--pin",
            PIN,
            "--sign",
            "--mechanism",
            "ECDSA",
            "--id",
            "05",
            "-i",
            path(&data),
            "-o",
            path(&sig),
        ]))?);
        ykpiv.push(run(Command::new("yubico-piv-tool").args([
            "-r",
            reader,
            "-a",
            "verify-pin",
            "-P",
            PIN,
            "-a",
            "test-signature",
            "-s",
            "82",
            "-i",
            path(&cert_pem),
        ]))?);
    }
    Ok(vec![
        summarise("one-shot PIN+sign: kagi-host cold", &kagi, Some(("pkcs11-tool --login --sign", &p11))),
        summarise("one-shot PIN+sign: kagi-host cold ", &kagi, Some(("yubico-piv-tool verify+test-sig", &ykpiv))),
    ])
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// Token pulled / plugged → the event on the host's stdout. The clock starts when the token
/// process is killed / started; the figure includes pcscd's poll of vpcd (~0.4 s).
fn events(host: &mut Host, token: &mut VToken, n: usize) -> R<Vec<Row>> {
    let mut removed = Vec::new();
    let mut inserted = Vec::new();
    let reader = token.reader().to_string();
    host.clear_events();
    for _ in 0..n {
        let t = Instant::now();
        token.pull().map_err(err("pull"))?;
        host.wait_event(Duration::from_secs(10), |e| matches!(e, Event::Removed { reader: r } if *r == reader)).ok_or("no removed event")?;
        removed.push(t.elapsed());
        let t = Instant::now();
        token.plug().map_err(err("plug"))?;
        host.wait_event(Duration::from_secs(10), |e| matches!(e, Event::Inserted { reader: r, .. } if *r == reader)).ok_or("no inserted event")?;
        inserted.push(t.elapsed());
    }
    Ok(vec![summarise("token removed → removed event", &removed, None), summarise("token inserted → inserted event", &inserted, None)])
}

fn enrolments(host: &mut Host, ca: &TestCa, n_ec: usize, n_rsa: usize) -> R<Vec<Row>> {
    let mut ec = Vec::new();
    for _ in 0..n_ec {
        ec.push(enroll(host, ca, "P-256")?.0);
    }
    let mut rsa = Vec::new();
    for _ in 0..n_rsa {
        rsa.push(enroll(host, ca, "RSA-2048")?.0);
    }
    Ok(vec![
        summarise("enroll.begin + enroll.finish, P-256", &ec, None),
        summarise("enroll.begin + enroll.finish, RSA-2048", &rsa, None),
    ])
}

fn proc_field(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
fn cpu_ticks(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let g = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(f64::NAN);
    g(11) + g(12)
}

fn clk_tck() -> f64 {
    Command::new("getconf").arg("CLK_TCK").output().ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0)
}

/// Peak RSS over many sequential log-ons, and CPU used while idle (no polling expected).
fn memory_and_idle(bank: &serde_json::Value, logons: usize, idle_secs: u64) -> R<Vec<Value>> {
    let mut host = Host::spawn().map_err(err("host"))?;
    authenticate(&mut host, bank)?;
    let rss_start = proc_field(host.pid(), "VmRSS:");
    for _ in 0..logons {
        authenticate(&mut host, bank)?;
    }
    let hwm = proc_field(host.pid(), "VmHWM:");
    let rss_end = proc_field(host.pid(), "VmRSS:");
    let before = cpu_ticks(host.pid());
    std::thread::sleep(Duration::from_secs(idle_secs));
    let idle_ms = (cpu_ticks(host.pid()) - before) / clk_tck() * 1000.0;
    let _ = std::io::stdout().flush();
    Ok(vec![
        value("host RSS after 1 log-on", rss_start, "KiB"),
        value(&format!("host RSS after {logons} more log-ons"), rss_end, "KiB"),
        value(&format!("host peak RSS (VmHWM) over {logons} log-ons"), hwm, "KiB"),
        value(&format!("host CPU while idle for {idle_secs} s"), idle_ms, "ms"),
    ])
}

/// The extension's WASM, raw and gzip -9, if it has been built.
fn wasm_size() -> Vec<Value> {
    let dir = kagi_rig::workspace_root().join("build").join("extension");
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wasm") {
                if let Ok(bytes) = std::fs::read(&p) {
                    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                    let _ = gz.write_all(&bytes);
                    let z = gz.finish().map(|v| v.len()).unwrap_or(0);
                    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    out.push(value(&format!("wasm {name} raw"), bytes.len() as f64, "bytes"));
                    out.push(value(&format!("wasm {name} gzip -9"), z as f64, "bytes"));
                }
            }
        }
    }
    if out.is_empty() {
        eprintln!("kagi-bench: no build/extension/*.wasm (run scripts/build-extension.sh for the wasm size)");
    }
    out
}
