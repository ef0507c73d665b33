//! The bank's certificate authority: a P-256 key and a self-signed root made on first start and
//! kept in the data directory (`ca-key.pem`, mode 0600, and `ca-cert.pem`, which integrators give
//! to the verifier). Issues customer certificates from CSRs in the bank's subject layout.

use std::path::Path;
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SerialNumber,
};

use crate::clock::{shift, unix};
use crate::db::{CertRow, RevokedRow};
use crate::error::BankError;

/// `O=` of the CA and of every customer certificate.
pub const CA_ORGANIZATION: &str = "Kagi Demo Shinkin Banks Information System Center";
/// The CA's unit: the first `OU=` of every customer certificate.
pub const CA_UNIT: &str = "Kagi Demo Shinkin Internet Banking CA";
const CA_COMMON_NAME: &str = "Kagi Demo Shinkin Root CA";
const CA_YEARS: i64 = 20;
/// Customer certificates are valid for one year (365 days).
pub const CERT_DAYS: i64 = 365;
/// A CRL's nextUpdate: one day after its thisUpdate (verifiers refuse it after that).
pub const CRL_NEXT_UPDATE_SECS: i64 = 86_400;

pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
}

impl Ca {
    /// Loads the CA from `dir`, or creates it there.
    pub fn load_or_create(dir: &Path, now: SystemTime) -> Result<Ca, BankError> {
        let key_path = dir.join("ca-key.pem");
        let cert_path = dir.join("ca-cert.pem");
        let ca_err = |e: rcgen::Error| BankError::Ca(e.to_string());
        if key_path.exists() && cert_path.exists() {
            let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?).map_err(ca_err)?;
            let cert_pem = std::fs::read_to_string(&cert_path)?;
            let cert_der = pem_to_der(&cert_pem)?;
            let issuer = Issuer::from_ca_cert_der(&cert_der.clone().into(), key).map_err(ca_err)?;
            return Ok(Ca { issuer, cert_der, cert_pem });
        }
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(ca_err)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "JP");
        dn.push(DnType::OrganizationName, CA_ORGANIZATION);
        dn.push(DnType::OrganizationalUnitName, CA_UNIT);
        dn.push(DnType::CommonName, CA_COMMON_NAME);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = to_time(now)?;
        params.not_after = to_time(shift(now, CA_YEARS * 365 * 86_400))?;
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
        let cert = params.self_signed(&key).map_err(ca_err)?;
        let cert_pem = cert.pem();
        write_private(&key_path, &key.serialize_pem())?;
        std::fs::write(&cert_path, &cert_pem)?;
        let cert_der = cert.der().to_vec();
        Ok(Ca { issuer: Issuer::new(params, key), cert_der, cert_pem })
    }

    /// Issues a certificate for the key in `csr_der` (whose signature is checked). Subject,
    /// validity and extensions are the CA's own: nothing requested in the CSR is copied.
    pub fn issue(&self, csr_der: &[u8], common_name: &str, issued_count: u32, customer_id: i64, now: SystemTime) -> Result<CertRow, BankError> {
        let mut req = CertificateSigningRequestParams::from_der(&csr_der.to_vec().into()).map_err(|e| match e {
            rcgen::Error::InvalidCertificationRequestSignature => BankError::CsrSignature,
            other => BankError::CsrInvalid(other.to_string()),
        })?;
        check_key(&req)?;
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "JP");
        dn.push(DnType::OrganizationName, CA_ORGANIZATION);
        dn.push(DnType::OrganizationalUnitName, CA_UNIT);
        // rcgen keys names by type: the second OU goes in under its OID so both stay, in order.
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 11]), format!("IssuedCount={issued_count:03}"));
        dn.push(DnType::CommonName, common_name);
        p.distinguished_name = dn;
        p.not_before = to_time(now)?;
        p.not_after = to_time(shift(now, CERT_DAYS * 86_400))?;
        p.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        req.params = p;
        let der = req.signed_by(&self.issuer).map_err(|e| BankError::Ca(e.to_string()))?.der().to_vec();
        let info = kagi_verify::CertInfo::parse(&der).map_err(|e| BankError::Ca(e.to_string()))?;
        Ok(CertRow {
            serial: info.serial,
            customer_id,
            issued_count,
            not_before: info.not_before,
            not_after: info.not_after,
            revoked: false,
            sha256: info.sha256,
            der,
        })
    }
}

impl Ca {
    /// The CA's CRL (RFC 5280 §5, DER, v2) listing `revoked` (what the database says now, so a
    /// `reissue` or any revocation shows in the next CRL served): thisUpdate `now`, nextUpdate
    /// one day later, CRL number = `now` in Unix seconds (§5.2.3 asks only that it increase),
    /// authority key identifier from the CA key. Revoked certificates that have expired are
    /// left out (§3.3: a CRL need not list them).
    pub fn crl(&self, revoked: &[RevokedRow], now: SystemTime) -> Result<Vec<u8>, BankError> {
        let revoked_certs = revoked
            .iter()
            .map(|r| {
                let serial = hex::decode(&r.serial).map_err(|e| BankError::Internal(format!("stored serial {:?}: {e}", r.serial)))?;
                Ok(rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&serial),
                    revocation_time: to_time(r.revoked_at)?,
                    reason_code: None,
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, BankError>>()?;
        let number = u64::try_from(unix(now)).unwrap_or(0).to_be_bytes();
        let params = rcgen::CertificateRevocationListParams {
            this_update: to_time(now)?,
            next_update: to_time(shift(now, CRL_NEXT_UPDATE_SECS))?,
            crl_number: SerialNumber::from_slice(&number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer).map_err(|e| BankError::Ca(e.to_string()))?;
        Ok(crl.der().to_vec())
    }
}

/// Tokens make P-256 or RSA-2048 keys; anything else is refused before signing.
fn check_key(req: &CertificateSigningRequestParams) -> Result<(), BankError> {
    let alg = req.public_key.algorithm();
    if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        return Ok(());
    }
    if alg == &rcgen::PKCS_RSA_SHA256 {
        // DER RSAPublicKey of a 2048-bit modulus is 270 bytes; shorter means a weaker key.
        if req.public_key.der_bytes().len() >= 270 {
            return Ok(());
        }
        return Err(BankError::CsrKey("RSA keys must have at least 2048 bits".into()));
    }
    Err(BankError::CsrKey(format!("{alg:?}: only P-256 (ECDSA-SHA256) and RSA-2048 (SHA256) are accepted")))
}

fn to_time(t: SystemTime) -> Result<time::OffsetDateTime, BankError> {
    time::OffsetDateTime::from_unix_timestamp(unix(t)).map_err(|e| BankError::Internal(e.to_string()))
}

/// 16 random bytes, positive and without a leading zero byte, so the DER INTEGER is 16 bytes.
fn random_serial() -> Result<[u8; 16], BankError> {
    let mut s = [0u8; 16];
    getrandom::fill(&mut s).map_err(|e| BankError::Internal(format!("randomness: {e}")))?;
    s[0] &= 0x7f;
    if s[0] == 0 {
        s[0] = 0x01;
    }
    Ok(s)
}

fn pem_to_der(pem_text: &str) -> Result<Vec<u8>, BankError> {
    use base64::Engine;
    let body: String = pem_text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body.trim()).map_err(|e| BankError::Ca(format!("ca-cert.pem: {e}")))
}

fn write_private(path: &Path, contents: &str) -> Result<(), BankError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path)?.write_all(contents.as_bytes())?;
    Ok(())
}
