//! Virtual PIV tokens: `kagi-vtoken` processes plugged into a vpcd reader, with contents a
//! test chooses before the first plug-in (`contents.rs`, `keys.rs`) and read back afterwards,
//! an optional latency model and an APDU counter (`count.rs`).

use crate::pcscd::{card_present, wait_card_state};
use crate::paths::{target_dir, temp_dir, workspace_root};
use crate::READERS;
pub use contents::{
    cert_tag, certificate_object, key_history_object, TokenContents, TokenKey, TAG_ADMIN_DATA, TAG_KEY_HISTORY,
    TAG_PRINTED_INFO,
};
use contents::Contents;
pub use count::ApduCount;
pub use keys::{
    ManagementKey, SlotKey, ALG_3DES, ALG_AES128, ALG_AES192, ALG_AES256, ALG_ECCP256, ALG_RSA2048, FACTORY_MGMT_KEY,
};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

mod contents;
mod count;
mod keys;

/// How long to wait for pcscd to notice an insertion or removal (it polls vpcd every ~0.4 s).
const CARD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a started token may go unreported before it is replugged (pcscd polls every 0.4 s).
const REPLUG_AFTER: Duration = Duration::from_secs(4);

/// Replugs of a token pcscd did not report (see [`VToken::plug`]) in this process.
static REPLUGS: AtomicU64 = AtomicU64::new(0);

/// The file each replug is also recorded in, one line each, so that the test command can count
/// them over all test processes and fail a run with too many (a host that wedges pcscd's view of
/// a reader would otherwise pass, cured by the replug).
pub const REPLUG_LOG_ENV: &str = "KAGI_RIG_REPLUG_LOG";

/// How many times this process replugged a token that pcscd did not report present.
pub fn replug_count() -> u64 {
    REPLUGS.load(Ordering::SeqCst)
}

/// Counts a replug, prints it (also in a passing test's captured output) and appends it to
/// `$KAGI_RIG_REPLUG_LOG`.
fn record_replug(reader: &str, attempt: u32) {
    REPLUGS.fetch_add(1, Ordering::SeqCst);
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let line = format!("kagi-rig-replug {test}: {reader} not reported present; replugging ({attempt})");
    eprintln!("{line}");
    if let Some(path) = std::env::var_os(REPLUG_LOG_ENV) {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            eprintln!("kagi-rig: cannot record the replug in {}: {e}", Path::new(&path).display());
        }
    }
}

/// Newest modification time of the token's sources (to notice a stale binary).
fn newest_source_mtime() -> Option<SystemTime> {
    let root = workspace_root().join("tests/virtual-token");
    let mut newest = std::fs::metadata(root.join("Cargo.toml")).and_then(|m| m.modified()).ok();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
                newest = newest.max(Some(t));
            }
        }
    }
    newest
}

/// kagi-vtoken's test attestation root certificate, PEM (`kagi-vtoken --print-attestation-root`):
/// what a bank configured to require attestation trusts in tests.
pub fn attestation_root_pem() -> io::Result<String> {
    let out = Command::new(vtoken_bin()?).arg("--print-attestation-root").output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!("kagi-vtoken --print-attestation-root: {}", out.status)));
    }
    String::from_utf8(out.stdout).map_err(io::Error::other)
}

/// The `kagi-vtoken` binary: `KAGI_VTOKEN_BIN`, else `<target>/debug` or `<target>/release`;
/// runs `cargo build -p kagi-vtoken` (once per process) when it is missing or older than
/// its sources.
pub fn vtoken_bin() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os("KAGI_VTOKEN_BIN") {
        return Ok(PathBuf::from(p));
    }
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.as_ref() {
        return Ok(p.clone());
    }
    let newest_src = newest_source_mtime();
    let fresh = |p: &Path| {
        let t = std::fs::metadata(p).and_then(|m| m.modified()).ok();
        t.is_some() && (newest_src.is_none() || t >= newest_src)
    };
    let candidates = ["debug", "release"].map(|d| target_dir().join(d).join("kagi-vtoken"));
    if let Some(p) = candidates.iter().find(|p| fresh(p)) {
        *built = Some(p.clone());
        return Ok(p.clone());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "kagi-vtoken"])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!("cargo build -p kagi-vtoken failed: {status}")));
    }
    let p = candidates[0].clone();
    if !p.exists() {
        return Err(io::Error::other(format!("{} missing after cargo build", p.display())));
    }
    *built = Some(p.clone());
    Ok(p)
}

