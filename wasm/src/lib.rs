//! Kagi's extension logic in Rust: the service worker's broker between bank pages and the native
//! host, and the extension's own pages (popup, PIN window, options).
//!
//! Plain modules (tested natively with `cargo test -p kagi-wasm`):
//! - [`origin`]: the bank-origin allowlist and sender-origin derivation.
//! - [`broker`]: the service worker's state machine (host connection, requests, sessions, events).
//! - [`expiry`]: certificate validity and the bank's renewal window.
//! - [`i18n`]: every UI text in Japanese and English; error codes to words.
//! - [`view`]: what the popup and the PIN window show, computed from host data.
//! - [`txview`]: what the confirmation window shows of a transaction (issue 16).
//! - [`nfc`]: the NFC check kagi-proto's `tx` parser uses here (the browser's `normalize`).
//! - `json`: the JSON [`json::Value`] of messages (a small `Vec`-backed one) and its `json!`.
//!
//! Browser glue (wasm32 only): `chrome` (extension API bindings), `background` (feature `sw`),
//! `ui` (feature `pages`). The two features make two modules (see Cargo.toml).
#![forbid(unsafe_code)]
// A one-module build (`sw` or `pages` alone, scripts/build-extension.sh) leaves the other
// module's glue helpers unused.
#![cfg_attr(not(all(feature = "sw", feature = "pages")), allow(dead_code))]

pub mod broker;
pub mod expiry;
pub mod i18n;
mod json;
pub mod nfc;
pub mod origin;
pub mod txview;
pub mod view;

#[cfg(target_arch = "wasm32")]
mod chrome;
#[cfg(all(target_arch = "wasm32", feature = "sw"))]
mod background;
#[cfg(target_arch = "wasm32")]
mod settings;
#[cfg(all(target_arch = "wasm32", feature = "pages"))]
mod ui;

#[cfg(all(test, target_arch = "wasm32"))]
mod web_tests;

/// talc instead of the default dlmalloc: a fifth of its code, and it returns freed blocks
/// (the service worker runs for hours). Single-threaded WASM (no `atomics`).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
