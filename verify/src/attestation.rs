//! Key attestation for certificate issuance: a bank that requires it issues only for keys a
//! token says it generated itself, under an attestation root the bank configured.
//!
//! The statement is YubiKey-style (Yubico "PIV attestation",
//! developers.yubico.com/PIV/Introduction/PIV_attestation.html): an X.509 certificate for the
//! key, signed by the token's attestation key (slot F9), whose certificate is signed by the
//! vendor's attestation root (directly or through intermediates the bank configures with the
//! root). Kagi's host sends both beside the CSR (`docs/protocol.md`, `enroll.begin`).
//!
//! [`AttestationPolicy::check`] verifies, in order: a statement is there
//! (`ATTESTATION_REQUIRED`); the chain statement ← F9 certificate ← configured root, by RFC 5280
//! path validation (rustls-webpki: names, signatures, validity, CA constraints); the attested
//! public key is the CSR's; Yubico's extensions, when present, are well formed. Everything but
//! a missing statement is `ATTESTATION_INVALID`, with an [`AttestationFault`] saying what.
//! The CSR's own signature (possession of the key) is the CA's check when it issues.

use std::time::SystemTime;

use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::request::CertReq;
use x509_cert::Certificate;

use crate::cert::unix_secs;
use crate::error::{AttestationFault, VerifyError};

/// Yubico's PIV attestation extensions (arc 1.3.6.1.4.1.41482.3).
const OID_FIRMWARE: &str = "1.3.6.1.4.1.41482.3.3";
const OID_SERIAL: &str = "1.3.6.1.4.1.41482.3.7";
const OID_POLICY: &str = "1.3.6.1.4.1.41482.3.8";
/// RFC 5280 §4.2.1.12 id-kp-clientAuth, accepted if an attestation certificate names any EKU
/// at all (YubiKey statements carry none).
const EKU_CLIENT_AUTH: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// A token's attestation of a key, as the host returns it beside the CSR: both DER.
#[derive(Debug, Clone, Copy)]
pub struct KeyAttestation<'a> {
    /// The statement: a certificate for the attested key (YubiKey ATTEST's answer).
    pub certificate: &'a [u8],
    /// The token's attestation key certificate (YubiKey slot F9, object 5FFF01).
    pub intermediate: &'a [u8],
}

/// What a valid statement says about the key (from Yubico's extensions and the subject; each
/// `None` when the token does not say).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttestedKey {
    /// The key reference, from a subject CN ending in it (`YubiKey PIV Attestation 9a`).
    pub slot: Option<u8>,
    /// Firmware version (`.3.3`).
    pub firmware: Option<[u8; 3]>,
    /// The token's serial number (`.3.7`).
    pub serial: Option<u64>,
    /// PIN policy (1 never, 2 once, 3 always) and touch policy (1 never, 2 always, 3 cached)
    /// (`.3.8`).
    pub pin_policy: Option<u8>,
    pub touch_policy: Option<u8>,
    /// SHA-256 of the attestation certificate of the token's F9 key, lowercase hex: one per
    /// token, for the bank's records.
    pub attestation_key_sha256: String,
    /// The attested key: DER SubjectPublicKeyInfo.
    pub public_key_info: Vec<u8>,
}

/// The attestation roots a bank trusts (and intermediates between them and tokens' F9
/// certificates, for vendors that have them).
#[derive(Debug, Clone)]
pub struct AttestationPolicy {
    roots: Vec<Vec<u8>>,
    intermediates: Vec<Vec<u8>>,
}

impl AttestationPolicy {
    /// Trusts `roots` (DER certificates). Each must be usable as a trust anchor
    /// (`BAD_TRUST_ANCHOR`); at least one is needed.
    pub fn new<I: IntoIterator<Item = Vec<u8>>>(roots: I) -> Result<AttestationPolicy, VerifyError> {
        let roots: Vec<Vec<u8>> = roots.into_iter().collect();
        if roots.is_empty() {
            return Err(VerifyError::BadTrustAnchor("no attestation root".into()));
        }
        for r in &roots {
            let der = CertificateDer::from(r.as_slice());
            webpki::anchor_from_trusted_cert(&der).map_err(|e| VerifyError::BadTrustAnchor(format!("{e:?}")))?;
        }
        Ok(AttestationPolicy { roots, intermediates: Vec::new() })
    }

    /// Also accepts these vendor intermediates between a root and tokens' F9 certificates.
    pub fn with_intermediates<I: IntoIterator<Item = Vec<u8>>>(mut self, certs: I) -> AttestationPolicy {
        self.intermediates.extend(certs);
        self
    }

