//! Verifying a `kagi-auth:1` login token (the transaction confirmation is in `confirm.rs`).

use std::time::SystemTime;

use kagi_proto::{login, LoginToken, Nonce, Origin, SignatureAlgorithm, Subject};
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::cert::{unix_secs, CertInfo};
use crate::error::VerifyError;
use crate::nonce::{redeem_nonce, NonceStore};
use crate::records::{CertStatus, CertificateRecords};
use crate::signature;

/// DER contents of the OID 1.3.6.1.5.5.7.3.2 (id-kp-clientAuth).
const EKU_CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// Who logged on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The certificate's CN: the bank's customer id string, e.g. `SH001 SH001001 1898`.
    pub common_name: String,
    /// The contract number: the second space-separated field of the CN in the bank's layout
    /// `<customer code> <contract number> <branch>`; `None` when the CN has another shape.
    pub contract_number: Option<String>,
    /// From the `IssuedCount=NNN` organizational unit.
    pub issued_count: Option<u32>,
    /// Certificate serial, lowercase hex.
    pub serial: String,
    /// SHA-256 of the certificate DER, lowercase hex.
    pub certificate_sha256: String,
    pub not_after: SystemTime,
    pub subject: Subject,
    pub algorithm: SignatureAlgorithm,
}

/// A login attempt as the bank's login endpoint received it.
#[derive(Debug, Clone, Copy)]
pub struct LoginAttempt<'a> {
    pub token: &'a LoginToken,
    /// The nonce the page says it signed (it is looked up, never trusted).
    pub nonce: &'a str,
    /// The bank's handle of the session posting the token.
    pub session: &'a str,
    /// The bank's own origin, from its configuration, NEVER from the token or the request body.
    pub expected_origin: &'a Origin,
}

/// Verifies login tokens against the bank's CA certificates.
#[derive(Debug, Clone)]
pub struct Verifier {
    roots: Vec<CertificateDer<'static>>,
    /// CRLs of the CAs (RFC 5280 §5), checked during path validation when present.
    crls: Vec<std::sync::Arc<webpki::CertRevocationList<'static>>>,
}

impl Verifier {
    /// `ca_certificates`: the DER certificates of the CAs that issue customer certificates.
    pub fn new<I: IntoIterator<Item = Vec<u8>>>(ca_certificates: I) -> Result<Verifier, VerifyError> {
        let roots: Vec<CertificateDer<'static>> = ca_certificates.into_iter().map(CertificateDer::from).collect();
        if roots.is_empty() {
            return Err(VerifyError::BadTrustAnchor("no CA certificate given".into()));
        }
        for r in &roots {
            webpki::anchor_from_trusted_cert(r).map_err(|e| VerifyError::BadTrustAnchor(format!("{e:?}")))?;
        }
        Ok(Verifier { roots, crls: Vec::new() })
    }

    /// Also checks revocation against these CRLs (DER, RFC 5280 §5; e.g. the demo bank's
    /// `GET /ca.crl`), for a verifier without the bank's records (pair it with
    /// [`crate::NoRecords`]) or as a second source beside them. rustls-webpki checks each CRL's
    /// signature by the issuing CA, and refuses every log-on once a CRL is past its nextUpdate
    /// or when no CRL of the certificate's issuer is given (fail closed): fetch a fresh one
    /// before then and build a new `Verifier`.
    pub fn with_crls<I: IntoIterator<Item = Vec<u8>>>(mut self, crls: I) -> Result<Verifier, VerifyError> {
        for der in crls {
            let crl = webpki::OwnedCertRevocationList::from_der(&der).map_err(|e| VerifyError::CrlInvalid(format!("{e:?}")))?;
            self.crls.push(std::sync::Arc::new(crl.into()));
        }
        Ok(self)
    }

    /// The whole login check: spends the nonce (issued to this session, unused, not expired),
    /// then [`Verifier::verify_token`].
    pub fn login(
        &self,
        attempt: LoginAttempt<'_>,
        nonces: &dyn NonceStore,
        records: &dyn CertificateRecords,
        now: SystemTime,
    ) -> Result<Identity, VerifyError> {
        let nonce = redeem_nonce(nonces, attempt.nonce, attempt.session, now)?;
        self.verify_token(attempt.token, attempt.expected_origin, &nonce, records, now)
    }

