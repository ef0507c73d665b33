//! Shared by the bank's integration tests: the bank on an ephemeral loopback port with a
//! manual clock, a small cookie-keeping HTTP client, and software CSRs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use kagi_bank::clock::ManualClock;
use kagi_bank::app::MemoryLog;
use kagi_bank::db::Database;
use kagi_bank::{loopback_origins, Bank, Config};
use serde_json::Value;

pub const CONTRACT: &str = kagi_bank::DEMO_CUSTOMER.contract_number;
pub const PASSWORD: &str = kagi_bank::DEMO_CUSTOMER.password;
pub const CN: &str = kagi_bank::DEMO_CUSTOMER.common_name;
pub const PIN: &str = "123456";
pub const DAY: u64 = 86_400;

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64")
}

/// A running bank. Dropping it stops the server (graceful shutdown) and joins its thread.
pub struct TestBank {
    pub base: String,
    pub origin: String,
    pub port: u16,
    pub clock: Arc<ManualClock>,
    pub bank: Arc<Bank>,
    pub data_dir: PathBuf,
    /// What the bank logged (security events).
    pub log: Arc<MemoryLog>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestBank {
    /// The bank in demo mode (the demo customer is there), as the tests and the demo run it.
    pub fn start(data_dir: &Path, clock: Arc<ManualClock>) -> TestBank {
        TestBank::start_full(data_dir, clock, true, |b| b)
    }

    /// The bank in demo mode or not.
    pub fn start_mode(data_dir: &Path, clock: Arc<ManualClock>, demo: bool) -> TestBank {
        TestBank::start_full(data_dir, clock, demo, |b| b)
    }

    /// [`TestBank::start`] with the bank adjusted before it serves (e.g. a policy turned on).
    pub fn start_with(data_dir: &Path, clock: Arc<ManualClock>, adjust: impl FnOnce(Bank) -> Bank) -> TestBank {
        TestBank::start_full(data_dir, clock, true, adjust)
    }

    fn start_full(data_dir: &Path, clock: Arc<ManualClock>, demo: bool, adjust: impl FnOnce(Bank) -> Bank) -> TestBank {
        TestBank::start_on(data_dir, clock, demo, Database::Sqlite, &[], adjust)
    }

    /// One instance of a bank whose data lives in `database` (several instances may share a
    /// PostgreSQL database and `data_dir`'s CA), serving `extra_origins` besides its loopback
    /// ones (the public origin a load balancer would give them all).
    pub fn start_on(
        data_dir: &Path,
        clock: Arc<ManualClock>,
        demo: bool,
        database: Database,
        extra_origins: &[&str],
        adjust: impl FnOnce(Bank) -> Bank,
    ) -> TestBank {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(MemoryLog::default());
        let mut origins = loopback_origins(port).unwrap();
        origins.extend(extra_origins.iter().map(|o| kagi_verify::Origin::parse(o).unwrap()));
        let config = Config { data_dir: data_dir.to_owned(), clock: clock.clone(), origins, demo, log: log.clone(), database };
        let (bank, _) = Bank::open(config).unwrap();
        let bank = Arc::new(adjust(bank));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = bank.clone();
        let thread = std::thread::spawn(move || {
            rt.block_on(kagi_bank::serve(listener, served, async {
                let _ = rx.await;
            }))
            .unwrap();
        });
        TestBank {
            base: format!("http://127.0.0.1:{port}"),
            origin: format!("http://127.0.0.1:{port}"),
            port,
            clock,
            bank,
            data_dir: data_dir.to_owned(),
            log,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// The bank's clock now.
    pub fn clock_now(&self) -> SystemTime {
        use kagi_bank::clock::Clock;
        self.clock.now()
    }

    /// The bank's CA certificates as pages pass them to the extension (`issuers`).
    pub fn issuers(&self) -> Vec<String> {
        self.bank.issuers()
    }
}

impl Drop for TestBank {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(SystemTime::now()))
}

/// A browser-like client: keeps the session cookie, never follows redirects.
pub struct Client {
    agent: ureq::Agent,
    pub base: String,
    /// `name=value` of the session cookie, as the browser would send it.
    pub cookie: Option<String>,
    /// Every `Set-Cookie` header the bank sent, in order.
    pub set_cookies: Vec<String>,
}

pub struct Resp {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub content_type: String,
    pub retry_after: Option<String>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The error code of an API error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {}", self.body)).to_owned()
    }
}

impl Client {
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .build()
            .into();
        Client { agent, base: base.to_owned(), cookie: None, set_cookies: Vec::new() }
    }

    fn finish(&mut self, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut r = r.expect("HTTP request");
        for sc in r.headers().get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let pair = sc.split(';').next().unwrap();
            self.set_cookies.push(sc.to_owned());
            if let Some(v) = pair.strip_prefix(&format!("{}=", kagi_bank::session::COOKIE_NAME)) {
                self.cookie = if v.is_empty() { None } else { Some(pair.to_owned()) };
            }
        }
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        let content_type = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let status = r.status().as_u16();
        let body = r.body_mut().with_config().limit(10 << 20).read_to_string().unwrap_or_default();
        Resp { status, body, location, content_type, retry_after }
    }

    pub fn get(&mut self, path: &str) -> Resp {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.call();
        self.finish(r)
    }

    /// GET as a browser on another platform would (its `User-Agent`).
    pub fn get_with_user_agent(&mut self, path: &str, user_agent: &str) -> Resp {
        let r = self.agent.get(format!("{}{path}", self.base)).header("user-agent", user_agent).call();
        self.finish(r)
    }

    /// POST with a raw body and content type.
    pub fn post_raw(&mut self, path: &str, content_type: &str, body: &[u8]) -> Resp {
        let mut req = self.agent.post(format!("{}{path}", self.base)).header("content-type", content_type);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send(body);
        self.finish(r)
    }

    pub fn post_json(&mut self, path: &str, body: &Value) -> Resp {
        self.post_raw(path, "application/json", body.to_string().as_bytes())
    }

    pub fn post_form(&mut self, path: &str, body: &str) -> Resp {
        self.post_raw(path, "application/x-www-form-urlencoded", body.as_bytes())
    }

    /// 【取得】 through the JSON API.
    pub fn acquire_start(&mut self, contract: &str, password: &str) -> Resp {
        self.post_json("/api/acquire/start", &serde_json::json!({"contractNumber": contract, "password": password}))
    }

    /// One-click renewal from a logged-on session.
    pub fn acquire_renew(&mut self) -> Resp {
        self.post_json("/api/acquire/renew", &serde_json::json!({}))
    }

    pub fn submit_csr(&mut self, csr_der: &[u8]) -> Resp {
        self.post_json("/api/csr", &serde_json::json!({"csr": b64(csr_der)}))
    }
}

/// A CSR from a software P-256 key (for tests that do not need the token).
pub fn software_csr() -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    rcgen::CertificateParams::new(vec![]).unwrap().serialize_request(&key).unwrap().der().to_vec()
}

/// Seconds between two times (b - a), signed.
pub fn secs_between(a: SystemTime, b: SystemTime) -> i64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

pub fn at(t: SystemTime, secs: i64) -> SystemTime {
    kagi_bank::clock::shift(t, secs)
}

pub fn wait() -> Duration {
    Duration::from_millis(10)
}
