//! pcscd: each test process starts its own, on a private socket with its own vpcd ports, so
//! test processes run side by side without a global lock.
//!
//! Debian's pcscd 1.9.9 has its socket and pid file compiled in (/run/pcscd/pcscd.comm,
//! pcscd.pid) and ignores `PCSCLITE_CSOCK_NAME`, which only the client library reads. So the rig
//! starts pcscd in a mount namespace of its own (`unshare --mount`) where a private directory is
//! bound over /run/pcscd: outside, the socket shows up in that directory, and clients (the
//! test process, the hosts and tools it starts) find it through `PCSCLITE_CSOCK_NAME`. The vpcd
//! ports come from a private reader.conf.d (`pcscd -c`) whose `CHANNELID` is the first port.

use crate::{READERS, READER_0};
use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The system pcscd's client socket, compiled into Debian's pcscd 1.9.9 (it ignores
/// `PCSCLITE_CSOCK_NAME`; only the client library reads it).
pub const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";
/// The system pcscd's pid file (also compiled in).
pub const PCSCD_PID: &str = "/run/pcscd/pcscd.pid";
/// The environment variable libpcsclite reads (once, at its first call) for pcscd's socket.
pub const CSOCK_ENV: &str = "PCSCLITE_CSOCK_NAME";
/// vpcd's driver, as the Debian package installs it (`/etc/reader.conf.d/vpcd`).
const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
/// The system vpcd's first port (its reader.conf's `CHANNELID 0x8C7B`).
pub const SYSTEM_VPCD_PORT: u16 = 35963;
/// Private vpcd ports are picked in [20000, 30000): below Linux's ephemeral range (32768+), away
/// from the system vpcd (35963/35964) and the Wine suite's (35983/35984).
const PRIVATE_PORTS: std::ops::Range<u16> = 20000..30000;
/// How long to wait for a started pcscd to show the vpcd readers.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// This process's private PC/SC directory, created on first use: `run/` (bound over
/// /run/pcscd in the private pcscd's mount namespace, so its socket and pid file are ours),
/// `conf/` (its reader.conf.d) and `no-readers/`.
static PRIVATE_DIR: OnceLock<PathBuf> = OnceLock::new();
/// First vpcd port of this process's private pcscd (reader n listens on base + n); the system's
/// until a private pcscd was started.
static VPCD_BASE: AtomicU16 = AtomicU16::new(SYSTEM_VPCD_PORT);
/// A private pcscd handle exists in this process (there can be one: libpcsclite reads the socket
/// name once per process).
static HANDLE_EXISTS: AtomicBool = AtomicBool::new(false);

/// pcscd's client socket as this process's PC/SC calls see it.
pub fn pcscd_socket() -> PathBuf {
    std::env::var_os(CSOCK_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(PCSCD_SOCKET))
}

/// TCP port of vpcd reader `index` of this process's pcscd (what a virtual token connects to).
pub fn vpcd_port(index: usize) -> u16 {
    VPCD_BASE.load(Ordering::SeqCst) + index as u16
}

/// Makes this process's PC/SC calls (and every process it starts later: hosts, OpenSC,
/// yubico-piv-tool) use a private pcscd socket. Must run before the process's first PC/SC call,
/// because libpcsclite reads the variable once; the rig calls it from [`crate::Rig::lock`].
pub fn use_private_socket() -> io::Result<&'static Path> {
    if let Some(d) = PRIVATE_DIR.get() {
        return Ok(d);
    }
    remove_stale_private_dirs();
    let dir = std::env::temp_dir().join(format!("kagi-rig.{}", std::process::id()));
    for sub in ["run", "conf", "no-readers"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    // Set once, before any PC/SC call of this process; later calls return early above.
    std::env::set_var(CSOCK_ENV, dir.join("run").join("pcscd.comm"));
    Ok(PRIVATE_DIR.get_or_init(|| dir))
}

/// Removes private directories of test processes that have exited (they cannot remove their own:
/// a test binary does not run destructors of statics).
fn remove_stale_private_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("kagi-rig.")).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if proc_state(pid).is_none() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Picks two free TCP ports (base, base + 1) for a private vpcd, starting at a place derived from
/// the pid so that test processes running side by side rarely try the same pair.
fn pick_vpcd_ports() -> io::Result<u16> {
    let span = (PRIVATE_PORTS.end - PRIVATE_PORTS.start) / 2;
    let first = (std::process::id() % u32::from(span)) as u16;
    for i in 0..span {
        let base = PRIVATE_PORTS.start + 2 * ((first + i) % span);
        // Binding (not connecting) tells whether vpcd could listen there; a connect would be
        // taken by a running vpcd for a card.
        let free = |p: u16| std::net::TcpListener::bind(("0.0.0.0", p)).is_ok();
        if free(base) && free(base + 1) {
            return Ok(base);
        }
    }
    Err(io::Error::other("no two free TCP ports for a private vpcd in 20000..30000"))
}

