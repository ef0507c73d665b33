//! A scripted in-memory transport for tests: each expected command APDU is paired with the
//! response to give; any other command fails the test with both APDUs in hex.

use std::collections::VecDeque;

use crate::card::Transport;
use crate::error::Result;

/// Scripted exchanges, consumed in order.
#[derive(Default)]
pub struct MemoryTransport {
    script: VecDeque<Exchange>,
    sent: usize,
}

/// A card answer computed from the command (e.g. a card's side of a challenge-response).
pub type Responder = Box<dyn FnMut(&[u8]) -> Vec<u8> + Send>;

enum Exchange {
    Fixed(Vec<u8>, Vec<u8>),
    Computed(Responder),
}

impl std::fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryTransport({} sent, {} expected)", self.sent, self.script.len())
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    match hex::decode(&clean) {
        Ok(v) => v,
        Err(e) => panic!("bad hex in test script {s:?}: {e}"),
    }
}

impl MemoryTransport {
    pub fn new() -> Self {
        Self::default()
    }

    /// Expect `command` (hex, spaces allowed) next and answer `response` (hex, data + SW).
    pub fn expect(mut self, command: &str, response: &str) -> Self {
        self.script.push_back(Exchange::Fixed(unhex(command), unhex(response)));
        self
    }

    /// Answer the next command with `f(command)`; `f` should assert what it expects.
    pub fn expect_with(mut self, f: impl FnMut(&[u8]) -> Vec<u8> + Send + 'static) -> Self {
        self.script.push_back(Exchange::Computed(Box::new(f)));
        self
    }

    /// As [`expect`](Self::expect) with bytes.
    pub fn expect_bytes(mut self, command: Vec<u8>, response: Vec<u8>) -> Self {
        self.script.push_back(Exchange::Fixed(command, response));
        self
    }

    /// How many exchanges are still expected.
    pub fn remaining(&self) -> usize {
        self.script.len()
    }

    /// Panics unless every scripted exchange happened.
    pub fn assert_done(&self) {
        assert!(
            self.script.is_empty(),
            "{} scripted APDU(s) never sent; next expected: {}",
            self.script.len(),
            match self.script.front() {
                Some(Exchange::Fixed(c, _)) => hex::encode_upper(c),
                _ => "<computed>".to_string(),
            }
        );
    }
}

impl Transport for MemoryTransport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        self.sent += 1;
        let (expected, response) = match self.script.pop_front() {
            None => panic!("unexpected APDU #{}: {} (script exhausted)", self.sent, hex::encode_upper(apdu)),
            Some(Exchange::Computed(mut f)) => return Ok(f(apdu)),
            Some(Exchange::Fixed(c, r)) => (c, r),
        };
        assert_eq!(
            hex::encode_upper(apdu),
            hex::encode_upper(&expected),
            "APDU #{} differs from the script (left: sent, right: expected)",
            self.sent
        );
        Ok(response)
    }
}
