//! A throwaway PostgreSQL cluster for tests and the benchmark: `initdb` into a temporary
//! directory, `postgres` started directly (its PID is the postmaster's) on a free port with its
//! Unix socket in that directory and no TCP listener, trust authentication for one role, and
//! stopped by PID (SIGINT: PostgreSQL's "fast shutdown") when the handle is dropped.
//!
//! PostgreSQL refuses to run as root (initdb: "cannot be run as root"). As root the cluster runs
//! as the `postgres` user that Debian's `postgresql` package creates, through `setpriv`, which
//! execs (so the PID stays the postmaster's, unlike `runuser`, which forks); as anyone else, as
//! that user. Binaries: `KAGI_PG_BINDIR`, else the newest `/usr/lib/postgresql/<n>/bin`, else
//! `PATH`. When any of this is missing, [`Postgres::start`] says why, and the caller reports a
//! skip (`kagi-skip <test>: <reason>`), never a pass.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::run_with_timeout;

/// The database role the cluster is made for (trust authentication over the socket only).
pub const PG_ROLE: &str = "kagi";
/// The unprivileged user a root caller runs the cluster as (made by Debian's package).
const PG_OS_USER: &str = "postgres";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running throwaway cluster. Dropping it stops the postmaster by PID and removes its files.
pub struct Postgres {
    child: Option<Child>,
    port: u16,
    socket_dir: PathBuf,
    dir: tempfile::TempDir,
}

impl Postgres {
    /// initdb + postgres in a fresh temporary directory. `Err` is the reason PostgreSQL could
    /// not be had on this machine (for a skip line), with the tool's output.
    pub fn start() -> Result<Postgres, String> {
        let bin = bindir().ok_or("PostgreSQL binaries not found (Debian package `postgresql`; or set KAGI_PG_BINDIR)")?;
        let dir = crate::paths::temp_dir().map_err(|e| format!("temporary directory: {e}"))?;
        let as_root = std::fs::metadata(dir.path()).map(|m| m.uid() == 0).unwrap_or(false);
        let data = dir.path().join("data");
        let socket_dir = dir.path().join("socket");
        std::fs::create_dir(&socket_dir).map_err(|e| format!("socket directory: {e}"))?;
        if as_root {
            // The cluster's files belong to the unprivileged user; the directory's parent stays
            // root's, and the TempDir (running as root) still removes it all.
            let out = run_with_timeout(Command::new("chown").arg("-R").arg(format!("{PG_OS_USER}:")).arg(dir.path()), Duration::from_secs(10))
                .map_err(|e| format!("chown: {e}"))?;
            if !out.success() {
                return Err(format!("cannot hand the cluster directory to user {PG_OS_USER}: {}", out.stderr.trim()));
            }
        }
        let cmd = |tool: &str| -> Command {
            let exe = bin.join(tool);
            if as_root {
                let mut c = Command::new("setpriv");
                c.args(["--reuid", PG_OS_USER, "--regid", PG_OS_USER, "--init-groups", "--"]).arg(exe);
                c
            } else {
                Command::new(exe)
            }
        };
        let out = run_with_timeout(
            cmd("initdb").arg("-D").arg(&data).args(["-U", PG_ROLE, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]),
            Duration::from_secs(120),
        )
        .map_err(|e| format!("initdb: {e}"))?;
        if !out.success() {
            return Err(format!("initdb failed: {}", out.stderr.trim()));
        }
        let port = free_port().map_err(|e| format!("free port: {e}"))?;
        let log = std::fs::File::create(dir.path().join("postgres.log")).map_err(|e| format!("log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let child = cmd("postgres")
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(&socket_dir)
            .args(["-c", "listen_addresses=", "-c", "max_connections=100"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("postgres: {e}"))?;
        let mut pg = Postgres { child: Some(child), port, socket_dir, dir };
        pg.wait_ready(&data)?;
        Ok(pg)
    }

    /// Waits until postmaster.pid says `ready` (PostgreSQL ≥ 10 writes the state on line 8).
    fn wait_ready(&mut self, data: &Path) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("postgres exited ({status}): {}", self.log().trim()));
                }
            }
            let state = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            if state.lines().nth(7).map(str::trim) == Some("ready") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("postgres not ready after {START_TIMEOUT:?}: {}", self.log().trim()))
    }

    /// A libpq connection string for `database` over the Unix socket (what `kagi-bank
    /// --database` and the `postgres` crate accept).
    pub fn url(&self, database: &str) -> String {
        format!("host={} port={} user={PG_ROLE} dbname={database}", self.socket_dir.display(), self.port)
    }

    /// Creates `name` (one database per scenario, on one cluster).
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        let bin = bindir().ok_or("PostgreSQL binaries not found")?;
        let out = run_with_timeout(
            Command::new(bin.join("createdb")).arg("-h").arg(&self.socket_dir).arg("-p").arg(self.port.to_string()).args(["-U", PG_ROLE, name]),
            Duration::from_secs(30),
        )
        .map_err(|e| format!("createdb: {e}"))?;
        if out.success() {
            Ok(())
        } else {
            Err(format!("createdb {name}: {}", out.stderr.trim()))
        }
    }

    /// The postmaster's PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // SIGINT = fast shutdown: backends end, the postmaster removes its socket and pid file.
        let _ = Command::new("kill").arg("-INT").arg(child.id().to_string()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `KAGI_PG_BINDIR`, the newest Debian `/usr/lib/postgresql/<n>/bin`, or the directory of
/// `initdb` on `PATH`.
fn bindir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KAGI_PG_BINDIR") {
        return Some(PathBuf::from(d));
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").exists())
        .collect();
    debian.sort();
    if let Some((_, p)) = debian.pop() {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).find(|d| d.join("initdb").exists()))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
