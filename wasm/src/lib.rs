//! Kagi's extension logic in Rust. Skeleton; filled in by the following commits.
#![forbid(unsafe_code)]