    /// Checks that `attestation` vouches for the key of the PKCS#10 request `csr_der`, at
    /// `now`. `None` (no statement sent): `ATTESTATION_REQUIRED`.
    pub fn check(&self, csr_der: &[u8], attestation: Option<KeyAttestation<'_>>, now: SystemTime) -> Result<AttestedKey, VerifyError> {
        let att = attestation.ok_or(VerifyError::AttestationRequired)?;
        let invalid = VerifyError::AttestationInvalid;
        let csr = CertReq::from_der(csr_der).map_err(|e| invalid(AttestationFault::Csr(e.to_string())))?;
        let requested = csr.info.public_key.to_der().map_err(|e| invalid(AttestationFault::Csr(e.to_string())))?;
        let facts = self.verify_statement(att, now)?;
        // Both re-encoded from their parsed form (DER is canonical): algorithm, parameters and
        // key bits must all be equal.
        if facts.public_key_info != requested {
            return Err(invalid(AttestationFault::KeyMismatch));
        }
        Ok(facts)
    }

    /// The statement on its own: it chains to a configured root at `now` and its extensions
    /// are well formed. Says which key it attests ([`AttestedKey::public_key_info`]) and what
    /// the token says about it; [`AttestationPolicy::check`] also ties it to a CSR.
    pub fn verify_statement(&self, att: KeyAttestation<'_>, now: SystemTime) -> Result<AttestedKey, VerifyError> {
        let invalid = VerifyError::AttestationInvalid;
        let statement = Certificate::from_der(att.certificate).map_err(|e| invalid(AttestationFault::Malformed(e.to_string())))?;
        Certificate::from_der(att.intermediate).map_err(|e| invalid(AttestationFault::Malformed(e.to_string())))?;
        self.check_chain(&att, now)?;
        let mut facts = facts(&statement).map_err(invalid)?;
        facts.attestation_key_sha256 = sha256_hex(att.intermediate);
        facts.public_key_info = statement
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| invalid(AttestationFault::Malformed(e.to_string())))?;
        Ok(facts)
    }

    /// RFC 5280 path validation of the statement through the F9 certificate (and configured
    /// intermediates) to a configured root.
    fn check_chain(&self, att: &KeyAttestation<'_>, now: SystemTime) -> Result<(), VerifyError> {
        let invalid = |e: webpki::Error| VerifyError::AttestationInvalid(AttestationFault::Chain(format!("{e:?}")));
        let der = CertificateDer::from(att.certificate);
        let ee = webpki::EndEntityCert::try_from(&der).map_err(invalid)?;
        let anchor_der: Vec<CertificateDer<'_>> = self.roots.iter().map(|r| CertificateDer::from(r.as_slice())).collect();
        let anchors = anchor_der
            .iter()
            .map(|r| webpki::anchor_from_trusted_cert(r).map_err(|e| VerifyError::BadTrustAnchor(format!("{e:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut intermediates = vec![CertificateDer::from(att.intermediate)];
        intermediates.extend(self.intermediates.iter().map(|c| CertificateDer::from(c.as_slice())));
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(unix_secs(now)));
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            time,
            webpki::KeyUsage::required_if_present(EKU_CLIENT_AUTH),
            None,
            None,
        )
        .map(drop)
        .map_err(invalid)
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(b))
}

/// Yubico's extensions and the slot in the subject, each checked for its form.
fn facts(cert: &Certificate) -> Result<AttestedKey, AttestationFault> {
    let tbs = cert.tbs_certificate();
    let mut out = AttestedKey { slot: slot_of(tbs.subject()), ..AttestedKey::default() };
    for ext in tbs.extensions().into_iter().flatten() {
        let v = ext.extn_value.as_bytes();
        match ext.extn_id.to_string().as_str() {
            OID_FIRMWARE => match v {
                [a, b, c] => out.firmware = Some([*a, *b, *c]),
                _ => return Err(AttestationFault::Extension("firmware version")),
            },
            OID_SERIAL => {
                let n = der::asn1::Uint::from_der(v).map_err(|_| AttestationFault::Extension("serial number"))?;
                let b = n.as_bytes();
                if b.len() > 8 {
                    return Err(AttestationFault::Extension("serial number"));
                }
                out.serial = Some(b.iter().fold(0u64, |s, x| s << 8 | u64::from(*x)));
            }
            OID_POLICY => match v {
                [pin @ 1..=3, touch @ 1..=3] => {
                    out.pin_policy = Some(*pin);
                    out.touch_policy = Some(*touch);
                }
                _ => return Err(AttestationFault::Extension("PIN and touch policy")),
            },
            _ => {}
        }
    }
    Ok(out)
}

/// The key reference at the end of the subject's CN (`YubiKey PIV Attestation 9a`), if it is
/// an asymmetric key slot (SP 800-73-4 Part 1 Table 4b: 9A, 9C, 9D, 9E, 82–95).
fn slot_of(name: &x509_cert::name::Name) -> Option<u8> {
    let cn = name.iter().find(|a| a.oid.to_string() == "2.5.4.3")?;
    let text = x509_cert::ext::pkix::name::DirectoryString::try_from(&cn.value).ok()?.value().into_owned();
    let last = text.rsplit(' ').next()?;
    let r = u8::from_str_radix(last, 16).ok().filter(|_| last.len() == 2)?;
    matches!(r, 0x9A | 0x9C | 0x9D | 0x9E | 0x82..=0x95).then_some(r)
}

