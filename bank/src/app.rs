//! The bank as a whole: state, routes, and serving on a loopback listener.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use kagi_verify::{AttestationPolicy, Origin, Verifier};

use crate::ca::Ca;
use crate::clock::Clock;
use crate::db::{Database, Db};
use crate::error::BankError;
use crate::session;
use crate::{api, pages};

/// Where the bank keeps its state and how it tells time.
pub struct Config {
    pub data_dir: PathBuf,
    pub clock: Arc<dyn Clock>,
    /// The origins pages are served from and login tokens must be signed for. The first is the
    /// public one. Empty = `http://127.0.0.1:<port>` and `http://localhost:<port>`.
    pub origins: Vec<Origin>,
    /// Demo mode (`serve --demo`): a bank without customers gets [`DEMO_CUSTOMER`]. A production
    /// start never creates a customer with a published password.
    pub demo: bool,
    /// Where security events go (failed log-ons, wrong passwords, lock-outs).
    pub log: Arc<dyn Log>,
    /// Where customers, certificates, sessions and nonces live: SQLite in `data_dir` (the
    /// default) or a PostgreSQL database shared by several instances (which then share
    /// `data_dir`'s CA key and certificate too).
    pub database: Database,
}

/// The bank's log of security events, one line each.
pub trait Log: Send + Sync {
    fn line(&self, line: &str);
}

/// The log on standard error, `kagi-bank: ` first (what `serve` uses).
#[derive(Debug, Default)]
pub struct StderrLog;

impl Log for StderrLog {
    fn line(&self, line: &str) {
        eprintln!("kagi-bank: {line}");
    }
}

/// Standard error and a copy in memory, for tests that check what was logged.
#[derive(Debug, Default)]
pub struct MemoryLog(std::sync::Mutex<Vec<String>>);

impl MemoryLog {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Log for MemoryLog {
    fn line(&self, line: &str) {
        eprintln!("kagi-bank: {line}");
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line.to_owned());
    }
}

/// The demo customer made on first start.
#[derive(Debug, Clone)]
pub struct DemoCustomer {
    pub contract_number: &'static str,
    pub common_name: &'static str,
    pub name: &'static str,
    pub password: &'static str,
}

pub const DEMO_CUSTOMER: DemoCustomer = DemoCustomer {
    contract_number: "SH001001",
    common_name: "SH001 SH001001 1898",
    name: "かぎ商事株式会社",
    password: "kagi-demo-1234",
};

pub struct Bank {
    pub db: Db,
    pub ca: Ca,
    pub verifier: Verifier,
    pub clock: Arc<dyn Clock>,
    pub origins: Vec<Origin>,
    log: Arc<dyn Log>,
    /// Key attestation required at issuance, under these roots (`attestation.rs`); `None`
    /// (the default): not required.
    pub attestation: Option<AttestationPolicy>,
}

impl Bank {
    /// Opens (or creates) the bank in `config.data_dir`. Returns the demo customer when this
    /// start created it (demo mode only).
    pub fn open(config: Config) -> Result<(Bank, Option<DemoCustomer>), BankError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let now = config.clock.now();
        let db = Db::open_database(&config.database, &config.data_dir)?;
        let ca = Ca::load_or_create(&config.data_dir, now)?;
        let verifier = Verifier::new([ca.cert_der.clone()])?;
        let mut seeded = None;
        if config.demo && db.customer_count()? == 0 {
            let d = DEMO_CUSTOMER;
            db.add_customer(d.contract_number, d.common_name, d.name, d.password, now)?;
            seeded = Some(d);
        }
        Ok((Bank { db, ca, verifier, clock: config.clock, origins: config.origins, log: config.log, attestation: None }, seeded))
    }

    /// From now on, issues only for keys attested under `policy`'s roots.
    pub fn require_attestation(mut self, policy: AttestationPolicy) -> Bank {
        self.attestation = Some(policy);
        self
    }

    /// The CA certificates pages pass to the extension as `issuers` (standard base64 DER): the
    /// host uses and replaces only certificates on the token that this bank's CA issued.
    pub fn issuers(&self) -> Vec<String> {
        vec![base64::engine::general_purpose::STANDARD.encode(&self.ca.cert_der)]
    }

    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// One line in the bank's log: codes, contract numbers and field names, never a password,
    /// nonce, signature or cookie.
    pub fn log(&self, line: &str) {
        self.log.line(line);
    }

    /// The configured origin this request was made to, judged by its `Host` header. Login
    /// tokens must be signed for exactly this origin.
    pub fn request_origin(&self, headers: &HeaderMap) -> Result<&Origin, BankError> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        self.origins
            .iter()
            .find(|o| o.as_str().split_once("://").map(|(_, authority)| authority) == Some(host))
            .ok_or_else(|| BankError::OriginNotServed(host.to_owned()))
    }

    /// Refuses state-changing requests a browser sent from another site. Requests without an
    /// `Origin` header (not from a browser page) pass; the session cookie is SameSite=Strict too.
    pub fn check_request_origin(&self, headers: &HeaderMap) -> Result<(), BankError> {
        match headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("")) {
            None => Ok(()),
            Some(o) if self.origins.iter().any(|ok| ok.as_str() == o) => Ok(()),
            Some(o) => Err(BankError::OriginNotServed(o.to_owned())),
        }
    }
}

