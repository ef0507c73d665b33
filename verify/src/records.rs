//! The bank's own records of the certificates it issued: the revocation check.

use crate::cert::CertInfo;
use crate::error::StoreError;

/// What the bank's records say about a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    /// Issued by the bank and still in force.
    Active,
    /// Revoked (reissue, loss, contract ended...).
    Revoked,
    /// Not in the records.
    Unknown,
}

/// Implemented by the bank over its database. Look certificates up by serial number (and
/// compare the SHA-256 if you stored it, so a serial collision across CAs cannot confuse you).
pub trait CertificateRecords {
    fn status(&self, cert: &CertInfo) -> Result<CertStatus, StoreError>;
}

/// For a bank that keeps no records of its own (every chain-valid certificate is accepted).
/// Revocation is then the CA's CRL business: [`crate::Verifier::with_crls`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRecords;

impl CertificateRecords for NoRecords {
    fn status(&self, _: &CertInfo) -> Result<CertStatus, StoreError> {
        Ok(CertStatus::Active)
    }
}
