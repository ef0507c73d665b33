//! The rig as a process that scripts drive (`kagi-rig` binary, `src/bin/kagi-rig.rs`): one
//! long-lived `kagi-rig serve` per rig directory holds a private [`Pcscd`] and the virtual tokens
//! plugged into its two vpcd readers, and answers one-line JSON requests on a Unix socket in that
//! directory. The JS browser rigs and the shell suites use it, so they get the same private
//! pcscd, vpcd ports and token handling as the Rust tests, and no copy of their own.
//!
//! Why a process and not a library call: pcscd and the token processes must outlive each
//! `kagi-rig token …` call, and the rig's handles (`Pcscd`, `VToken`) stop what they started by
//! PID when dropped. `serve` keeps them; everything it started ends with it (`setpriv --pdeathsig`
//! for pcscd, `--exit-on-stdin-eof` for the tokens), also when it is killed.
//!
//! Files in the rig directory: `rig.json` (what `up` prints: the environment a host or browser
//! needs, ports, PIDs), `control.sock` (requests), `rig.log` (the service's stderr).

use crate::pcscd::{pcscd_socket, vpcd_port, Pcscd, CSOCK_ENV};
use crate::vtoken::{VToken, VTokenBuilder};
use crate::READERS;
use serde_json::{json, Value};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file `serve` writes once pcscd lists its readers; `up` prints it.
pub const INFO_FILE: &str = "rig.json";
/// The service's request socket.
pub const CONTROL_SOCKET: &str = "control.sock";
/// The service's stderr.
pub const LOG_FILE: &str = "rig.log";

/// How often `serve` looks for a request and whether its owner process still runs (a request
/// waits at most this long to be taken).
const POLL: Duration = Duration::from_millis(50);

/// Does process `pid` exist (and is not a zombie)?
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, r)| r.trim_start().chars().next()) != Some('Z'),
        Err(_) => false,
    }
}

/// What a request may ask a token to hold before its first plug-in (a subset of
/// [`VTokenBuilder`]'s contents, the ones a browser test needs).
fn apply_contents(mut b: VTokenBuilder, c: &Value) -> io::Result<VTokenBuilder> {
    let Some(obj) = c.as_object() else {
        return if c.is_null() { Ok(b) } else { Err(io::Error::other("contents: not an object")) };
    };
    for (k, v) in obj {
        let bad = || io::Error::other(format!("contents: bad {k}: {v}"));
        b = match k.as_str() {
            "pin" => b.pin(v.as_str().ok_or_else(bad)?),
            "puk" => b.puk(v.as_str().ok_or_else(bad)?),
            "metadata" => b.metadata(v.as_bool().ok_or_else(bad)?),
            "aesManagementKey" => b.aes_management_key(v.as_bool().ok_or_else(bad)?),
            "attestation" => b.attestation(v.as_bool().ok_or_else(bad)?),
            _ => return Err(io::Error::other(format!("contents: unknown field {k}"))),
        };
    }
    Ok(b)
}

/// The running service: its pcscd and a token slot per reader.
struct Service {
    pcscd: Pcscd,
    tokens: Vec<Option<VToken>>,
}

impl Service {
    fn reader(req: &Value) -> io::Result<usize> {
        let n = req["reader"].as_u64().unwrap_or(0) as usize;
        if n >= READERS.len() {
            return Err(io::Error::other(format!("no vpcd reader {n} (there are {})", READERS.len())));
        }
        Ok(n)
    }

    /// Plugs a token into a reader: the one pulled from it before (same state file), or a new one.
    fn plug(&mut self, req: &Value) -> io::Result<Value> {
        let n = Self::reader(req)?;
        let state = req["state"].as_str().map(PathBuf::from);
        if let Some(t) = self.tokens[n].as_mut() {
            let same = state.as_deref().is_none_or(|s| s == t.state_path());
            if same && req["contents"].is_null() {
                if t.is_running() {
                    return Err(io::Error::other(format!("{}: the token is plugged in already", READERS[n])));
                }
                t.plug()?;
                return Ok(self.token_info(n));
            }
            if t.is_running() {
                return Err(io::Error::other(format!("{}: another token is plugged in (pull it first)", READERS[n])));
            }
            self.tokens[n] = None;
        }
        let mut b = VToken::builder().reader(n);
        if let Some(s) = state {
            b = b.state(s);
        }
        if let Some(ms) = req["delayMs"].as_u64() {
            b = b.delay_ms(ms);
        }
        b = apply_contents(b, &req["contents"])?;
        self.tokens[n] = Some(b.spawn()?);
        Ok(self.token_info(n))
    }

    fn token_mut(&mut self, n: usize) -> io::Result<&mut VToken> {
        self.tokens[n].as_mut().ok_or_else(|| io::Error::other(format!("{}: no token was plugged in here", READERS[n])))
    }

    fn token_info(&mut self, n: usize) -> Value {
        match self.tokens[n].as_mut() {
            None => json!({ "reader": n, "readerName": READERS[n], "plugged": false }),
            Some(t) => {
                let plugged = t.is_running();
                json!({
                    "reader": n, "readerName": READERS[n], "plugged": plugged, "pid": t.pid(),
                    "state": t.state_path(), "port": vpcd_port(n),
                })
            }
        }
    }