    /// Checks the token against an already redeemed `nonce`: format, certificate chain to the
    /// bank's CA at `now` with clientAuth and digitalSignature, signature over the digest of
    /// `expected_origin` and `nonce`, and the bank's records.
    pub fn verify_token(
        &self,
        token: &LoginToken,
        expected_origin: &Origin,
        nonce: &Nonce,
        records: &dyn CertificateRecords,
        now: SystemTime,
    ) -> Result<Identity, VerifyError> {
        if token.format != login::FORMAT {
            return Err(VerifyError::UnsupportedFormat(token.format.clone()));
        }
        let cert_der = token.certificate_der().map_err(|e| VerifyError::MalformedToken(e.to_string()))?;
        let sig = token.signature_bytes().map_err(|e| VerifyError::MalformedToken(e.to_string()))?;
        let info = CertInfo::parse(&cert_der)?;
        self.check_path(&cert_der, now)?;
        if info.digital_signature != Some(true) {
            return Err(VerifyError::MissingDigitalSignature);
        }
        // The digest is rebuilt from the bank's own origin and the nonce it issued: a token
        // signed for any other origin or nonce fails here.
        let message = login::signed_message(expected_origin, nonce);
        signature::check(&info.public_key, token.algorithm, &message, &sig)?;
        match records.status(&info).map_err(|e| VerifyError::Store(e.to_string()))? {
            CertStatus::Active => {}
            CertStatus::Revoked => return Err(VerifyError::Revoked),
            CertStatus::Unknown => return Err(VerifyError::UnknownToBank),
        }
        let common_name = info.subject.common_name.clone().unwrap_or_default();
        Ok(Identity {
            contract_number: contract_number(&common_name),
            issued_count: info.issued_count(),
            common_name,
            serial: info.serial,
            certificate_sha256: info.sha256,
            not_after: info.not_after,
            subject: info.subject,
            algorithm: token.algorithm,
        })
    }

    /// RFC 5280 path validation by rustls-webpki: chains to one of the bank's CAs, within
    /// validity at `now`, clientAuth EKU present (required, not merely "if present").
    pub(crate) fn check_path(&self, cert_der: &[u8], now: SystemTime) -> Result<(), VerifyError> {
        let der = CertificateDer::from(cert_der);
        let ee = webpki::EndEntityCert::try_from(&der).map_err(|e| VerifyError::CertificateMalformed(format!("{e:?}")))?;
        let anchors = self
            .roots
            .iter()
            .map(|r| webpki::anchor_from_trusted_cert(r).map_err(|e| VerifyError::BadTrustAnchor(format!("{e:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(unix_secs(now)));
        let crls: Vec<&webpki::CertRevocationList<'_>> = self.crls.iter().map(|c| &**c).collect();
        // The end-entity certificate only (the CA is the trust anchor); no CRL of its issuer, or
        // an expired one, is a refusal, never a pass.
        let revocation = webpki::RevocationOptionsBuilder::new(&crls).ok().map(|b| {
            b.with_depth(webpki::RevocationCheckDepth::EndEntity)
                .with_status_policy(webpki::UnknownStatusPolicy::Deny)
                .with_expiration_policy(webpki::ExpirationPolicy::Enforce)
                .build()
        });
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &[],
            time,
            webpki::KeyUsage::required(EKU_CLIENT_AUTH),
            revocation,
            None,
        )
        .map(|_| ())
        .map_err(map_webpki)
    }
}

fn map_webpki(e: webpki::Error) -> VerifyError {
    use webpki::Error as E;
    let at = |t: UnixTime| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t.as_secs());
    match e {
        E::UnknownIssuer => VerifyError::UnknownIssuer,
        E::CertExpired { not_after, .. } => VerifyError::CertificateExpired { not_after: at(not_after) },
        E::CertNotValidYet { not_before, .. } => VerifyError::CertificateNotYetValid { not_before: at(not_before) },
        #[allow(deprecated)] // older webpki releases report this variant
        E::RequiredEkuNotFound => VerifyError::MissingClientAuth,
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => VerifyError::MissingClientAuth,
        E::BadDer | E::BadDerTime | E::TrailingData(_) => VerifyError::CertificateMalformed(format!("{e:?}")),
        E::CertRevoked => VerifyError::Revoked,
        E::CrlExpired { .. } => VerifyError::CrlInvalid("the CRL is past its nextUpdate: fetch a new one".into()),
        E::UnknownRevocationStatus => VerifyError::CrlInvalid("no CRL of the certificate's issuer was given".into()),
        E::InvalidCrlSignatureForPublicKey | E::IssuerNotCrlSigner => VerifyError::CrlInvalid(format!("{e:?}")),
        other => VerifyError::CertificateInvalid(format!("{other:?}")),
    }
}

/// The contract number in the bank's CN layout `<customer code> <contract number> <branch>`.
pub(crate) fn contract_number(cn: &str) -> Option<String> {
    let parts: Vec<&str> = cn.split_whitespace().collect();
    match parts.as_slice() {
        [_, contract, _] => Some((*contract).to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn contract_number_from_cn() {
        assert_eq!(super::contract_number("SH001 SH001001 1898").as_deref(), Some("SH001001"));
        assert_eq!(super::contract_number("someone"), None);
    }
}
