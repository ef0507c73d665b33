//! The measurements (issue 13), all on one virtual token with the latency model of a full-speed
//! USB CCID token (`kagi-vtoken --apdu-latency-us --byte-latency-us`, figures and sources in
//! `tests/virtual-token/README.md` "Latency model") and its APDU counter. Each timing is
//! compared with a baseline measured in the same run on the same token, and each operation's
//! card round trips are counted from the token's counter (`by_ins`), for Kagi and for the
//! baselines alike.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kagi_host::piv::{commands, KeyAlgorithm, Pin, Slot};
use kagi_proto::{Event, LoginToken};
use kagi_rig::testca::{nonce, verify_login, TestCa};
use kagi_rig::{host_bin, ApduCount, Host, Rig, VToken};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::stats::{summarise, Row};

const ORIGIN: &str = "https://bank.example";
/// The customer's PIN (set on the token before it is plugged in, as after a first acquisition).
const PIN: &str = "482915";
const PKCS11: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
/// The pause between alternating samples.
const GAP: Duration = Duration::from_millis(5);

/// A single figure (sizes, memory, CPU time).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Value {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

pub(crate) fn value(name: &str, value: f64, unit: &str) -> Value {
    Value { name: name.into(), value, unit: unit.into() }
}

/// Card round trips of one operation, as the token counted them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Apdus {
    pub operation: String,
    pub tool: String,
    /// Command APDUs (GET RESPONSE included).
    pub apdus: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// By instruction byte, hex ("20" VERIFY, "87" GENERAL AUTHENTICATE, "cb" GET DATA...).
    pub by_ins: BTreeMap<String, u64>,
}

/// One of issue 13's goals, judged on this run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Goal {
    pub name: String,
    pub ratio: f64,
    pub limit: f64,
    pub met: bool,
}

/// Everything one run measured.
#[derive(Default)]
pub struct Results {
    pub rows: Vec<Row>,
    pub values: Vec<Value>,
    pub apdus: Vec<Apdus>,
    pub goals: Vec<Goal>,
    pub token: String,
}

type R<T> = Result<T, String>;

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

/// How long the token's counter must stay unchanged before an operation counts as over: a
/// log-on's answer leaves before its PIN clear, which follows within a few milliseconds.
const SETTLE: Duration = Duration::from_millis(50);