/// Settings of a virtual token; see [`VToken::builder`].
#[derive(Debug, Clone, Default)]
pub struct VTokenBuilder {
    reader: usize,
    state: Option<PathBuf>,
    delay_ms: u64,
    fail_after: Option<u64>,
    bin: Option<PathBuf>,
    verbose: bool,
    any_free: bool,
    contents: Contents,
    /// `--apdu-latency-us` / `--byte-latency-us`: absent, without value (the token's USB model),
    /// or a value.
    apdu_latency_us: Option<Option<u64>>,
    byte_latency_us: Option<Option<u64>>,
    count_apdus: bool,
    record_signatures: bool,
}

impl VTokenBuilder {
    /// vpcd reader index: 0 ([`crate::READER_0`]) or 1 ([`crate::READER_1`]).
    pub fn reader(mut self, index: usize) -> Self {
        self.reader = index;
        self
    }
    /// Use whichever vpcd reader has no card (waits up to 10 s for one to become free):
    /// for tests that do not care which reader they get. Read it back with [`VToken::reader`].
    pub fn any_free_reader(mut self) -> Self {
        self.any_free = true;
        self
    }
    /// State file; default: `state.json` in a fresh temporary directory owned by the token.
    pub fn state(mut self, path: impl Into<PathBuf>) -> Self {
        self.state = Some(path.into());
        self
    }
    /// Artificial delay of key generation and private-key operations.
    pub fn delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = ms;
        self
    }
    /// Answer `n` APDUs, then drop the connection at the next one (token pulled mid-operation).
    pub fn fail_after(mut self, n: u64) -> Self {
        self.fail_after = Some(n);
        self
    }
    /// Use this binary instead of [`vtoken_bin`] (e.g. `env!("CARGO_BIN_EXE_kagi-vtoken")`).
    pub fn bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.bin = Some(path.into());
        self
    }
    /// Log every APDU to the token's log ([`VToken::log`]).
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }

    /// Latency model: the token waits `apdu_us` + `byte_us` × (command + response bytes) before
    /// each response. Default: none (answers at once).
    pub fn latency(mut self, apdu_us: u64, byte_us: u64) -> Self {
        self.apdu_latency_us = Some(Some(apdu_us));
        self.byte_latency_us = Some(Some(byte_us));
        self
    }
    /// The token's latency model of a full-speed USB CCID token (README of kagi-vtoken,
    /// "Latency model": 1000 µs per APDU + 16 µs per byte).
    pub fn usb_latency(mut self) -> Self {
        self.apdu_latency_us = Some(None);
        self.byte_latency_us = Some(None);
        self
    }
    /// Record every digest the token signs, read with [`VToken::signed_digests`].
    pub fn record_signatures(mut self, on: bool) -> Self {
        self.record_signatures = on;
        self
    }
    /// Count APDUs in a side file, read with [`VToken::apdu_count`].
    pub fn count_apdus(mut self, on: bool) -> Self {
        self.count_apdus = on;
        self
    }

    // ---- Contents, written into the state file before the first plug-in. Without any of
    // these the token starts from its factory state (or the given state file as it is).

    /// PIN (6–8 characters) instead of the factory `123456`.
    pub fn pin(mut self, pin: &str) -> Self {
        self.contents.pin = Some(pin.to_string());
        self
    }
    /// PUK (6–8 characters) instead of the factory `12345678`.
    pub fn puk(mut self, puk: &str) -> Self {
        self.contents.puk = Some(puk.to_string());
        self
    }
    /// Management key instead of the factory 3DES key.
    pub fn management_key(mut self, key: ManagementKey) -> Self {
        self.contents.mgmt = Some(key);
        self
    }
    /// Does the token answer the YubiKey GET METADATA instruction (default: yes, a YubiKey 5)?
    /// `false`: 6D00, like PIV cards that are not YubiKeys.
    pub fn metadata(mut self, supported: bool) -> Self {
        self.contents.metadata = Some(supported);
        self
    }
    /// Does the token accept AES management keys (default: yes, a YubiKey 5.4+)? `false`: 3DES
    /// only, like older YubiKeys (SET MANAGEMENT KEY with AES: 6A80).
    pub fn aes_management_key(mut self, accepted: bool) -> Self {
        self.contents.aes_mgmt = Some(accepted);
        self
    }
    /// Does the token answer the YubiKey ATTEST instruction (default: yes, a YubiKey 5, with
    /// an F9 key under kagi-vtoken's test attestation root)? `false`: 6D00, like PIV cards that
    /// are not YubiKeys.
    pub fn attestation(mut self, supported: bool) -> Self {
        self.contents.attestation = Some(supported);
        self
    }
    /// A private key in a slot (9A, 9C, 9D, 9E, 82–95), as if imported by another tool
    /// (metadata origin "imported", the slot's default PIN policy); no certificate.
    pub fn key(mut self, slot: u8, key: &SlotKey) -> Self {
        assert!(cert_tag(slot).is_some(), "slot {slot:#04x} holds no asymmetric key");
        self.contents.keys.insert(slot, key.clone());
        self
    }
    /// A certificate (DER) in a slot's certificate object (`70 cert 71 00 FE 00`).
    pub fn certificate(mut self, slot: u8, der: &[u8]) -> Self {
        let tag = cert_tag(slot).unwrap_or_else(|| panic!("slot {slot:#04x} has no certificate object"));
        self.contents.objects.insert(tag, certificate_object(der));
        self
    }
    /// A key and its certificate in a slot (see [`SlotKey::certificate`] for one issued by a
    /// CA of the test's choosing).
    pub fn key_with_certificate(self, slot: u8, key: &SlotKey, der: &[u8]) -> Self {
        self.key(slot, key).certificate(slot, der)
    }
    /// A data object's contents (what goes inside `53`), e.g. Printed Information or ADMIN DATA.
    pub fn object(mut self, tag: u32, contents: &[u8]) -> Self {
        self.contents.objects.insert(tag, contents.to_vec());
        self
    }
    /// A written Key History object (otherwise the token computes one: on-card = retired
    /// certificates present, off-card = 0). A URL is required by SP 800-73-4 when
    /// `off_card` > 0.
    pub fn key_history(self, on_card: u8, off_card: u8, url: Option<&str>) -> Self {
        self.object(TAG_KEY_HISTORY, &key_history_object(on_card, off_card, url))
    }

    /// Starts the token and waits until its reader reports a card present.
    pub fn spawn(mut self) -> io::Result<VToken> {
        if self.any_free {
            let deadline = Instant::now() + Duration::from_secs(10);
            self.reader = loop {
                if let Some(i) = (0..READERS.len()).find(|&i| matches!(card_present(READERS[i]), Ok(false))) {
                    break i;
                }
                if Instant::now() >= deadline {
                    return Err(io::Error::other("no free vpcd reader (other tokens running?)"));
                }
                std::thread::sleep(Duration::from_millis(100));
            };
        }
        if self.reader >= READERS.len() {
            return Err(io::Error::other(format!("no vpcd reader {}", self.reader)));
        }
        let dir = temp_dir()?;
        let state = self.state.clone().unwrap_or_else(|| dir.path().join("state.json"));
        let bin = match &self.bin {
            Some(b) => b.clone(),
            None => vtoken_bin()?,
        };
        if !self.contents.is_empty() {
            self.contents.write(&bin, &state)?;
        }
        let mut t = VToken {
            cfg: self,
            bin,
            state,
            log: dir.path().join("vtoken.log"),
            dir,
            child: None,
            stdin: None,
            stdout: None,
            exit: None,
        };
        t.plug()?;
        Ok(t)
    }
}

