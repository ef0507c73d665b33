//! Card transport and PIV sessions.
//!
//! [`Transport`] is the one way to reach a card. [`session::PivSession`] runs PIV operations
//! over any transport (command chaining, GET RESPONSE, 6Cxx) and returns typed values;
//! [`pcsc_backend`] is the real transport over PC/SC (the only module using the `pcsc` crate);
//! [`memory`] is a scripted transport for tests; [`cache`] keeps what was read from a token
//! while PC/SC says it is the same, untouched card; [`remembered`] keeps its certificates on
//! disk per token for the next host run.

pub mod admin;
pub mod atr;
pub mod cache;
pub mod memory;
pub mod pcsc_backend;
pub mod remembered;
pub mod session;

use crate::error::Result;

pub use crate::piv::Pin;
pub use pcsc_backend::{Disconnect, PcscCard, PcscContext, ReaderEvent, ReaderInfo};
pub use session::{PinState, PivSession};

/// Sends one short command APDU and returns the raw response (data followed by SW1 SW2).
pub trait Transport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        (**self).transmit(apdu)
    }
}
