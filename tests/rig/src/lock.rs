//! Serialization of the tests of one process that use its private pcscd and vpcd readers.
//!
//! Each test process has its own pcscd (see `pcscd.rs`), so test processes no longer wait for
//! each other; the tests inside one process share its two readers and take turns.

use crate::pcscd::{use_private_socket, Pcscd};
use std::io;
use std::sync::{Mutex, MutexGuard};

/// Held by the test that uses this process's PC/SC stack.
static TURN: Mutex<()> = Mutex::new(());

/// This test's turn on the process's PC/SC stack, held until dropped.
#[derive(Debug)]
pub struct RigLock {
    _turn: MutexGuard<'static, ()>,
}

/// A test's claim on the process's PC/SC stack: its turn plus the private pcscd.
/// Fields drop in order: pcscd (stopped), then the turn.
#[derive(Debug)]
pub struct Rig {
    pub pcscd: Pcscd,
    _lock: RigLock,
}

impl Rig {
    /// Blocks until this test has the process's PC/SC stack to itself, and points this process
    /// (and what it starts) at its private pcscd socket.
    pub fn lock() -> io::Result<RigLock> {
        // A test that panicked while holding the turn has dropped its rig: the stack is clean.
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        use_private_socket()?;
        Ok(RigLock { _turn: turn })
    }

    /// [`Rig::lock`] + this process's private pcscd: the usual start of a PC/SC integration test.
    pub fn start() -> io::Result<Rig> {
        let lock = Self::lock()?;
        let pcscd = Pcscd::start_owned()?;
        Ok(Rig { pcscd, _lock: lock })
    }

    /// The same as [`Rig::start`] (every rig owns its pcscd now); for fault tests that
    /// kill/restart pcscd.
    pub fn start_owned() -> io::Result<Rig> {
        Self::start()
    }
}
