//! Tests of the `tx-core` build (no NFC tables, the extension's): the installed NFC check.
//! Run with `cargo test -p kagi-proto --no-default-features --features tx-core --lib`; the
//! other tx tests need the tables (`tx`, the default) and run there.

use super::parse::TxProblem;

/// Without the tables (`--no-default-features --features tx-core`, the extension's build): no
/// installed check refuses every non-ASCII name; an installed one decides.
#[test]
fn nfc_without_tables_is_the_installed_check() {
    use super::text::{check_text, is_nfc, set_nfc_check};
    assert!(is_nfc("ABC"));
    assert_eq!(check_text("カブシキガイシャ", 80), Err(TxProblem::NotNfc));
    set_nfc_check(|s| !s.contains('\u{301}'));
    assert_eq!(check_text("カブシキガイシャ", 80), Ok(()));
    assert_eq!(check_text("Cafe\u{301}", 80), Err(TxProblem::NotNfc));
}
