//! The PostgreSQL store's connections: a few blocking `postgres::Client`s, each behind a mutex,
//! and [`blocking`], which runs their calls where tokio allows blocking. Pooling crates
//! (r2d2, deadpool) would add a dependency for what fits here in a few lines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use postgres::{Client, NoTls};

use crate::error::BankError;

/// Connections per bank instance: enough for the two cores' worth of handlers plus one waiting.
const POOL_SIZE: usize = 4;

pub(super) struct Pool {
    clients: Vec<Mutex<Client>>,
    next: AtomicUsize,
}

impl Pool {
    /// Connects [`POOL_SIZE`] times to `url`, then runs `setup` on the first connection.
    pub(super) fn connect(url: &str, setup: impl FnOnce(&mut Client) -> Result<(), postgres::Error> + Send) -> Result<Pool, BankError> {
        let clients = blocking(|| -> Result<Vec<Mutex<Client>>, postgres::Error> {
            let mut clients = Vec::with_capacity(POOL_SIZE);
            for _ in 0..POOL_SIZE {
                clients.push(Mutex::new(Client::connect(url, NoTls)?));
            }
            if let Some(first) = clients.first_mut() {
                setup(first.get_mut().unwrap_or_else(|p| p.into_inner()))?;
            }
            Ok(clients)
        })?;
        Ok(Pool { clients, next: AtomicUsize::new(0) })
    }

    /// Runs `f` on a free connection (or waits for the next in turn).
    pub(super) fn with<R: Send>(&self, f: impl FnOnce(&mut Client) -> Result<R, postgres::Error> + Send) -> Result<R, BankError> {
        blocking(|| {
            let mut client = self.client();
            Ok(f(&mut client)?)
        })
    }

    /// A free connection, or the next in turn once it is free. Call inside [`blocking`].
    pub(super) fn client(&self) -> MutexGuard<'_, Client> {
        for c in &self.clients {
            if let Ok(guard) = c.try_lock() {
                return guard;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len().max(1);
        // A panic while holding a connection leaves no transaction open (it rolls back on drop).
        self.clients[i].lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Pool {
    /// Closing a connection runs the client's own small runtime: keep that off an async worker.
    fn drop(&mut self) {
        let clients = std::mem::take(&mut self.clients);
        blocking(move || drop(clients));
    }
}

/// Runs blocking database work from wherever the bank calls it. `postgres` drives each call on a
/// runtime of its own, which tokio refuses inside another runtime's worker: there `f` runs under
/// `block_in_place` (the worker's other tasks move to another thread), on a current-thread
/// runtime on a scoped thread, and outside any runtime (the operator CLI) directly.
pub(super) fn blocking<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::CurrentThread => {
            std::thread::scope(|s| s.spawn(f).join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        }
        Ok(_) => tokio::task::block_in_place(f),
    }
}
