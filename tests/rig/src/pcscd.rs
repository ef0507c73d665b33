//! pcscd: use the running one, or start (and later stop) our own.

use crate::{READERS, READER_0};
use std::ffi::CString;
use std::io;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// pcscd's client socket.
pub const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";
/// pcscd's pid file.
pub const PCSCD_PID: &str = "/run/pcscd/pcscd.pid";

/// How long to wait for a started pcscd to show the vpcd readers.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// True if pcscd answers on its socket and lists the vpcd readers.
pub fn pcscd_answers() -> bool {
    if !Path::new(PCSCD_SOCKET).exists() {
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

/// pid from pcscd's pid file, if any.
fn pidfile_pid() -> Option<u32> {
    std::fs::read_to_string(PCSCD_PID).ok()?.trim().parse().ok()
}

/// Process state letter from /proc (R, S, Z, ...), `None` if the process does not exist.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Format: "pid (comm) S ..."; comm may contain spaces, so split after the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn alive(pid: u32) -> bool {
    matches!(proc_state(pid), Some(c) if c != 'Z' && c != 'X')
}

/// A handle on pcscd. `owned` instances were started by this rig and are stopped on drop.
#[derive(Debug)]
pub struct Pcscd {
    child: Option<Child>,
    owned: bool,
    /// Directory holding `pcscd.log` (stderr of our pcscd, all runs).
    dir: Option<tempfile::TempDir>,
    /// Reader configuration directory for our next start (`pcscd -c`); `None` = the system's
    /// (`/etc/reader.conf.d`, which declares the vpcd readers).
    reader_config: Option<std::path::PathBuf>,
}

impl Pcscd {
    /// Uses a pcscd that answers (and lists the vpcd readers); otherwise starts one, owned.
    pub fn ensure() -> io::Result<Pcscd> {
        if pcscd_answers() {
            return Ok(Pcscd { child: None, owned: false, dir: None, reader_config: None });
        }
        // A pcscd that is alive but not answering yet may just be starting.
        if let Some(pid) = pidfile_pid().filter(|p| alive(*p)) {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if pcscd_answers() {
                    return Ok(Pcscd { child: None, owned: false, dir: None, reader_config: None });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return Err(io::Error::other(format!(
                "pcscd (pid {pid}, not started by this rig) is running but does not list the vpcd readers"
            )));
        }
        Self::start_owned()
    }

    /// Starts a pcscd of our own; fails if another pcscd is running.
    pub fn start_owned() -> io::Result<Pcscd> {
        let mut p = Pcscd { child: None, owned: true, dir: Some(crate::temp_dir()?), reader_config: None };
        p.start()?;
        Ok(p)
    }

    /// Was this pcscd started by this rig?
    pub fn is_owned(&self) -> bool {
        self.owned
    }

    /// What our pcscd wrote to stderr so far (empty for a pcscd we did not start).
    pub fn log(&self) -> String {
        self.log_path().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default()
    }

    fn log_path(&self) -> Option<std::path::PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("pcscd.log"))
    }

    /// PID of our pcscd while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn require_owned(&self, what: &str) -> io::Result<()> {
        if self.owned {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "Pcscd::{what} needs a pcscd started by this rig (use Pcscd::start_owned / Rig::start_owned)"
            )))
        }
    }

    /// Makes our next start use no reader configuration at all, so the vpcd readers are gone
    /// (`without == true`), or the system's again. vpcd's readers cannot vanish while pcscd runs:
    /// this is how a test unplugs them.
    pub fn set_readers_unplugged(&mut self, without: bool) -> io::Result<()> {
        self.require_owned("set_readers_unplugged")?;
        self.reader_config = if without {
            let dir = self.dir.as_ref().ok_or_else(|| io::Error::other("no rig directory"))?.path().join("no-readers");
            std::fs::create_dir_all(&dir)?;
            Some(dir)
        } else {
            None
        };
        Ok(())
    }

    /// (Re)starts our pcscd after [`Pcscd::kill`]/[`Pcscd::stop`]; waits for the vpcd readers
    /// (or, with the readers unplugged, for the service alone).
    pub fn start(&mut self) -> io::Result<()> {
        self.require_owned("start")?;
        if self.child.is_some() {
            return Ok(());
        }
        if let Some(pid) = pidfile_pid().filter(|p| alive(*p)) {
            return Err(io::Error::other(format!(
                "another pcscd (pid {pid}) is running which this rig did not start; stop it first"
            )));
        }
        if pcscd_answers() {
            return Err(io::Error::other(
                "another pcscd answers on /run/pcscd/pcscd.comm which this rig did not start",
            ));
        }
        // Stale files of a dead pcscd keep a new one from starting.
        let _ = std::fs::remove_file(PCSCD_SOCKET);
        let _ = std::fs::remove_file(PCSCD_PID);
        std::fs::create_dir_all("/run/pcscd")?;
        let log = match self.log_path() {
            Some(p) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
            None => Stdio::null(),
        };
        let mut cmd = Command::new("pcscd");
        cmd.args(["--foreground", "--error"]);
        if let Some(dir) = &self.reader_config {
            cmd.arg("-c").arg(dir);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting pcscd: {e}")))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let ready = if self.reader_config.is_some() {
                std::path::Path::new(PCSCD_SOCKET).exists() && pcsc::Context::establish(pcsc::Scope::User).is_ok()
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
                    format!("pcscd did not list {READERS:?} within {START_TIMEOUT:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills our pcscd abruptly (SIGKILL by PID, like a crash) and reaps it.
    pub fn kill(&mut self) -> io::Result<()> {
        self.require_owned("kill")?;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            c.wait()?;
        }
        Ok(())
    }

    /// Stops our pcscd gracefully (SIGTERM by PID, SIGKILL after 3 s) and reaps it.
    pub fn stop(&mut self) -> io::Result<()> {
        self.require_owned("stop")?;
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
        if self.owned && self.child.is_some() {
            let _ = self.stop();
        }
    }
}