/// A running (or pulled) virtual token. Dropping it kills the process.
#[derive(Debug)]
pub struct VToken {
    cfg: VTokenBuilder,
    bin: PathBuf,
    state: PathBuf,
    log: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Kept open: the token exits when it closes (so it dies with the test process). Control
    /// commands go through it (`tests/virtual-token/src/control.rs`).
    stdin: Option<ChildStdin>,
    /// The token's answers to control commands.
    stdout: Option<BufReader<ChildStdout>>,
    exit: Option<ExitStatus>,
}

impl VToken {
    /// Settings for a new token (reader 0, fresh state, no delay, no failure).
    pub fn builder() -> VTokenBuilder {
        VTokenBuilder::default()
    }

    /// Reader name of this token.
    pub fn reader(&self) -> &'static str {
        READERS[self.cfg.reader]
    }

    /// The state file.
    pub fn state_path(&self) -> &Path {
        &self.state
    }

    /// What the token holds now (its state file; the token writes it after every change).
    pub fn contents(&self) -> io::Result<TokenContents> {
        TokenContents::read(&self.state)
    }

    /// The counter file (with [`VTokenBuilder::count_apdus`]).
    pub fn apdu_counter_path(&self) -> PathBuf {
        self.dir.path().join("apdus.json")
    }

    /// APDUs answered since the token was first plugged in (all runs of this token). The
    /// token counts an APDU before it sends the response, so once a client has its last
    /// response the count includes it: read before and after an operation and subtract.
    pub fn apdu_count(&self) -> io::Result<ApduCount> {
        if !self.cfg.count_apdus {
            return Err(io::Error::other("APDU counting is off (VTokenBuilder::count_apdus)"));
        }
        ApduCount::parse(&std::fs::read_to_string(self.apdu_counter_path())?)
    }

    /// The record of signed digests (with [`VTokenBuilder::record_signatures`]).
    pub fn sign_log_path(&self) -> PathBuf {
        self.dir.path().join("signed.jsonl")
    }

    /// Every digest the token signed since it was first plugged in, in order: `(slot, digest)`.
    /// The token appends before it answers, so a client holding a signature finds its digest.
    pub fn signed_digests(&self) -> io::Result<Vec<(u8, Vec<u8>)>> {
        if !self.cfg.record_signatures {
            return Err(io::Error::other("signature recording is off (VTokenBuilder::record_signatures)"));
        }
        let text = match std::fs::read_to_string(self.sign_log_path()) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).map_err(io::Error::other)?;
                let field = |k: &str| v[k].as_str().and_then(|s| hex::decode(s).ok()).ok_or_else(|| io::Error::other(format!("sign log: bad {k}: {l}")));
                let slot = field("slot")?.first().copied().ok_or_else(|| io::Error::other("sign log: empty slot"))?;
                Ok((slot, field("digest")?))
            })
            .collect()
    }

    /// The token's temporary directory (state file and log live here by default).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// PID of the token process while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The token's stderr so far (all runs of this token).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Is the process still running? (Records its exit status if it ended.)
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(Ok(Some(st))) => {
                self.exit = Some(st);
                self.child = None;
                self.stdin = None;
                self.stdout = None;
                false
            }
            _ => false,
        }
    }

    /// Waits for the process to exit by itself (e.g. after `fail_after`); `None` on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        while self.is_running() {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(self.exit)
    }

    /// Pulls the token out: kills the process by PID and waits until the reader is empty.
    pub fn pull(&mut self) -> io::Result<()> {
        self.stdin = None;
        self.stdout = None;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            self.exit = Some(c.wait()?);
        }
        wait_card_state(self.reader(), false, CARD_TIMEOUT)
    }

    /// Plugs the token (back) in: starts the process with the same state file and waits
    /// until the reader reports a card present.
    ///
    /// Now and then (about one start in fifty here) pcscd stops polling a vpcd reader right
    /// after a card left it, and a new card connected to vpcd is never reported. A real token
    /// replugged by hand has the same cure: pull it and plug it again, which this does up to
    /// twice before giving up.
    pub fn plug(&mut self) -> io::Result<()> {
        let mut attempt = 0;
        loop {
            let timeout = if attempt < 2 { REPLUG_AFTER } else { CARD_TIMEOUT };
            match self.plug_once(timeout) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut && attempt < 2 => {
                    attempt += 1;
                    record_replug(self.reader(), attempt);
                    self.pull_quiet()?;
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    let _ = self.pull_quiet();
                    return Err(io::Error::new(e.kind(), format!("{e}\ntoken log:\n{}", self.log())));
                }
                Ok(()) => return Ok(()),
            }
        }
    }

    /// Plugs the token back in at once, as a hand does right after a pull: no wait for the
    /// reader to report the old card gone first, and no replug if pcscd does not report the new
    /// one (a [`TimedOut`](io::ErrorKind::TimedOut) error instead). For tests where a reader
    /// that stays "no card" is the failure to find.
    pub fn plug_at_once(&mut self) -> io::Result<()> {
        if self.is_running() {
            return Err(io::Error::other(format!("{}: the token is still plugged in", self.reader())));
        }
        self.start_process()?;
        self.wait_present(CARD_TIMEOUT)
    }

    /// Arms a pull: the token answers `n` more command APDUs and drops the connection when the
    /// next one arrives (then exits, as [`VTokenBuilder::fail_after`] does). Returns once the
    /// token has acknowledged, so the next APDU already counts.
    pub fn arm_fail_after(&mut self, n: u64) -> io::Result<()> {
        self.control(&format!("fail-after {n}"), &format!("armed {n}"))
    }

    /// Arms a pull after the answer is lost: the token answers `n` more command APDUs, executes
    /// the next one and drops the connection instead of answering it (the card did it; the
    /// client never learns). Returns once the token has acknowledged.
    pub fn arm_drop_after(&mut self, n: u64) -> io::Result<()> {
        self.control(&format!("drop-after {n}"), &format!("armed {n} after"))
    }

    /// Arms a power loss: answers `n` more command APDUs; power fails while the card executes
    /// the next one, which keeps only what a real token would have committed
    /// (tests/virtual-token/README.md, *Power loss*).
    pub fn arm_power_loss(&mut self, n: u64) -> io::Result<()> {
        self.control(&format!("power-loss {n}"), &format!("armed {n} power-loss"))
    }

    /// Forgets an armed pull that did not happen.
    pub fn disarm(&mut self) -> io::Result<()> {
        self.control("disarm", "disarmed")
    }

    fn control(&mut self, command: &str, expected: &str) -> io::Result<()> {
        let (Some(stdin), Some(stdout)) = (self.stdin.as_mut(), self.stdout.as_mut()) else {
            return Err(io::Error::other(format!("{}: the token is not running", READERS[self.cfg.reader])));
        };
        writeln!(stdin, "{command}")?;
        stdin.flush()?;
        let mut answer = String::new();
        stdout.read_line(&mut answer)?;
        if answer.trim_end() != expected {
            return Err(io::Error::other(format!("token answered {answer:?} to {command:?}")));
        }
        Ok(())
    }

    fn plug_once(&mut self, timeout: Duration) -> io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        // Another card in this reader would make "present" meaningless.
        wait_card_state(self.reader(), false, Duration::from_millis(900)).map_err(|_| {
            io::Error::other(format!("{}: a card is already present (another token running?)", self.reader()))
        })?;
        self.start_process()?;
        self.wait_present(timeout)
    }

    /// Starts the token process (plugs it into vpcd) without waiting for pcscd.
    fn start_process(&mut self) -> io::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut cmd = Command::new(&self.bin);
        // The port of this process's pcscd's vpcd (its private one once a rig started it).
        cmd.arg("--port")
            .arg(crate::pcscd::vpcd_port(self.cfg.reader).to_string())
            .arg("--state")
            .arg(&self.state)
            .arg("--delay-ms")
            .arg(self.cfg.delay_ms.to_string())
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(n) = self.cfg.fail_after {
            cmd.arg("--fail-after").arg(n.to_string());
        }
        if self.cfg.verbose {
            cmd.arg("--verbose");
        }
        for (flag, v) in [("--apdu-latency-us", self.cfg.apdu_latency_us), ("--byte-latency-us", self.cfg.byte_latency_us)] {
            match v {
                None => {}
                Some(None) => {
                    cmd.arg(flag);
                }
                Some(Some(us)) => {
                    cmd.arg(format!("{flag}={us}"));
                }
            }
        }
        if self.cfg.count_apdus {
            cmd.arg("--apdu-counter").arg(self.apdu_counter_path());
        }
        if self.cfg.record_signatures {
            cmd.arg("--sign-log").arg(self.sign_log_path());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {}: {e}", self.bin.display())))?;
        self.stdin = child.stdin.take();
        self.stdout = child.stdout.take().map(BufReader::new);
        self.child = Some(child);
        self.exit = None;
        Ok(())
    }

    /// Waits until pcscd reports a card in this token's reader (while the process runs).
    fn wait_present(&mut self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                return Err(io::Error::other(format!(
                    "kagi-vtoken exited ({:?}) before the card appeared:\n{}",
                    self.exit,
                    self.log()
                )));
            }
            let step = Duration::from_millis(500).min(deadline.saturating_duration_since(Instant::now()));
            match wait_card_state(self.reader(), true, step) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::TimedOut && Instant::now() < deadline => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn pull_quiet(&mut self) -> io::Result<()> {
        self.stdin = None;
        self.stdout = None;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            self.exit = Some(c.wait()?);
        }
        Ok(())
    }
}

impl Drop for VToken {
    fn drop(&mut self) {
        let _ = self.pull_quiet();
        if std::thread::panicking() {
            eprintln!("--- kagi-vtoken log ({}):\n{}", self.reader(), self.log());
        }
    }
}