    fn handle(&mut self, req: &Value) -> io::Result<Value> {
        match req["cmd"].as_str().unwrap_or("") {
            "plug" => self.plug(req),
            "pull" => {
                let n = Self::reader(req)?;
                self.token_mut(n)?.pull()?;
                Ok(self.token_info(n))
            }
            // Pulled and plugged back at once, as a hand does; a reader that stays "no card"
            // is an error here, never cured by a second replug.
            "replug" => {
                let n = Self::reader(req)?;
                let t = self.token_mut(n)?;
                t.pull()?;
                t.plug_at_once()?;
                Ok(self.token_info(n))
            }
            "arm" => {
                let n = Self::reader(req)?;
                let count = req["n"].as_u64().ok_or_else(|| io::Error::other("arm: n missing"))?;
                let t = self.token_mut(n)?;
                match req["kind"].as_str().unwrap_or("") {
                    "fail-after" => t.arm_fail_after(count)?,
                    "drop-after" => t.arm_drop_after(count)?,
                    "power-loss" => t.arm_power_loss(count)?,
                    k => return Err(io::Error::other(format!("arm: unknown kind {k:?}"))),
                }
                Ok(self.token_info(n))
            }
            "status" => {
                let readers: Vec<Value> = (0..READERS.len()).map(|n| self.token_info(n)).collect();
                Ok(json!({ "pcscdPid": self.pcscd.pid(), "readers": readers }))
            }
            "log" => {
                let n = Self::reader(req)?;
                Ok(json!({ "log": self.token_mut(n)?.log() }))
            }
            c => Err(io::Error::other(format!("unknown request {c:?}"))),
        }
    }
}

/// `kagi-rig serve`: starts the private pcscd, writes `rig.json`, then answers requests until
/// a `down` request, or until `owner` (a PID) is gone. Stops its tokens and pcscd on the way out.
pub fn serve(dir: &Path, owner: Option<u32>) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let sock = dir.join(CONTROL_SOCKET);
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock)?;
    listener.set_nonblocking(true)?;
    // Started here, on the thread that lives as long as the service: pcscd's parent-death
    // signal follows this thread.
    let pcscd = Pcscd::start_owned()?;
    let mut svc = Service { pcscd, tokens: (0..READERS.len()).map(|_| None).collect() };
    let socket = pcscd_socket();
    let info = json!({
        "dir": dir,
        "pid": std::process::id(),
        "pcscdPid": svc.pcscd.pid(),
        "socket": socket,
        "env": { CSOCK_ENV: socket },
        "vpcdPorts": (0..READERS.len()).map(vpcd_port).collect::<Vec<_>>(),
        "readers": READERS,
        "control": sock,
        "log": dir.join(LOG_FILE),
    });
    // Written whole, then renamed: `up` never reads half a file.
    let tmp = dir.join(format!("{INFO_FILE}.tmp"));
    std::fs::write(&tmp, format!("{info}\n"))?;
    std::fs::rename(&tmp, dir.join(INFO_FILE))?;
    eprintln!("kagi-rig serve: pcscd {:?} on {}, vpcd ports {}", svc.pcscd.pid(), socket.display(), info["vpcdPorts"]);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if answer(&mut svc, stream) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if owner.is_some_and(|p| !process_alive(p)) {
                    eprintln!("kagi-rig serve: owner {owner:?} is gone; stopping");
                    break;
                }
                std::thread::sleep(POLL);
            }
            Err(e) => return Err(e),
        }
    }
    // Tokens first (they would otherwise see pcscd go), then pcscd, by PID through the handles.
    svc.tokens.clear();
    drop(svc);
    // The private pcscd directory (`<tmp>/kagi-rig.<pid>`) is this process's: gone with it.
    if let Some(private) = socket.parent().and_then(Path::parent) {
        let _ = std::fs::remove_dir_all(private);
    }
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(dir.join(INFO_FILE));
    Ok(())
}

/// Answers one connection's request; true when it asked the service to stop.
fn answer(svc: &mut Service, stream: UnixStream) -> bool {
    let _ = stream.set_nonblocking(false);
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut line).is_err() {
        return false;
    }
    let req: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
    let down = req["cmd"] == "down";
    let reply = if down {
        json!({ "ok": true })
    } else {
        match svc.handle(&req) {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "error": e.to_string() }),
        }
    };
    let outcome = reply.get("error").map_or_else(|| "ok".to_string(), |e| format!("error: {e}"));
    eprintln!("kagi-rig serve: {} -> {outcome}", line.trim_end());
    let mut w = &stream;
    let _ = writeln!(w, "{reply}");
    down
}

/// Sends one request to the service of rig directory `dir` and returns its answer (`ok`), or its
/// error as an `io::Error`.
pub fn request(dir: &Path, req: &Value) -> io::Result<Value> {
    let sock = dir.join(CONTROL_SOCKET);
    let stream = UnixStream::connect(&sock)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e} (is `kagi-rig up --dir {}` running?)", sock.display(), dir.display())))?;
    let mut w = &stream;
    writeln!(w, "{req}")?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let reply: Value = serde_json::from_str(&line).map_err(|e| io::Error::other(format!("service answered {line:?}: {e}")))?;
    if let Some(e) = reply.get("error") {
        return Err(io::Error::other(e.as_str().unwrap_or("error").to_string()));
    }
    Ok(reply["ok"].clone())
}
