//! The bank side of a log-on, without the token: verified log-ons per second per core of the
//! demo bank (release build, in this process) on each of its stores, SQLite and PostgreSQL (a
//! throwaway cluster, `kagi_rig::Postgres`). Each log-on is what a browser does: `POST
//! /api/nonce` (a session and a nonce stored), the login token signed in software for that
//! nonce (P-256, the key of a certificate the bank issued through its acquisition API), `POST
//! /api/login` (nonce redeemed in one statement, chain, ES256 signature and records checked by
//! kagi-verify, session rotated). Clients run two per core for a fixed time over loopback
//! HTTP/1.1; the figure is log-ons per second divided by the machine's cores, which the bank,
//! the database and the load generator share (so it is a floor for the bank alone).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kagi_bank::clock::SystemClock;
use kagi_bank::db::Database;
use kagi_bank::{loopback_origins, Bank, Config, DEMO_CUSTOMER};
use kagi_proto::{login, LoginToken, Nonce, Origin, SignatureAlgorithm};
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::measure::{value, Value as Figure};

type R<T> = Result<T, String>;

/// Both stores' figures; PostgreSQL's is left out (with the reason on standard error) when no
/// cluster can be started here.
pub fn logons_per_core(seconds: u64) -> R<Vec<Figure>> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut out = Vec::new();
    let dir = kagi_rig::temp_dir().map_err(|e| format!("temp dir: {e}"))?;
    let rate = run(&dir.path().join("sqlite"), Database::Sqlite, cores, seconds)?;
    out.push(value("bank: verified log-ons per second per core, SQLite", round(rate / cores as f64), "/s/core"));
    match kagi_rig::Postgres::start() {
        Ok(pg) => {
            pg.create_database("bench").map_err(|e| format!("createdb: {e}"))?;
            let rate = run(&dir.path().join("postgres"), Database::Postgres(pg.url("bench")), cores, seconds)?;
            out.push(value("bank: verified log-ons per second per core, PostgreSQL", round(rate / cores as f64), "/s/core"));
        }
        Err(reason) => eprintln!("kagi-bench: no PostgreSQL figure: {reason}"),
    }
    Ok(out)
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Log-ons per second against one bank on `database`, `2 × cores` clients for `seconds`.
fn run(data_dir: &Path, database: Database, cores: usize, seconds: u64) -> R<f64> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("runtime: {e}"))?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(|e| format!("bind: {e}"))?;
    let port = listener.local_addr().map_err(|e| format!("bind: {e}"))?.port();
    let origins = loopback_origins(port).map_err(|e| e.to_string())?;
    let origin = origins[0].clone();
    let config = Config {
        data_dir: data_dir.to_owned(),
        clock: Arc::new(SystemClock::default()),
        origins,
        demo: true,
        log: Arc::new(kagi_bank::app::StderrLog),
        database,
    };
    let (bank, _) = Bank::open(config).map_err(|e| format!("bank: {e}"))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        rt.block_on(kagi_bank::serve(listener, Arc::new(bank), async {
            let _ = stop_rx.await;
        }))
    });
    let result = (|| {
        let customer = Arc::new(acquire(port)?);
        let done = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let clients: Vec<_> = (0..2 * cores)
            .map(|_| {
                let (customer, done, count, origin) = (customer.clone(), done.clone(), count.clone(), origin.clone());
                std::thread::spawn(move || -> R<()> {
                    while !done.load(Ordering::Relaxed) {
                        log_on(port, &origin, &customer)?;
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(seconds));
        done.store(true, Ordering::Relaxed);
        let n = count.load(Ordering::Relaxed);
        let elapsed = start.elapsed().as_secs_f64();
        for c in clients {
            c.join().map_err(|_| "client panicked".to_string())??;
        }
        Ok(n as f64 / elapsed)
    })();
    let _ = stop_tx.send(());
    let _ = server.join();
    result
}

struct Customer {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
}

/// The demo customer's certificate for a software key, through the acquisition API.
fn acquire(port: u16) -> R<Customer> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let csr = rcgen::CertificateParams::new(vec![]).and_then(|p| p.serialize_request(&key)).map_err(|e| e.to_string())?.der().to_vec();
    let start = http(port, "/api/acquire/start", None, &json!({"contractNumber": DEMO_CUSTOMER.contract_number, "password": DEMO_CUSTOMER.password}))?;
    let issued = http(port, "/api/csr", start.1.as_deref(), &json!({"csr": b64(&csr)}))?;
    let cert = issued.2["certificate"].as_str().ok_or_else(|| format!("no certificate issued: {}", issued.2))?;
    let cert_der = base64_decode(cert)?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der(), &ring::rand::SystemRandom::new())
        .map_err(|e| e.to_string())?;
    Ok(Customer { key, cert_der })
}

/// One verified log-on: a nonce, the token for it, the log-on accepted.
fn log_on(port: u16, origin: &Origin, customer: &Customer) -> R<()> {
    let (_, cookie, body) = http(port, "/api/nonce", None, &json!({}))?;
    let nonce = body["nonce"].as_str().ok_or("no nonce")?;
    let parsed = Nonce::parse(nonce).map_err(|e| e.to_string())?;
    let sig = customer.key.sign(&ring::rand::SystemRandom::new(), &login::signed_message(origin, &parsed)).map_err(|e| e.to_string())?;
    let token = LoginToken::new(&customer.cert_der, SignatureAlgorithm::ES256, sig.as_ref());
    let (status, _, body) = http(port, "/api/login", cookie.as_deref(), &json!({"nonce": nonce, "token": token}))?;
    if status != 200 {
        return Err(format!("log-on refused: HTTP {status} {body}"));
    }
    Ok(())
}

/// One POST over a fresh loopback connection: status, session cookie, JSON body.
fn http(port: u16, path: &str, cookie: Option<&str>, body: &Value) -> R<(u16, Option<String>, Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_nodelay(true);
    let payload = body.to_string();
    let cookie_line = cookie.map(|c| format!("Cookie: {}={c}\r\n", kagi_bank::session::COOKIE_NAME)).unwrap_or_default();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{cookie_line}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP head")?;
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or("no HTTP status")?;
    let prefix = format!("{}=", kagi_bank::session::COOKIE_NAME);
    let cookie = head
        .lines()
        .filter_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.trim()))
        .filter_map(|v| v.strip_prefix(prefix.as_str()))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .find(|v| !v.is_empty());
    Ok((status, cookie, serde_json::from_str(body).unwrap_or(Value::Null)))
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn base64_decode(s: &str) -> R<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| e.to_string())
}
