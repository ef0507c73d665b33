//! Global serialization of tests that use the shared pcscd/vpcd.

use crate::pcscd::Pcscd;
use std::fs::{File, OpenOptions};
use std::io;

/// The lock file (override with `KAGI_RIG_LOCK`).
pub const LOCK_PATH: &str = "/tmp/kagi-rig.lock";

/// Exclusive lock on [`LOCK_PATH`], held until dropped. `flock` locks conflict between
/// separate opens even inside one process, so this also serializes tests of one binary.
#[derive(Debug)]
pub struct RigLock {
    _file: File,
}

/// A test's claim on the shared PC/SC stack: the lock plus a pcscd handle.
/// Fields drop in order: pcscd (stopped if this rig started it), then the lock.
#[derive(Debug)]
pub struct Rig {
    pub pcscd: Pcscd,
    _lock: RigLock,
}

impl Rig {
    /// Blocks until this test has the rig to itself.
    pub fn lock() -> io::Result<RigLock> {
        let path = std::env::var("KAGI_RIG_LOCK").unwrap_or_else(|_| LOCK_PATH.to_string());
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        file.lock()?;
        Ok(RigLock { _file: file })
    }

    /// [`Rig::lock`] + [`Pcscd::ensure`]: the usual start of a PC/SC integration test.
    pub fn start() -> io::Result<Rig> {
        let lock = Self::lock()?;
        let pcscd = Pcscd::ensure()?;
        Ok(Rig { pcscd, _lock: lock })
    }

    /// [`Rig::lock`] + [`Pcscd::start_owned`]: for fault tests that kill/restart pcscd.
    pub fn start_owned() -> io::Result<Rig> {
        let lock = Self::lock()?;
        let pcscd = Pcscd::start_owned()?;
        Ok(Rig { pcscd, _lock: lock })
    }
}