/// True if pcscd answers on its socket and lists the vpcd readers.
pub fn pcscd_answers() -> bool {
    if !pcscd_socket().exists() {
        return false;
    }
    let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else {
        return false;
    };
    match ctx.list_readers_owned() {
        Ok(readers) => readers.iter().any(|r| r.to_bytes() == READER_0.as_bytes()),
        Err(_) => false,
    }
}

/// Waits until `reader` reports a card present (`present == true`) or absent, using
/// `SCardGetStatusChange` (never probing vpcd's TCP port, which vpcd would take for a card).
pub fn wait_card_state(reader: &str, present: bool, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let name = CString::new(reader).map_err(io::Error::other)?;
    let ctx = loop {
        match pcsc::Context::establish(pcsc::Scope::User) {
            Ok(c) => break c,
            Err(e) if Instant::now() >= deadline => {
                return Err(io::Error::other(format!("pcsc establish: {e}")))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let mut rs = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ctx.get_status_change(left, &mut rs) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{reader}: card still {} after {timeout:?}",
                        if present { "absent" } else { "present" }
                    ),
                ))
            }
            Err(e) => return Err(io::Error::other(format!("{reader}: get_status_change: {e}"))),
        }
        let st = rs[0].event_state();
        let is_present = st.contains(pcsc::State::PRESENT);
        let is_empty = st.contains(pcsc::State::EMPTY);
        if (present && is_present) || (!present && is_empty) {
            return Ok(());
        }
        rs[0].sync_current_state();
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("{reader}: timed out")));
        }
    }
}

/// Is a card present in `reader` right now? (One non-blocking `SCardGetStatusChange`.)
pub fn card_present(reader: &str) -> io::Result<bool> {
    let name = CString::new(reader).map_err(io::Error::other)?;
    let ctx = pcsc::Context::establish(pcsc::Scope::User)
        .map_err(|e| io::Error::other(format!("pcsc establish: {e}")))?;
    let mut rs = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut rs)
        .map_err(|e| io::Error::other(format!("{reader}: get_status_change: {e}")))?;
    Ok(rs[0].event_state().contains(pcsc::State::PRESENT))
}

/// Process state letter from /proc (R, S, Z, ...), `None` if the process does not exist.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Format: "pid (comm) S ..."; comm may contain spaces, so split after the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}


/// This process's private pcscd, started by the rig and stopped (by PID) when dropped.
#[derive(Debug)]
pub struct Pcscd {
    child: Option<Child>,
    /// Directory holding `pcscd.log` (stderr of our pcscd, all runs).
    dir: tempfile::TempDir,
    /// The private directory (see [`use_private_socket`]).
    private: &'static Path,
    /// First vpcd port, kept over restarts so that a plugged token reconnects by itself.
    vpcd_base: u16,
    /// Start without any reader configuration (the vpcd readers gone)?
    unplugged: bool,
}

impl Pcscd {
    /// Starts this process's private pcscd (same as [`Pcscd::start_owned`]). Kept for callers
    /// from the time the rig could borrow a system pcscd: it never does now.
    pub fn ensure() -> io::Result<Pcscd> {
        Self::start_owned()
    }

