//! Key attestation at issuance, a bank policy that is off by default: with attestation roots
//! configured (`kagi-bank serve --attestation-root FILE`), the CA issues only for a CSR whose key
//! a token attests it generated itself, chaining to one of those roots (YubiKey PIV
//! attestation; `kagi-verify`'s [`AttestationPolicy`] does the checking). Without roots the
//! fields are accepted and ignored.
//!
//! The statement travels from the host's `enroll.begin` reply through `kagi.js`
//! (`submitCsr(csr, {attestation, attestationIntermediate})`) to `POST /api/csr`.

use std::path::Path;

use base64::Engine;
use kagi_verify::{AttestationFault, AttestationPolicy, KeyAttestation, VerifyError};

use crate::app::Bank;
use crate::error::BankError;

/// Loads attestation roots from certificate files (PEM, one or more certificates each, or one
/// DER certificate) into a policy.
pub fn load_roots<P: AsRef<Path>>(paths: &[P]) -> Result<AttestationPolicy, BankError> {
    let mut roots = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path)?;
        let bad = |m: &str| BankError::Ca(format!("attestation root {}: {m}", path.display()));
        match std::str::from_utf8(&bytes).ok().filter(|t| t.contains("-----BEGIN CERTIFICATE-----")) {
            Some(text) => {
                let mut body = None::<String>;
                for line in text.lines().map(str::trim) {
                    match (line, body.as_mut()) {
                        ("-----BEGIN CERTIFICATE-----", None) => body = Some(String::new()),
                        ("-----END CERTIFICATE-----", Some(b)) => {
                            let der = base64::engine::general_purpose::STANDARD.decode(b.as_bytes()).map_err(|_| bad("bad base64"))?;
                            roots.push(der);
                            body = None;
                        }
                        (l, Some(b)) => b.push_str(l),
                        _ => {}
                    }
                }
                if body.is_some() {
                    return Err(bad("unterminated PEM certificate"));
                }
            }
            None => roots.push(bytes),
        }
    }
    AttestationPolicy::new(roots).map_err(|e| BankError::Ca(format!("attestation roots: {e}")))
}

/// The issuance hook: when the bank requires attestation, the CSR's key must be attested by
/// `attestation` and `intermediate` (standard base64 DER, as the host returns them).
/// `ATTESTATION_REQUIRED` without them, `ATTESTATION_INVALID` when they do not hold.
pub fn check(bank: &Bank, csr_der: &[u8], attestation: Option<&str>, intermediate: Option<&str>) -> Result<(), BankError> {
    let Some(policy) = bank.attestation.as_ref() else {
        return Ok(());
    };
    let invalid = |m: &str| BankError::Attestation(VerifyError::AttestationInvalid(AttestationFault::Malformed(m.into())));
    let decode = |s: &str| base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|_| invalid("not standard base64"));
    let (certificate, intermediate) = match (attestation, intermediate) {
        (None, None) => return Err(BankError::Attestation(VerifyError::AttestationRequired)),
        (Some(a), Some(i)) => (decode(a)?, decode(i)?),
        _ => return Err(invalid("attestation and attestationIntermediate come together")),
    };
    let att = KeyAttestation { certificate: &certificate, intermediate: &intermediate };
    policy.check(csr_der, Some(att), bank.now()).map(drop).map_err(BankError::Attestation)
}
