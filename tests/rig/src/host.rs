//! Drives `kagi-host` exactly as a browser does: spawned with the extension origin as argv[1],
//! native messaging frames on stdin/stdout.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use kagi_proto::{frame, Event, Hello, Outgoing, Reply};
use serde_json::Value;

use crate::paths::target_dir;

/// How long a reply may take before a test fails (key generation on a slow token included).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// The `kagi-host` binary: `KAGI_HOST_BIN`, else `<target>/debug/kagi-host` (built by cargo test
/// of the host crate, or by the test command before the suites run).
pub fn host_bin() -> PathBuf {
    std::env::var_os("KAGI_HOST_BIN").map(PathBuf::from).unwrap_or_else(|| target_dir().join("debug").join("kagi-host"))
}

/// The command that starts the host: [`host_bin`] itself, or, when `KAGI_HOST_LAUNCHER` is set
/// (words separated by spaces, e.g. `wine`), that launcher with [`host_bin`] as its first
/// argument. The Windows suite (`scripts/test.d/16-windows-wine.sh`) sets `KAGI_HOST_LAUNCHER=wine`
/// and `KAGI_HOST_BIN=<kagi-host.exe>`, so the same tests drive the Windows build under Wine.
fn host_command() -> Command {
    let launcher = std::env::var("KAGI_HOST_LAUNCHER").unwrap_or_default();
    let mut words = launcher.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(host_bin());
            cmd
        }
        None => Command::new(host_bin()),
    }
}

/// What the host wrote: a parsed message, or a frame that did not parse (a test failure).
#[derive(Debug)]
pub enum FromHost {
    Message(Outgoing),
    Garbage(Vec<u8>),
}

/// A running host.
pub struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<FromHost>,
    /// Events received while waiting for replies, oldest first.
    events: Vec<Event>,
    next_id: u64,
    pub hello: Option<Hello>,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Host {
    /// Starts the host as Chrome would for Kagi's extension and waits for its hello.
    pub fn spawn() -> io::Result<Host> {
        Host::spawn_with(&[&kagi_proto::ids::chrome_origin()], &[])
    }

    /// Starts the host with these arguments and extra environment; reads the hello if one comes.
    pub fn spawn_with(args: &[&str], env: &[(&str, &str)]) -> io::Result<Host> {
        let dir = crate::temp_dir()?;
        let stderr_path = dir.path().join("host.stderr");
        let mut cmd = host_command();
        // Each host keeps its token records (`card/remembered.rs`) in its own directory, gone
        // with it, unless the test names one: tests stay independent of each other and of the
        // developer's own cache.
        cmd.args(args)
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path)?);
        let mut child = cmd.spawn().map_err(|e| io::Error::other(format!("{}: {e}", host_bin().display())))?;
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().ok_or_else(|| io::Error::other("no stdout"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            match frame::read(&mut stdout, frame::MAX_OUTGOING) {
                Ok(Some(body)) => {
                    let msg = match serde_json::from_slice::<Outgoing>(&body) {
                        Ok(m) => FromHost::Message(m),
                        Err(_) => FromHost::Garbage(body),
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(FromHost::Garbage(format!("framing error: {e}").into_bytes()));
                    // Drain whatever follows so a broken host is seen as garbage, not a hang.
                    let mut rest = Vec::new();
                    let _ = stdout.read_to_end(&mut rest);
                    return;
                }
            }
        });
        let mut host = Host { child, stdin, rx, events: Vec::new(), next_id: 1, hello: None, stderr_path, _dir: dir };
        if let Ok(FromHost::Message(Outgoing::Hello(h))) = host.rx.recv_timeout(Duration::from_secs(10)) {
            host.hello = Some(h);
        }
        Ok(host)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The host's stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Writes raw bytes to the host's stdin.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| io::Error::other("stdin closed"))?;
        stdin.write_all(bytes)?;
        stdin.flush()
    }

    /// Sends one frame with this body.
    pub fn send_frame(&mut self, body: &[u8]) -> io::Result<()> {
        let mut bytes = (body.len() as u32).to_ne_bytes().to_vec();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes)
    }

    /// Sends `request` (a JSON object without `id`) with a fresh id and waits for its reply.
    pub fn request(&mut self, request: Value) -> Reply {
        let id = self.send_request(request);
        self.reply(id)
    }

    /// Sends `request` with a fresh id; returns the id.
    pub fn send_request(&mut self, mut request: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        request["id"] = Value::from(id);
        self.send_frame(request.to_string().as_bytes()).expect("host stdin");
        id
    }

    /// Waits for the reply with this id (events that arrive meanwhile are kept).
    pub fn reply(&mut self, id: u64) -> Reply {
        self.next_reply(Some(id), REPLY_TIMEOUT).unwrap_or_else(|| panic!("no reply to #{id}; stderr:\n{}", self.stderr()))
    }

    /// The next reply (with this id, or any id when `None`), or `None` after `timeout`.
    pub fn next_reply(&mut self, id: Option<u64>, timeout: Duration) -> Option<Reply> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv(deadline)? {
                Outgoing::Reply(r) if id.is_none() || r.id == id => return Some(r),
                Outgoing::Reply(r) => panic!("unexpected reply {r:?}"),
                Outgoing::Event(e) => self.events.push(e),
                Outgoing::Hello(h) => panic!("second hello {h:?}"),
            }
        }
    }

    /// The next event (already received, or arriving within `timeout`).
    pub fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        if !self.events.is_empty() {
            return Some(self.events.remove(0));
        }
        match self.recv(Instant::now() + timeout)? {
            Outgoing::Event(e) => Some(e),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// Waits for an event matching `pred`, skipping others.
    pub fn wait_event(&mut self, timeout: Duration, pred: impl Fn(&Event) -> bool) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = self.next_event(left)?;
            if pred(&e) {
                return Some(e);
            }
        }
    }

    /// Forgets events received so far.
    pub fn clear_events(&mut self) {
        self.events.clear();
        while let Ok(FromHost::Message(Outgoing::Event(_))) = self.rx.try_recv() {}
    }

    fn recv(&mut self, deadline: Instant) -> Option<Outgoing> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(FromHost::Message(m)) => Some(m),
            Ok(FromHost::Garbage(b)) => panic!("host wrote a bad frame: {}", String::from_utf8_lossy(&b)),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Closes stdin (the browser closing the port) and waits for the host to exit.
    pub fn close(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.stdin = None;
        self.wait_exit(timeout)
    }

    /// Waits for the host to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether stdout reached its end (nothing more will come).
    pub fn stdout_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(FromHost::Message(Outgoing::Event(e))) => self.events.push(e),
                Ok(other) => panic!("unexpected output {other:?}"),
                Err(RecvTimeoutError::Disconnected) => return true,
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stdin = None;
        if self.wait_exit(Duration::from_secs(3)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
