//! Kagi demo bank: a relying party with its own CA. Customers obtain a certificate onto their
//! PIV token (CSR made on the token, issued here) and log on with it (`kagi-auth:1` tokens
//! checked by `kagi-verify`). Server-rendered pages mirror the bank's screens, Japanese first.
//!
//! - [`app`]: state, routes, serving; [`api`]: JSON endpoints; [`pages`]: HTML.
//! - [`db`]: customers, certificates, sessions, nonces on SQLite or PostgreSQL; [`ca`]: the CA
//!   and its CRL.
//! - [`densai`]: 譲渡記録請求 and its approval through a `kagi-tx:1` confirmation.
//! - [`acquisition`] and [`renewal`]: who may obtain a certificate when; [`attestation`]: the
//!   optional key attestation policy at issuance; [`clock`]: injectable time.
#![forbid(unsafe_code)]

pub mod acquisition;
pub mod api;
pub mod app;
pub mod attestation;
pub mod ca;
pub mod clock;
pub mod db;
pub mod densai;
pub mod error;
pub mod pages;
pub mod renewal;
pub mod session;

pub use app::{loopback_origins, router, serve, Bank, Config, DemoCustomer, DEMO_CUSTOMER};
pub use error::BankError;