    /// Starts this process's private pcscd; fails if this process already has one (one socket
    /// per process, see [`use_private_socket`]).
    pub fn start_owned() -> io::Result<Pcscd> {
        let private = use_private_socket()?;
        if HANDLE_EXISTS.swap(true, Ordering::SeqCst) {
            return Err(io::Error::other(
                "this process already has a private pcscd (one per process: hold Rig::lock and drop the other first)",
            ));
        }
        let made = (|| {
            let dir = crate::temp_dir()?;
            let vpcd_base = pick_vpcd_ports()?;
            let conf = format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x{vpcd_base:X}\nLIBPATH      {VPCD_DRIVER}\nCHANNELID    0x{vpcd_base:X}\n"
            );
            std::fs::write(private.join("conf").join("vpcd"), conf)?;
            Ok::<_, io::Error>(Pcscd { child: None, dir, private, vpcd_base, unplugged: false })
        })();
        let mut p = match made {
            Ok(p) => p,
            Err(e) => {
                HANDLE_EXISTS.store(false, Ordering::SeqCst);
                return Err(e);
            }
        };
        p.start()?;
        Ok(p)
    }

    /// Always true: every pcscd handle is one the rig started (kept for older callers).
    pub fn is_owned(&self) -> bool {
        true
    }

    /// The client socket of this pcscd (what `PCSCLITE_CSOCK_NAME` names).
    pub fn socket(&self) -> PathBuf {
        self.private.join("run").join("pcscd.comm")
    }

    /// TCP port of vpcd reader `index` of this pcscd.
    pub fn vpcd_port(&self, index: usize) -> u16 {
        self.vpcd_base + index as u16
    }

    /// What our pcscd wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("pcscd.log")
    }

    /// PID of our pcscd while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Makes our next start use no reader configuration at all, so the vpcd readers are gone
    /// (`without == true`), or ours again. vpcd's readers cannot vanish while pcscd runs:
    /// this is how a test unplugs them.
    pub fn set_readers_unplugged(&mut self, without: bool) -> io::Result<()> {
        self.unplugged = without;
        Ok(())
    }

    /// (Re)starts our pcscd after [`Pcscd::kill`]/[`Pcscd::stop`]; waits for the vpcd readers
    /// (or, with the readers unplugged, for the service alone).
    pub fn start(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let run = self.private.join("run");
        // Stale files of a dead pcscd keep a new one from starting.
        let _ = std::fs::remove_file(run.join("pcscd.comm"));
        let _ = std::fs::remove_file(run.join("pcscd.pid"));
        // The bind target must exist; the system's directory itself is never written.
        std::fs::create_dir_all("/run/pcscd")?;
        let conf = self.private.join(if self.unplugged { "no-readers" } else { "conf" });
        let log = Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?);
        VPCD_BASE.store(self.vpcd_base, Ordering::SeqCst);
        // One PID all along (unshare and sh exec): killing it kills pcscd. `--pdeathsig KILL`
        // ends pcscd with the test thread that started it if the test process dies without
        // dropping the rig (SIGKILL, abort), so no stray pcscd keeps the ports.
        // The bind mount must not propagate back to the machine's /run/pcscd: make every mount
        // of the new namespace private first. Inside the Wine suite's chroot "/" is no mount
        // point, so that fails; there `scripts/wine/root.sh` vouches (KAGI_MOUNTS_PRIVATE=1) that
        // its own namespace is private already, which the new one inherits.
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "unchanged", "sh", "-c"])
            .arg(concat!(
                r#"{ mount --make-rprivate / 2>/dev/null || [ "${KAGI_MOUNTS_PRIVATE:-}" = 1 ]; } "#,
                r#"|| { echo "kagi-rig: cannot make the mounts of pcscd's namespace private" >&2; exit 1; }; "#,
                r#"mount --bind "$1" /run/pcscd && exec setpriv --pdeathsig KILL pcscd --foreground --error -c "$2""#
            ))
            .arg("sh")
            .arg(&run)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting pcscd (unshare): {e}")))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let ready = if self.unplugged {
                self.socket().exists() && pcsc::Context::establish(pcsc::Scope::User).is_ok()
            } else {
                pcscd_answers()
            };
            if ready {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Some(st) = c.try_wait()? {
                    self.child = None;
                    return Err(io::Error::other(format!("pcscd exited at start: {st}\n{}", self.log())));
                }
            }
            if Instant::now() >= deadline {
                let _ = self.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("pcscd did not list {READERS:?} within {START_TIMEOUT:?}\n{}", self.log()),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills our pcscd abruptly (SIGKILL by PID, like a crash) and reaps it.
    pub fn kill(&mut self) -> io::Result<()> {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            c.wait()?;
        }
        Ok(())
    }

    /// Stops our pcscd gracefully (SIGTERM by PID, SIGKILL after 3 s) and reaps it.
    pub fn stop(&mut self) -> io::Result<()> {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                if c.try_wait()?.is_some() {
                    break;
                }
                if Instant::now() >= deadline {
                    let _ = c.kill();
                    c.wait()?;
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// [`Pcscd::kill`] then [`Pcscd::start`]: a pcscd crash and restart.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill()?;
        self.start()
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        let _ = self.stop();
        HANDLE_EXISTS.store(false, Ordering::SeqCst);
    }
}
