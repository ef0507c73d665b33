//! The token walk-through `scripts/demo.sh` runs: the host driven exactly as the extension will
//! drive it, against whatever PIV token is inserted (the virtual one by default).
//!
//! status → enroll.begin (new P-256 key on the token, CSR) → a throwaway CA issues the
//! certificate in the bank's subject layout → enroll.finish → authenticate → the signature is
//! checked with the certificate's public key, bound to the origin and nonce.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use kagi_proto::{EnrollBeginResult, EnrollFinishResult, LoginToken, StatusResult};
use kagi_rig::Host;

fn step(n: u32, what: &str) {
    println!("\n[{n}] {what}");
}

fn main() {
    if let Err(e) = run() {
        eprintln!("walk-through failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let pin_env = std::env::var("KAGI_DEMO_PIN").ok();
    step(1, "start kagi-host as Chrome would (argv[1] = the extension origin)");
    let mut host = Host::spawn().map_err(|e| e.to_string())?;
    let hello = host.hello.clone().ok_or("no hello from the host")?;
    println!("    hello: protocol {} host {} capabilities {:?}", hello.protocol, hello.host_version, hello.capabilities);

    // The bank's CA (here a throwaway demo CA): every log-on and acquisition names it.
    let ca = TestCa::new("Kagi Demo CA");
    step(2, "status, naming the bank's CA");
    let s: StatusResult = host
        .request(serde_json::json!({"cmd":"status","issuers":issuers(&ca)}))
        .into_result()
        .map_err(|e| e.message)?;
    for r in &s.readers {
        println!("    reader {:<24} token: {}", r.name, if r.token_present { "yes" } else { "no" });
    }
    let token = s.tokens.into_iter().next().ok_or("no PIV token found: insert one (or let scripts/demo.sh start the virtual token)")?;
    println!(
        "    token GUID {}  PIN tries left {:?}  management key {:?}",
        token.guid.unwrap_or_default(),
        token.pin_retries,
        token.management_key
    );
    match &token.certificate {
        Some(c) => println!("    login certificate: {} (slot {}, until {})", c.subject.common_name.clone().unwrap_or_default(), c.slot, c.not_after),
        None => println!("    no certificate yet"),
    }

    // A token still at the factory PIN gets the customer's PIN at its first acquisition.
    let first_use = token.pin_default == Some(true);
    let pin = pin_env.unwrap_or_else(|| if first_use { FACTORY_PIN.to_string() } else { PIN.to_string() });
    step(3, "enroll.begin: a new P-256 key pair on the token, CSR signed by it");
    let mut req = serde_json::json!({"cmd":"enroll.begin","origin":ORIGIN,"pin":pin,"algorithm":"P-256","issuers":issuers(&ca)});
    if first_use || pin == FACTORY_PIN {
        // First use: the customer chooses a PIN before anything is written.
        req["newPin"] = serde_json::json!(PIN);
    }
    let begin: EnrollBeginResult = host.request(req).into_result().map_err(|e| format!("{}: {}", e.code.as_str(), e.message))?;
    let pin = if first_use || pin == FACTORY_PIN { PIN.to_string() } else { pin };
    println!("    key generated in retired slot {}; CSR {} bytes", begin.slot, unb64(&begin.csr).len());

    step(4, "the bank's CA issues the certificate");
    let cert = ca.issue(&begin.csr, 1, 0, 365);
    println!("    certificate {} bytes, sha256 {}", cert.len(), sha256_hex(&cert));

    step(5, "enroll.finish: the certificate is checked against the new key, written, read back");
    let finish: EnrollFinishResult = enroll_finish(&mut host, &cert).into_result().map_err(|e| e.message)?;
    let c = &finish.certificate;
    println!("    Country             = {}", c.subject.country.clone().unwrap_or_default());
    println!("    Organization        = {}", c.subject.organization.clone().unwrap_or_default());
    for ou in &c.subject.organizational_units {
        println!("    Organizational Unit = {ou}");
    }
    println!("    Common Name         = {}", c.subject.common_name.clone().unwrap_or_default());
    println!("    Serial              = {}", c.serial);
    println!("    Valid               = {} .. {}", c.not_before, c.not_after);

    step(6, "authenticate: PIN + signature on the token over SHA-256(kagi-auth:1 ‖ H(origin) ‖ H(nonce))");
    let n = nonce();
    let login: LoginToken = host
        .request(serde_json::json!({"cmd":"authenticate","origin":ORIGIN,"nonce":n.as_str(),"pin":pin,"issuers":issuers(&ca)}))
        .into_result()
        .map_err(|e| format!("{}: {}", e.code.as_str(), e.message))?;
    println!("    {} signature, {} bytes", serde_json::to_value(login.algorithm).unwrap_or_default(), unb64(&login.signature).len());

    step(7, "the bank's check, done here independently of the host");
    verify_login(&login, ORIGIN, &n)?;
    println!("    signature valid for {ORIGIN} and this nonce");
    match verify_login(&login, "https://phishing.example", &n) {
        Err(_) => println!("    and refused for https://phishing.example (bound to the origin)"),
        Ok(()) => return Err("signature verified for another origin".into()),
    }
    println!("\nwalk-through complete");
    Ok(())
}
