//! `kagi-vtoken`: a software PIV token (NIST SP 800-73-4) that plugs into vsmartcard's vpcd
//! reader driver, for Kagi's integration tests. See README.md.
#![forbid(unsafe_code)]

mod attestation;
mod card;
mod counter;
mod crypto;
mod latency;
mod objects;
mod control;
mod signlog;
mod state;
mod tlv;
mod vpcd;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Virtual PIV token for vpcd (vsmartcard).
#[derive(Parser, Debug)]
#[command(name = "kagi-vtoken", version)]
struct Args {
    /// vpcd reader index: 0 = "Virtual PCD 00 00" (port 35963), 1 = "Virtual PCD 00 01" (35964).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1))]
    reader: u16,
    /// TCP port of vpcd (overrides --reader).
    #[arg(long)]
    port: Option<u16>,
    /// Host where vpcd listens.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// State file (keys, data objects, PIN/PUK and counters). Without it, state is in memory only.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Artificial delay added to key generation and to each private-key operation.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// After answering N APDUs, drop the connection at the next one and exit with status 3
    /// (the token is pulled mid-operation).
    #[arg(long)]
    fail_after: Option<u64>,
    /// How long to keep trying to (re)connect to vpcd, at start and after pcscd went away.
    #[arg(long, default_value_t = 30)]
    connect_timeout_secs: u64,
    /// Exit when stdin reaches end-of-file (lets a test harness tie the token's life to its own).
    /// Lines on stdin are control commands meanwhile (`control.rs`: `fail-after N`), each
    /// acknowledged with a line on stdout.
    #[arg(long)]
    exit_on_stdin_eof: bool,
    /// Log every APDU and response to stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Answer the YubiKey GET METADATA instruction (on: a YubiKey 5; off: 6D00 like other PIV
    /// cards). Stored in the state file; without the flag the stored setting stays.
    #[arg(long, value_parser = on_off)]
    metadata: Option<bool>,
    /// Accept AES management keys (on: a YubiKey 5.4+; off: 3DES only, like older YubiKeys).
    /// Stored in the state file; without the flag the stored setting stays.
    #[arg(long, value_parser = on_off)]
    aes_management_key: Option<bool>,
    /// Answer the YubiKey ATTEST instruction (INS F9) from an F9 key whose certificate chains to
    /// the test attestation root (on: a YubiKey 5; off: 6D00 like other PIV cards). Stored in
    /// the state file; without the flag the stored setting stays.
    #[arg(long, value_parser = on_off)]
    attestation: Option<bool>,
    /// Print the test attestation root certificate (PEM) and exit.
    #[arg(long)]
    print_attestation_root: bool,
    /// Latency model: wait this long before answering each command APDU. Given without a
    /// value: the full-speed USB CCID figure (see README.md "Latency model"). Default 0.
    #[arg(long, num_args = 0..=1)]
    apdu_latency_us: Option<Option<u64>>,
    /// Latency model: and this long per byte of command and response. Given without a value:
    /// the full-speed USB CCID figure. Default 0.
    #[arg(long, num_args = 0..=1)]
    byte_latency_us: Option<Option<u64>>,
    /// Count command APDUs (and bytes, resets, by INS) in this JSON file, rewritten after every
    /// APDU before its response is sent; continues from the file's counts.
    #[arg(long)]
    apdu_counter: Option<PathBuf>,
    /// Append every digest the token signs to this file, one JSON line per private-key
    /// operation (`{"slot":"82","alg":"11","digest":"<hex>"}`), before the response is sent.
    #[arg(long)]
    sign_log: Option<PathBuf>,
    /// Create (or update) the state file with the options above and exit without connecting
    /// to vpcd: the test rig uses it to prepare a token before plugging it in.
    #[arg(long, requires = "state")]
    init_only: bool,
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?}: expected on or off")),
    }
}

/// Loads or creates the state and stores the options given on the command line.
fn apply_options(store: &state::Store, args: &Args) -> Result<(), String> {
    if args.metadata.is_none() && args.aes_management_key.is_none() && args.attestation.is_none() && !args.init_only {
        return Ok(());
    }
    let mut st = store.load_or_create()?;
    if let Some(on) = args.metadata {
        st.options.metadata = on;
    }
    if let Some(on) = args.aes_management_key {
        st.options.aes_management_key = on;
    }
    if let Some(on) = args.attestation {
        st.options.attestation = on;
    }
    store.save(&st).map_err(|e| format!("writing state: {e}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.print_attestation_root {
        return match attestation::root_pem() {
            Ok(pem) => {
                print!("{pem}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kagi-vtoken: {}", e.0);
                ExitCode::from(2)
            }
        };
    }
    let port = args.port.unwrap_or(vpcd::BASE_PORT + args.reader);
    let store = state::Store::new(args.state.clone());
    if let Err(e) = apply_options(&store, &args) {
        eprintln!("kagi-vtoken: {e}");
        return ExitCode::from(2);
    }
    if args.init_only {
        return ExitCode::SUCCESS;
    }
    let mut card = match card::Card::new(store, Duration::from_millis(args.delay_ms)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kagi-vtoken: {e}");
            return ExitCode::from(2);
        }
    };
    let armed = control::Armed::new();
    if let Some(p) = &args.sign_log {
        card.record_signatures(signlog::SignLog::new(p));
    }
    if args.exit_on_stdin_eof {
        let armed = armed.clone();
        std::thread::spawn(move || {
            control::serve_stdin(&armed);
            eprintln!("kagi-vtoken: stdin closed, exiting");
            std::process::exit(0);
        });
    }
    let mut counter = match args.apdu_counter.as_deref().map(counter::Counter::open).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kagi-vtoken: APDU counter: {e}");
            return ExitCode::from(2);
        }
    };
    // Absent: 0 (answer at once); given without a value: the full-speed USB model.
    let apdu_us = args.apdu_latency_us.map_or(0, |v| v.unwrap_or(latency::USB_FS_APDU_US));
    let byte_us = args.byte_latency_us.map_or(0, |v| v.unwrap_or(latency::USB_FS_BYTE_US));
    let latency = latency::Latency::from_us(apdu_us, byte_us);
    if !latency.is_zero() {
        eprintln!("kagi-vtoken: latency model: {apdu_us} µs per APDU + {byte_us} µs per byte");
    }
    let opts = vpcd::SessionOpts { fail_after: args.fail_after, armed, verbose: args.verbose, latency };
    let timeout = Duration::from_secs(args.connect_timeout_secs);
    loop {
        let mut s = match vpcd::connect(&args.host, port, timeout) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kagi-vtoken: cannot connect to vpcd at {}:{port}: {e}", args.host);
                return ExitCode::from(1);
            }
        };
        eprintln!("kagi-vtoken: inserted into vpcd at {}:{port}", args.host);
        let end = vpcd::serve(&mut s, &mut card, &opts, &mut counter);
        card.reset();
        match end {
            Ok(vpcd::End::FailAfter) => return ExitCode::from(3),
            Ok(vpcd::End::Closed) => eprintln!("kagi-vtoken: vpcd closed the connection; reconnecting"),
            Err(e) => eprintln!("kagi-vtoken: connection error: {e}; reconnecting"),
        }
    }
}
