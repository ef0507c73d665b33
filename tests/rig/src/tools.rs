//! Independent tools tests use to put "foreign" content on a token and to check it afterwards:
//! yubico-piv-tool on a given reader, keys and certificates neither Kagi nor the bank made (from
//! the rig's one test CA, `testca.rs`), and raw APDUs through PC/SC for what no installed tool
//! sends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cmd::{run_with_timeout, CmdOutput};
use crate::testca::{pem, TestCa, PKCS8_PEM_LABEL};
use crate::SlotKey;

const T: Duration = Duration::from_secs(60);

fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Runs a tool and panics with its output unless it succeeds.
#[track_caller]
pub fn ok(prog: &str, args: &[&str]) -> CmdOutput {
    let out = run_with_timeout(Command::new(prog).args(args), T).expect("run command");
    out.assert_success(&format!("{prog} {}", args.join(" ")));
    out
}

/// yubico-piv-tool on `reader`.
pub fn ykpiv(reader: &str, args: &[&str]) -> CmdOutput {
    let mut a = vec!["-r", reader];
    a.extend_from_slice(args);
    run_with_timeout(Command::new("yubico-piv-tool").args(&a), T).expect("run yubico-piv-tool")
}

/// Both output streams (yubico-piv-tool reports success on stderr).
pub fn said(out: &CmdOutput) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

/// A P-256 key (PKCS#8 PEM) and a certificate for it (PEM), neither made by Kagi nor by the
/// bank: self-signed, or issued by the test CA "Other Company CA" kept in `dir`
/// ([`TestCa::in_dir`]). Both CN and file names carry `name`; the CN says "foreign" and "Other
/// Company", so a test can check that the host never shows such a certificate.
pub fn foreign_key_and_cert(dir: &Path, name: &str, self_signed: bool) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key.pem"));
    let cert = dir.join(format!("{name}.cert.pem"));
    let slot_key = SlotKey::p256();
    std::fs::write(&key, pem(PKCS8_PEM_LABEL, slot_key.pkcs8_der())).expect("write key");
    let cn = format!("foreign {name} (Other Company)");
    let der = if self_signed {
        slot_key.self_signed(&cn, 30)
    } else {
        let ca = TestCa::in_dir(&dir.join("other-ca"), "Other Company CA").expect("Other Company CA");
        slot_key.certificate(&ca, &cn, 30)
    };
    std::fs::write(&cert, pem("CERTIFICATE", &der)).expect("write certificate");
    (key, cert)
}

/// A PEM certificate as DER.
pub fn der_of_pem_cert(pem: &Path) -> Vec<u8> {
    let der = pem.with_extension("der");
    ok("openssl", &["x509", "-in", p(pem), "-outform", "DER", "-out", p(&der)]);
    std::fs::read(der).expect("read DER")
}

/// Foreign content loaded with yubico-piv-tool 2.2, as a customer's own YubiKey may carry it.
pub struct Foreign {
    /// Certificates (PEM files) of the keys in `9A` (self-signed) and `82` (another CA).
    pub cert_9a: PathBuf,
    pub cert_82: PathBuf,
}

/// Loads, with yubico-piv-tool and the factory management key: a key and a self-signed
/// certificate in `9A`, a key and a certificate from another CA in `82`, a key without
/// certificate in `83`, and a Key History of one on-card and one off-card retired key.
pub fn load_foreign_content(reader: &str, dir: &Path) -> Foreign {
    let (k9a, c9a) = foreign_key_and_cert(dir, "9a", true);
    let (k82, c82) = foreign_key_and_cert(dir, "82", false);
    let k83 = dir.join("83.key.pem");
    std::fs::write(&k83, pem(PKCS8_PEM_LABEL, SlotKey::p256().pkcs8_der())).expect("write key");
    // yubico-piv-tool 2.2 takes one -i per run: key and certificate in separate runs.
    for (slot, key, cert) in [("9a", &k9a, Some(&c9a)), ("82", &k82, Some(&c82)), ("83", &k83, None)] {
        ykpiv(reader, &["-a", "import-key", "-s", slot, "-i", p(key)]).assert_success("import-key");
        if let Some(c) = cert {
            ykpiv(reader, &["-a", "import-certificate", "-s", slot, "-i", p(c)]).assert_success("import-certificate");
        }
    }
    // Key History: C1 = 1 (82, certificate on card), C2 = 1 (83, certificate off card) + URL.
    let kh = "c10101c20101f31b68747470733a2f2f6f746865722e6578616d706c652f6365727473fe00";
    let kh_file = dir.join("kh.hex");
    std::fs::write(&kh_file, kh).expect("write");
    ykpiv(reader, &["-a", "write-object", "--id", "0x5FC10C", "-i", p(&kh_file)]).assert_success("write-object");
    Foreign { cert_9a: c9a, cert_82: c82 }
}

/// A shared-mode PC/SC connection to the card in `reader`, for raw APDUs.
pub fn pcsc_connect(reader: &str) -> pcsc::Card {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("PC/SC context");
    let name = std::ffi::CString::new(reader).expect("reader name");
    ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY).expect("connect")
}

/// Sends one short APDU and returns the raw answer (data and status word).
pub fn pcsc_transmit(card: &pcsc::Card, apdu: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 300];
    card.transmit(apdu, &mut buf).expect("transmit").to_vec()
}
