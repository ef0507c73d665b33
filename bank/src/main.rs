//! `kagi-bank`: run the demo bank, and the operator's commands.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use kagi_bank::clock::{Clock, SystemClock};
use kagi_bank::db::{Database, Db};
use kagi_bank::app::StderrLog;
use kagi_bank::{loopback_origins, Bank, BankError, Config};
use kagi_verify::Origin;

#[derive(Parser)]
#[command(name = "kagi-bank", version, about = "Kagi demo bank (relying party and CA)")]
struct Cli {
    /// Where the database and the CA key live.
    #[arg(long, global = true, default_value = "kagi-bank-data", env = "KAGI_BANK_DATA")]
    data_dir: PathBuf,
    /// Where customers, certificates, sessions and nonces live: `sqlite` (bank.sqlite3 in the
    /// data directory) or a PostgreSQL URL (postgres://user@host:port/db) that several bank
    /// instances share. The CA stays in the data directory: give every instance the same one.
    #[arg(long, global = true, default_value = "sqlite", env = "KAGI_BANK_DATABASE")]
    database: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the bank on 127.0.0.1.
    Serve {
        #[arg(long, default_value_t = 8480)]
        port: u16,
        /// Demo mode: a bank without customers gets the demo customer (SH001001, password
        /// kagi-demo-1234). Without it no customer is created: add them with `add-customer`.
        #[arg(long)]
        demo: bool,
        /// Run as if this many days had passed (renewal demos; demo mode only).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        clock_offset_days: i64,
        /// Public origin(s) login tokens must be signed for, e.g. https://ib.bank.example behind
        /// a TLS proxy. Default: http://127.0.0.1:<port> and http://localhost:<port>.
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Require key attestation at issuance: the CSR's key must be attested by a token
        /// chaining to one of these root certificates (PEM or DER files; repeatable). Default:
        /// not required.
        #[arg(long = "attestation-root")]
        attestation_roots: Vec<PathBuf>,
    },
    /// Mark a customer for reissue (再発行): revokes their certificates and lets them acquire a
    /// new one outside the renewal period.
    Reissue {
        /// Contract number (契約者番号).
        contract_number: String,
    },
    /// List customers and their certificates.
    Customers,
    /// Add a customer who may then obtain a first certificate.
    AddCustomer {
        #[arg(long)]
        contract_number: String,
        /// Customer id string, the certificate's CN (e.g. "SH001 SH001002 1898").
        #[arg(long)]
        common_name: String,
        #[arg(long)]
        name: String,
        /// The certificate password (電子証明書取得パスワード) the customer types on 【取得】.
        #[arg(long)]
        password: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kagi-bank: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), BankError> {
    let clock = SystemClock::default();
    let database = Database::parse(&cli.database)?;
    match cli.command {
        Cmd::Serve { port, demo, clock_offset_days, origins, attestation_roots } => {
            if clock_offset_days != 0 && !demo {
                return Err(BankError::BadRequest("--clock-offset-days moves the bank's clock: demo mode only (--demo)".into()));
            }
            serve(cli.data_dir, database, port, demo, clock_offset_days, origins, &attestation_roots)
        }
        Cmd::Reissue { contract_number } => {
            let db = existing_db(&database, &cli.data_dir)?;
            let c = db.customer_by_contract(&contract_number)?.ok_or_else(|| BankError::BadRequest(format!("no customer with contract number {contract_number}")))?;
            let n = db.mark_reissue(c.id, clock.now())?;
            println!("{}: marked for reissue; {n} certificate(s) revoked. The customer may now obtain a new certificate.", c.contract_number);
            Ok(())
        }
        Cmd::Customers => {
            let db = existing_db(&database, &cli.data_dir)?;
            for c in db.customers()? {
                println!(
                    "{}\t{}\t{}\tIssuedCount={:03}{}",
                    c.contract_number,
                    c.common_name,
                    c.name,
                    c.issued_count,
                    if c.reissue_pending { "\treissue pending" } else { "" }
                );
                for cert in db.certificates_of(c.id)? {
                    println!(
                        "\t{}\tIssuedCount={:03}\tuntil {}\t{}",
                        cert.serial,
                        cert.issued_count,
                        kagi_bank::pages::rfc3339(cert.not_after),
                        if cert.revoked { "revoked" } else { "active" }
                    );
                }
            }
            Ok(())
        }
        Cmd::AddCustomer { contract_number, common_name, name, password } => {
            std::fs::create_dir_all(&cli.data_dir)?;
            let db = Db::open_database(&database, &cli.data_dir)?;
            db.add_customer(&contract_number, &common_name, &name, &password, clock.now())?;
            println!("added {contract_number} ({common_name})");
            Ok(())
        }
    }
}

fn existing_db(database: &Database, dir: &Path) -> Result<Db, BankError> {
    let path = dir.join("bank.sqlite3");
    if *database == Database::Sqlite && !path.exists() {
        return Err(BankError::BadRequest(format!("no bank database at {} (run `kagi-bank serve` first)", path.display())));
    }
    Db::open_database(database, dir)
}

#[allow(clippy::too_many_arguments)]
fn serve(data_dir: PathBuf, database: Database, port: u16, demo: bool, offset_days: i64, origins: Vec<String>, attestation_roots: &[PathBuf]) -> Result<(), BankError> {
    // Read before anything is served: a bank told to require attestation never runs without it.
    let attestation = match attestation_roots {
        [] => None,
        roots => Some(kagi_bank::attestation::load_roots(roots)?),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        // Loopback only: a real deployment puts a TLS-terminating proxy in front (README).
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let origins = if origins.is_empty() {
            loopback_origins(port)?
        } else {
            origins.iter().map(|o| Origin::parse(o).map_err(|e| BankError::BadRequest(e.to_string()))).collect::<Result<_, _>>()?
        };
        let config = Config {
            data_dir: data_dir.clone(),
            clock: Arc::new(SystemClock { offset_days }),
            origins: origins.clone(),
            demo,
            log: Arc::new(StderrLog),
            database,
        };
        let (mut bank, seeded) = Bank::open(config)?;
        if demo {
            println!("Demo mode.");
        } else if bank.db.customer_count()? == 0 {
            println!("No customers yet: add them with `kagi-bank add-customer`.");
        }
        if let Some(policy) = attestation {
            println!("Key attestation required at issuance ({} root file(s)).", attestation_roots.len());
            bank = bank.require_attestation(policy);
        }
        if let Some(d) = seeded {
            println!("First start: demo customer created.");
            println!("  契約者番号 (contract number):          {}", d.contract_number);
            println!("  電子証明書取得パスワード (password):    {}", d.password);
            println!("  Common Name:                          {}", d.common_name);
            println!("  お客様名 (name):                      {}", d.name);
        }
        if offset_days != 0 {
            println!("Clock offset: {offset_days} days.");
        }
        println!("Data: {} (database: {})", data_dir.display(), bank.db.kind());
        // The socket, then the public origin (last line: scripts wait for it). They differ
        // behind a proxy, where `--port 0` needs the first to be reachable at all.
        println!("Listening on 127.0.0.1:{port}");
        println!("Kagi demo bank on {}/", origins[0]);
        let shutdown = async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => return std::mem::drop(ctrl_c.await),
                };
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
        };
        kagi_bank::serve(listener, Arc::new(bank), shutdown).await
    })
}