pub type State = Arc<Bank>;

/// Default origins for a loopback port.
pub fn loopback_origins(port: u16) -> Result<Vec<Origin>, BankError> {
    let parse = |s: String| Origin::parse(&s).map_err(|e| BankError::Internal(e.to_string()));
    Ok(vec![parse(format!("http://127.0.0.1:{port}"))?, parse(format!("http://localhost:{port}"))?])
}

pub fn router(bank: State) -> Router {
    Router::new()
        .route("/", get(pages::login::page))
        .route("/home", get(pages::home::page))
        .route("/logoff", post(pages::home::logoff))
        .route("/acquire", get(pages::acquire::start_page).post(pages::acquire::submit))
        .route("/acquire/renew", post(pages::acquire::renew))
        .route("/acquire/complete", get(pages::complete::page))
        .route("/help/install", get(pages::install::page))
        .route("/densai", get(pages::densai::page))
        .route("/densai/approve", get(pages::densai::approve_page))
        .route("/static/densai.js", get(pages::assets::densai_js))
        .route("/api/densai/transfer", post(crate::densai::api::transfer))
        .route("/api/densai/requests", get(crate::densai::api::requests))
        .route("/api/densai/challenge", post(crate::densai::api::challenge))
        .route("/api/densai/confirm", post(crate::densai::api::confirm))
        .route("/static/kagi.js", get(pages::assets::kagi_js))
        .route("/static/bank.js", get(pages::assets::bank_js))
        .route("/static/login.js", get(pages::assets::login_js))
        .route("/static/acquire.js", get(pages::assets::acquire_js))
        .route("/static/home.js", get(pages::assets::home_js))
        .route("/static/bank.css", get(pages::assets::bank_css))
        .route("/static/ca-cert.pem", get(pages::assets::ca_cert))
        .route("/api/nonce", post(api::nonce))
        .route("/api/login", post(api::login))
        .route("/api/logoff", post(api::logoff))
        .route("/api/session", get(api::session_info))
        .route("/api/acquire/start", post(api::acquire_start))
        .route("/api/acquire/renew", post(api::acquire_renew))
        .route("/api/csr", post(api::submit_csr))
        .route("/api/certificate", get(api::certificate))
        .route("/api/issuers", get(api::issuers))
        .route("/ca.crl", get(api::crl))
        .fallback(api::not_found)
        // CSRs and login tokens are a few KB; nothing legitimate comes near this.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(bank)
}

async fn security_headers(mut res: axum::response::Response) -> axum::response::Response {
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    res
}

/// Serves `bank` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    bank: State,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), BankError> {
    axum::serve(listener, router(bank)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// A cookie-bound session for this request: the existing one, or a new one (with the
/// `Set-Cookie` to send).
pub fn ensure_session(bank: &Bank, headers: &HeaderMap, out: &mut HeaderMap) -> Result<String, BankError> {
    let now = bank.now();
    if let Some(handle) = session::handle_from(headers) {
        if bank.db.session(&handle, now)?.is_some() {
            return Ok(handle);
        }
    }
    let (value, handle) = session::fresh()?;
    bank.db.create_session(&handle, now, session::SESSION_TTL)?;
    session::set_cookie(out, &value);
    Ok(handle)
}