/// The token's counter once it has stopped moving.
fn settled_count(token: &VToken) -> R<ApduCount> {
    let mut last = token.apdu_count().map_err(err("APDU counter"))?;
    loop {
        std::thread::sleep(SETTLE);
        let now = token.apdu_count().map_err(err("APDU counter"))?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
}

/// The token's counter around `f`: what `f` cost in card round trips.
fn counted<T>(token: &VToken, operation: &str, tool: &str, f: impl FnOnce() -> R<T>) -> R<(T, Apdus)> {
    let before = settled_count(token)?;
    let out = f()?;
    let after = settled_count(token)?;
    Ok((out, apdus(operation, tool, &(&after - &before))))
}

fn apdus(operation: &str, tool: &str, c: &ApduCount) -> Apdus {
    Apdus {
        operation: operation.into(),
        tool: tool.into(),
        apdus: c.apdus,
        bytes_in: c.bytes_in,
        bytes_out: c.bytes_out,
        by_ins: c.by_ins.iter().map(|(k, v)| (format!("{k:02x}"), *v)).collect(),
    }
}

pub fn all(quick: bool) -> R<Results> {
    let n = |full: usize, q: usize| if quick { q } else { full };
    let mut out = Results::default();
    let _rig = Rig::start().map_err(err("rig"))?;
    let mut token =
        VToken::builder().reader(0).pin(PIN).usb_latency().count_apdus(true).spawn().map_err(err("virtual token"))?;
    out.token = "kagi-vtoken, latency model of a full-speed USB CCID token (1000 µs per APDU + 16 µs per byte)".into();
    let ca = TestCa::new("Kagi Bench CA");
    let bank = issuers(&ca);
    let mut host = Host::spawn().map_err(err("host"))?;
    let cert = enroll(&mut host, &ca, "P-256")?.1;
    eprintln!("kagi-bench: token ready in {}", token.reader());

    out.rows.push(cold_start(n(40, 10))?);
    let (row, counts) = status(&mut host, &token, &bank, n(50, 10))?;
    out.rows.extend(row);
    out.apdus.extend(counts);
    let (row, counts) = warm_authenticate(&mut host, &token, &bank, n(200, 30))?;
    out.goals.push(goal("warm log-on ≤ 1.3× the bare VERIFY + GENERAL AUTHENTICATE", row.ratio, 1.3));
    out.rows.push(row);
    out.apdus.extend(counts);
    drop(host);
    let (rows, counts) = one_shot(&token, &bank, &cert, n(15, 4))?;
    if let Some(r) = rows.iter().find(|r| r.baseline.as_deref().is_some_and(|b| b.starts_with("yubico-piv-tool"))) {
        out.goals.push(goal("cold one-shot log-on, token seen before on this PC, ≤ 1.0× yubico-piv-tool given the certificate file", r.ratio, 1.0));
    }
    out.rows.extend(rows);
    out.apdus.extend(counts);
    let mut host = Host::spawn().map_err(err("host"))?;
    let (rows, counts) = enrolments(&mut host, &token, &ca, n(5, 1), n(3, 1))?;
    out.rows.extend(rows);
    out.apdus.extend(counts);
    out.rows.extend(events(&mut host, &mut token, n(6, 2))?);
    drop(host);
    out.values.extend(memory_and_idle(&bank, n(1000, 100), if quick { 10 } else { 60 })?);
    out.values.extend(wasm_size());
    Ok(out)
}

fn goal(name: &str, ratio: Option<f64>, limit: f64) -> Goal {
    let ratio = ratio.unwrap_or(f64::NAN);
    Goal { name: name.into(), ratio, limit, met: ratio <= limit }
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

/// One `authenticate`; returns the time from request to reply (the login token is checked
/// afterwards, outside the time).
fn authenticate(host: &mut Host, bank: &serde_json::Value) -> R<Duration> {
    let n = nonce();
    let t = Instant::now();
    let reply = host.request(json!({"cmd":"authenticate","origin":ORIGIN,"nonce":n.as_str(),"pin":PIN,"issuers":bank}));
    let d = t.elapsed();
    let token: LoginToken = reply.into_result().map_err(|e| format!("authenticate: {}", e.message))?;
    verify_login(&token, ORIGIN, &n)?;
    Ok(d)
}

/// The host as a browser starts it, with piped stdin/stdout, keeping its token records
/// (`host/src/card/remembered.rs`) under `cache` (the user's `XDG_CACHE_HOME`).
fn spawn_host(cache: &Path) -> R<std::process::Child> {
    Command::new(host_bin())
        .arg(kagi_proto::ids::chrome_origin())
        .env("XDG_CACHE_HOME", cache)
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
    let cache = kagi_rig::temp_dir().map_err(err("temp"))?;
    for _ in 0..n {
        let t = Instant::now();
        Command::new("/bin/true").status().map_err(err("/bin/true"))?;
        base.push(t.elapsed());

        let t = Instant::now();
        let mut child = spawn_host(cache.path())?;
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

/// `status` with the bank's issuers: through the running host (warm), and in a host spawned
/// for it (cold), against `yubico-piv-tool -a status` (which reads every certificate too).
fn status(host: &mut Host, token: &VToken, bank: &serde_json::Value, n: usize) -> R<(Vec<Row>, Vec<Apdus>)> {
    let req = json!({"cmd":"status","issuers":bank});
    let ask = |host: &mut Host| -> R<Duration> {
        let t = Instant::now();
        let r = host.request(req.clone());
        let d = t.elapsed();
        let s: kagi_proto::StatusResult = r.into_result().map_err(|e| format!("status: {}", e.message))?;
        if s.tokens.first().and_then(|t| t.certificate.as_ref()).is_none() {
            return Err("status shows no certificate of the bank".into());
        }
        Ok(d)
    };
    ask(host)?;
    let (_, warm_count) = counted(token, "status with issuers, warm", "kagi-host", || ask(host))?;
    let mut warm = Vec::new();
    for _ in 0..n {
        warm.push(ask(host)?);
    }
    let cold_one = |host_: &mut Option<Host>| -> R<Duration> {
        let t = Instant::now();
        let mut h = Host::spawn().map_err(err("host"))?;
        ask(&mut h)?;
        let d = t.elapsed();
        *host_ = Some(h);
        Ok(d)
    };
    let yk = || run(Command::new("yubico-piv-tool").args(["-r", token.reader(), "-a", "status"]));
    let mut keep = None;
    let (_, cold_count) = counted(token, "status with issuers, cold (host spawned)", "kagi-host", || cold_one(&mut keep))?;
    drop(keep.take());
    let (_, yk_count) = counted(token, "status with issuers, cold (host spawned)", "yubico-piv-tool -a status", yk)?;
    let mut cold = Vec::new();
    let mut ykt = Vec::new();
    for _ in 0..(n / 5).max(2) {
        cold.push(cold_one(&mut keep)?);
        drop(keep.take());
        ykt.push(yk()?);
    }
    Ok((
        vec![
            summarise("status with issuers via host (warm)", &warm, None),
            summarise("status with issuers, host spawned (cold)", &cold, Some(("yubico-piv-tool -a status", &ykt))),
        ],
        vec![warm_count, cold_count, yk_count],
    ))
}

/// One authenticate through a running host, against the same VERIFY + GENERAL AUTHENTICATE
/// sent straight to the card with the pcsc crate (a kept connection, the application selected
/// once), alternating so both see the same machine load.
fn warm_authenticate(host: &mut Host, token: &VToken, bank: &serde_json::Value, n: usize) -> R<(Row, Vec<Apdus>)> {
    authenticate(host, bank)?;
    let (_, host_count) = counted(token, "log-on, warm (running host)", "kagi-host", || authenticate(host, bank))?;
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(err("pcsc"))?;
    let name = std::ffi::CString::new(token.reader()).map_err(err("reader"))?;
    let mut card = ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY).map_err(err("connect"))?;
    let pin = Pin::new(PIN).map_err(err("pin"))?;
    let select = commands::select().to_bytes().map_err(err("apdu"))?;
    let verify = commands::verify_pin(&pin).to_bytes().map_err(err("apdu"))?;
    let slot = Slot::from_key_ref(0x82).ok_or("slot")?;
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let mut raw_once = |card: &mut pcsc::Card, i: usize, first: bool| -> R<Duration> {
        let digest = [i as u8; 32];
        let sign = commands::sign(slot, KeyAlgorithm::EccP256, &digest).to_bytes().map_err(err("apdu"))?;
        let t = Instant::now();
        let tx = card.transaction().map_err(err("transaction"))?;
        if first {
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
        drop(tx);
        Ok(t.elapsed())
    };
    raw_once(&mut card, 0, true)?;
    let (_, raw_count) = counted(token, "log-on, warm (running host)", "bare VERIFY + GENERAL AUTHENTICATE (pcsc)", || {
        raw_once(&mut card, 1, false)
    })?;
    let mut via_host = Vec::new();
    let mut raw = Vec::new();
    for i in 0..n {
        via_host.push(authenticate(host, bank)?);
        // The host's PIN clear follows its answer: let it end before the baseline's turn (and
        // give both the same idle gap before they start).
        std::thread::sleep(GAP);
        raw.push(raw_once(&mut card, i, false)?);
        std::thread::sleep(GAP);
    }
    // Reset: the PIN must not stay verified.
    let _ = card.disconnect(pcsc::Disposition::ResetCard);
    let row = summarise("log-on via host (warm)", &via_host, Some(("bare VERIFY + GENERAL AUTHENTICATE (pcsc)", &raw)));
    Ok((row, vec![host_count, raw_count]))
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

/// Where a one-shot host's time goes: spawn → hello, → reply, → exit.
#[derive(Default)]
struct Phases {
    hello: Vec<Duration>,
    reply: Vec<Duration>,
    exit: Vec<Duration>,
}

/// Kagi's host spawned cold for one `authenticate` (start to exit), its token records in
/// `cache`.
fn kagi_one_shot(bank: &serde_json::Value, cache: &Path, phases: &mut Phases) -> R<Duration> {
    let t = Instant::now();
    let mut child = spawn_host(cache)?;
    let mut out = child.stdout.take().ok_or("stdout")?;
    let mut inp = child.stdin.take().ok_or("stdin")?;
    let n = nonce();
    let req = json!({"id":1,"cmd":"authenticate","origin":ORIGIN,"nonce":n.as_str(),"pin":PIN,"issuers":bank}).to_string();
    kagi_proto::frame::write(&mut inp, req.as_bytes()).map_err(err("write"))?;
    let mut hello = None;
    let reply = loop {
        let body = kagi_proto::frame::read(&mut out, kagi_proto::frame::MAX_OUTGOING).map_err(err("read"))?.ok_or("host exited")?;
        match serde_json::from_slice(&body) {
            Ok(kagi_proto::Outgoing::Reply(r)) => break r,
            Ok(kagi_proto::Outgoing::Hello(_)) => hello = Some(t.elapsed()),
            _ => {}
        }
    };
    let replied = t.elapsed();
    drop(inp);
    let mut rest = Vec::new();
    let _ = out.read_to_end(&mut rest);
    let _ = child.wait();
    let d = t.elapsed();
    phases.hello.push(hello.unwrap_or_default());
    phases.reply.push(replied);
    phases.exit.push(d);
    let token: LoginToken = reply.into_result().map_err(|e| format!("one-shot authenticate: {}", e.message))?;
    verify_login(&token, ORIGIN, &n)?;
    Ok(d)
}

/// PIN + one signature as a one-shot command: Kagi's host spawned cold, against OpenSC's
/// pkcs11-tool and yubico-piv-tool doing the same, each counted once, then timed alternately.
fn one_shot(token: &VToken, bank: &serde_json::Value, cert: &[u8], n: usize) -> R<(Vec<Row>, Vec<Apdus>)> {
    let reader = token.reader();
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
    let p11 = || {
        run(Command::new("pkcs11-tool").args([
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
        ]))
    };
    let ykpiv = || {
        run(Command::new("yubico-piv-tool").args([
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
        ]))
    };
    // Kagi's host keeps what it read of a token on disk (`host/src/card/remembered.rs`), as
    // yubico-piv-tool here is handed the certificate as a file: "seen before" is a host started
    // on a PC whose earlier run kept the record; "first time" starts with no record at all.
    let seen = dir.path().join("seen");
    let first = dir.path().join("first");
    let first_time = |phases: &mut Phases| -> R<Duration> {
        let _ = std::fs::remove_dir_all(&first);
        kagi_one_shot(bank, &first, phases)
    };
    let op = "log-on, cold one-shot (process start to exit)";
    let mut phases = Phases::default();
    kagi_one_shot(bank, &seen, &mut phases)?;
    let (_, kc) = counted(token, op, "kagi-host, token seen before on this PC", || kagi_one_shot(bank, &seen, &mut phases))?;
    let (_, kf) = counted(token, op, "kagi-host, first time on this PC", || first_time(&mut phases))?;
    phases = Phases::default();
    let (_, yc) = counted(token, op, "yubico-piv-tool verify-pin + test-signature", ykpiv)?;
    let (_, pc) = counted(token, op, "pkcs11-tool --login --sign", p11)?;
    let mut kagi = Vec::new();
    let mut kagi_first = Vec::new();
    let mut first_phases = Phases::default();
    let mut p11t = Vec::new();
    let mut ykt = Vec::new();
    for _ in 0..n {
        kagi.push(kagi_one_shot(bank, &seen, &mut phases)?);
        ykt.push(ykpiv()?);
        kagi_first.push(first_time(&mut first_phases)?);
        p11t.push(p11()?);
    }
    Ok((
        vec![
            summarise("one-shot log-on: kagi-host cold, token seen before", &kagi, Some(("yubico-piv-tool verify+test-sig", &ykt))),
            summarise("one-shot log-on: kagi-host cold, token seen before ", &kagi, Some(("pkcs11-tool --login --sign", &p11t))),
            summarise("  of which: spawn → hello", &phases.hello, None),
            summarise("  of which: spawn → reply", &phases.reply, None),
            summarise("one-shot log-on: kagi-host cold, first time on this PC", &kagi_first, Some(("yubico-piv-tool verify+test-sig", &ykt))),
            summarise("  of which: spawn → reply ", &first_phases.reply, None),
        ],
        vec![kc, kf, yc, pc],
    ))
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

/// Acquisitions (enroll.begin + enroll.finish) through a running host, each algorithm counted
/// once then timed.
fn enrolments(host: &mut Host, token: &VToken, ca: &TestCa, n_ec: usize, n_rsa: usize) -> R<(Vec<Row>, Vec<Apdus>)> {
    let (_, ec_count) = counted(token, "acquisition P-256 (begin + finish)", "kagi-host", || enroll(host, ca, "P-256"))?;
    let mut ec = Vec::new();
    for _ in 0..n_ec {
        ec.push(enroll(host, ca, "P-256")?.0);
    }
    let (_, rsa_count) = counted(token, "acquisition RSA-2048 (begin + finish)", "kagi-host", || enroll(host, ca, "RSA-2048"))?;
    let mut rsa = Vec::new();
    for _ in 0..n_rsa {
        rsa.push(enroll(host, ca, "RSA-2048")?.0);
    }
    Ok((
        vec![
            summarise("enroll.begin + enroll.finish, P-256", &ec, None),
            summarise("enroll.begin + enroll.finish, RSA-2048", &rsa, None),
        ],
        vec![ec_count, rsa_count],
    ))
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

/// Context switches of each thread of a process, by thread id: each is a thread going to sleep
/// or being woken, so an idle thread that never wakes adds none.
fn context_switches(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for t in tasks.flatten() {
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let mut sum = 0.0;
        for l in status.lines() {
            if let Some(v) = l.strip_prefix("voluntary_ctxt_switches:").or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:")) {
                sum += v.trim().parse::<f64>().unwrap_or(0.0);
            }
        }
        out.insert(t.file_name().to_string_lossy().into_owned(), sum);
    }
    out
}

/// Wake-ups between two readings: switches of the threads alive at both, plus one for each
/// thread that ended meanwhile (it woke to end).
fn wakeups(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> f64 {
    before.iter().map(|(tid, n)| after.get(tid).map_or(1.0, |m| m - n)).sum::<f64>()
        + after.iter().filter(|(tid, _)| !before.contains_key(*tid)).map(|(_, n)| n).sum::<f64>()
}

fn clk_tck() -> f64 {
    Command::new("getconf").arg("CLK_TCK").output().ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0)
}

/// Peak RSS over many sequential log-ons, and CPU and wake-ups while idle (no polling expected).
fn memory_and_idle(bank: &serde_json::Value, logons: usize, idle_secs: u64) -> R<Vec<Value>> {
    let mut host = Host::spawn().map_err(err("host"))?;
    authenticate(&mut host, bank)?;
    let rss_start = proc_field(host.pid(), "VmRSS:");
    for _ in 0..logons {
        authenticate(&mut host, bank)?;
    }
    let hwm = proc_field(host.pid(), "VmHWM:");
    let rss_end = proc_field(host.pid(), "VmRSS:");
    // Let the last operation's threads settle, then watch.
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_ticks(host.pid());
    let switches = context_switches(host.pid());
    std::thread::sleep(Duration::from_secs(idle_secs));
    let idle_ms = (cpu_ticks(host.pid()) - before) / clk_tck() * 1000.0;
    let woke = wakeups(&switches, &context_switches(host.pid()));
    let _ = std::io::stdout().flush();
    Ok(vec![
        value("host RSS after 1 log-on", rss_start, "KiB"),
        value(&format!("host RSS after {logons} more log-ons"), rss_end, "KiB"),
        value(&format!("host peak RSS (VmHWM) over {logons} log-ons"), hwm, "KiB"),
        value(&format!("host CPU while idle for {idle_secs} s"), idle_ms, "ms"),
        value(&format!("host thread wake-ups (context switches) while idle for {idle_secs} s"), woke, "switches"),
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
