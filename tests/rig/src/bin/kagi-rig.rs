//! `kagi-rig`: the test rig (tests/rig) for scripts — the JS browser rigs and the shell
//! suites — so that they use the same private pcscd, vpcd ports, virtual tokens, host
//! registration and test CA as the Rust tests, and no copy of their own. Every command prints
//! JSON on stdout; errors go to stderr with exit status 1 (2 for a usage error).
//!
//! ```text
//! kagi-rig up --dir D [--owner-pid P]     private pcscd + vpcd ports; prints D/rig.json
//! kagi-rig down --dir D                   stops (by PID) what `up` started
//! kagi-rig status --dir D
//! kagi-rig token plug --dir D --reader N [--state FILE] [--contents JSON] [--delay-ms MS]
//! kagi-rig token pull|replug|log --dir D --reader N
//! kagi-rig token arm --dir D --reader N --kind fail-after|drop-after|power-loss --n N
//! kagi-rig register --browser chromium|firefox (--home H | --profile P) --host PATH [--remove]
//! kagi-rig ca new --dir D [--name NAME]
//! kagi-rig ca issue --dir D [--cn CN] [--count N] [--start-days N] [--days N] [--serial HEX]
//!                                         (CSR base64 on stdin, certificate base64 on stdout)
//! ```
//!
//! `up` starts `kagi-rig serve` in the background (see `kagi_rig::service`); it ends with
//! `down`, or by itself when the `--owner-pid` process is gone (a test runner that died).
//! A host or browser started with the printed `env` (`PCSCLITE_CSOCK_NAME`) talks to the rig's
//! pcscd: the private socket lives in an ordinary directory, only pcscd's own view of
//! /run/pcscd is private (tests/rig/README.md).

use kagi_rig::service::{self, process_alive, INFO_FILE, LOG_FILE};
use kagi_rig::testca::TestCa;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: kagi-rig up|down|status|serve --dir D | token plug|pull|replug|arm|log --dir D --reader N … | register --browser chromium|firefox (--home H | --profile P) --host PATH [--remove] | ca new|issue --dir D …";

/// How long `up` waits for the service to report its pcscd ready.
const UP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `down` waits for the service to stop by itself before it is killed.
const DOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// A usage error (exit status 2) or a failure (1).
enum Fail {
    Usage(String),
    Io(io::Error),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Io(e)
    }
}

/// `--name value` options and bare flags (`--remove`) after the subcommand words.
struct Opts(HashMap<String, Option<String>>);

impl Opts {
    fn parse(args: &[String], flags: &[&str]) -> Result<Opts, Fail> {
        let mut m = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                return Err(Fail::Usage(format!("unexpected argument {a:?}")));
            };
            if flags.contains(&name) {
                m.insert(name.to_string(), None);
            } else {
                let v = it.next().ok_or_else(|| Fail::Usage(format!("--{name} needs a value")))?;
                m.insert(name.to_string(), Some(v.clone()));
            }
        }
        Ok(Opts(m))
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).and_then(|v| v.as_deref())
    }
    fn need(&self, k: &str) -> Result<&str, Fail> {
        self.get(k).ok_or_else(|| Fail::Usage(format!("--{k} is required")))
    }
    fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }
    fn num(&self, k: &str) -> Result<Option<u64>, Fail> {
        self.get(k).map(|v| v.parse::<u64>().map_err(|_| Fail::Usage(format!("--{k}: not a number: {v}")))).transpose()
    }
    fn int(&self, k: &str, default: i64) -> Result<i64, Fail> {
        self.get(k).map_or(Ok(default), |v| v.parse::<i64>().map_err(|_| Fail::Usage(format!("--{k}: not a number: {v}"))))
    }
    fn dir(&self) -> Result<PathBuf, Fail> {
        let d = PathBuf::from(self.need("dir")?);
        // The service's files are named in rig.json: an absolute path means the same to every caller.
        Ok(if d.is_absolute() { d } else { std::env::current_dir()?.join(d) })
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(v) => {
            if !v.is_null() {
                println!("{v}");
            }
            ExitCode::SUCCESS
        }
        Err(Fail::Usage(m)) => {
            eprintln!("kagi-rig: {m}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Fail::Io(e)) => {
            eprintln!("kagi-rig: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<Value, Fail> {
    let (cmd, rest) = args.split_first().ok_or_else(|| Fail::Usage("no command".into()))?;
    match cmd.as_str() {
        "up" => up(&Opts::parse(rest, &[])?),
        "serve" => {
            let o = Opts::parse(rest, &[])?;
            service::serve(&o.dir()?, o.num("owner-pid")?.map(|p| p as u32))?;
            Ok(Value::Null)
        }
        "down" => down(&Opts::parse(rest, &[])?),
        "status" => Ok(service::request(&Opts::parse(rest, &[])?.dir()?, &json!({ "cmd": "status" }))?),
        "token" => token(rest),
        "register" => register(&Opts::parse(rest, &["remove"])?),
        "ca" => ca(rest),
        c => Err(Fail::Usage(format!("unknown command {c:?}"))),
    }
}

/// Starts `kagi-rig serve` detached from our stdio (a caller reading our stdout to its end,
/// as `$(…)` or node's execFileSync do, must not wait for the service) and prints its rig.json.
fn up(o: &Opts) -> Result<Value, Fail> {
    let dir = o.dir()?;
    std::fs::create_dir_all(&dir)?;
    let info = dir.join(INFO_FILE);
    if let Ok(text) = std::fs::read_to_string(&info) {
        let old: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if old["pid"].as_u64().is_some_and(|p| process_alive(p as u32)) {
            return Err(Fail::Io(io::Error::other(format!("{}: a rig is up already (pid {})", dir.display(), old["pid"]))));
        }
        std::fs::remove_file(&info)?;
    }
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(LOG_FILE))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("serve").arg("--dir").arg(&dir);
    if let Some(p) = o.num("owner-pid")? {
        cmd.arg("--owner-pid").arg(p.to_string());
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).spawn()?;
    let deadline = Instant::now() + UP_TIMEOUT;
    loop {
        if let Ok(text) = std::fs::read_to_string(&info) {
            // The service runs on: it is not our child to wait for (it stops with `down`).
            std::mem::forget(child);
            return serde_json::from_str(&text).map_err(|e| Fail::Io(io::Error::other(e)));
        }
        if let Some(st) = child.try_wait()? {
            let log = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default();
            return Err(Fail::Io(io::Error::other(format!("kagi-rig serve exited ({st}):\n{log}"))));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Fail::Io(io::Error::other(format!("kagi-rig serve did not come up within {UP_TIMEOUT:?}"))));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asks the service to stop and waits for its PID to go; kills it by PID if it does not.
fn down(o: &Opts) -> Result<Value, Fail> {
    let dir = o.dir()?;
    let Ok(text) = std::fs::read_to_string(dir.join(INFO_FILE)) else {
        return Ok(json!({ "down": "not up" }));
    };
    let info: Value = serde_json::from_str(&text).map_err(|e| Fail::Io(io::Error::other(e)))?;
    let pid = info["pid"].as_u64().map(|p| p as u32).ok_or_else(|| Fail::Io(io::Error::other("rig.json has no pid")))?;
    let asked = service::request(&dir, &json!({ "cmd": "down" })).is_ok();
    let deadline = Instant::now() + DOWN_TIMEOUT;
    while process_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = process_alive(pid);
    if killed {
        // Its pcscd and tokens end with it (parent-death signal, stdin EOF).
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    let _ = std::fs::remove_file(dir.join(INFO_FILE));
    Ok(json!({ "down": pid, "asked": asked, "killed": killed }))
}

fn token(args: &[String]) -> Result<Value, Fail> {
    let (what, rest) = args.split_first().ok_or_else(|| Fail::Usage("token: plug|pull|replug|arm|log".into()))?;
    let o = Opts::parse(rest, &[])?;
    let dir = o.dir()?;
    let mut req = json!({ "cmd": what, "reader": o.num("reader")?.unwrap_or(0) });
    match what.as_str() {
        "plug" => {
            if let Some(s) = o.get("state") {
                let p = PathBuf::from(s);
                req["state"] = json!(if p.is_absolute() { p } else { std::env::current_dir()?.join(p) });
            }
            if let Some(c) = o.get("contents") {
                req["contents"] = serde_json::from_str(c).map_err(|e| Fail::Usage(format!("--contents: {e}")))?;
            }
            if let Some(ms) = o.num("delay-ms")? {
                req["delayMs"] = json!(ms);
            }
        }
        "pull" | "replug" | "log" => {}
        "arm" => {
            req["kind"] = json!(o.need("kind")?);
            req["n"] = json!(o.num("n")?.ok_or_else(|| Fail::Usage("--n is required".into()))?);
        }
        w => return Err(Fail::Usage(format!("token {w:?}: plug|pull|replug|arm|log"))),
    }
    Ok(service::request(&dir, &req)?)
}

/// Registers (or with `--remove` unregisters) the host for one browser user through the host's
/// own `kagi-host install --scope user` (never a manifest written here). Chromium reads the
/// user's manifests from `<user-data-dir>/NativeMessagingHosts`, which is
/// `$HOME/.config/chromium` unless `--user-data-dir` says otherwise: so a Chromium profile
/// registered this way must be `<home>/.config/chromium` (`--profile` names it, `--home` the
/// home). Firefox reads `$HOME/.mozilla/native-messaging-hosts` whatever the profile.
fn register(o: &Opts) -> Result<Value, Fail> {
    let browser = o.need("browser")?;
    let home = match (o.get("home"), o.get("profile"), browser) {
        (Some(h), _, _) => PathBuf::from(h),
        (None, Some(p), "chromium") => {
            let p = Path::new(p);
            if !p.ends_with(".config/chromium") {
                return Err(Fail::Usage(format!(
                    "--profile {}: a Chromium profile the host is installed for must be <home>/.config/chromium",
                    p.display()
                )));
            }
            p.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default()
        }
        (None, Some(_), _) => return Err(Fail::Usage("--profile is for chromium; Firefox's user manifests follow --home".into())),
        (None, None, _) => return Err(Fail::Usage("--home or --profile is required".into())),
    };
    if !matches!(browser, "chromium" | "firefox") {
        return Err(Fail::Usage(format!("--browser {browser}: chromium or firefox")));
    }
    let host = o.need("host")?;
    let installer = o.get("kagi-host").map(PathBuf::from).unwrap_or_else(kagi_rig::host_bin);
    let verb = if o.has("remove") { "uninstall" } else { "install" };
    std::fs::create_dir_all(&home)?;
    let out = Command::new(&installer)
        .args([verb, "--scope", "user", "--browser", browser, "--json", "--host-path", host])
        .env("HOME", &home)
        // What the user's host keeps (token records, log) is under that home, as for a browser
        // started with it; the caller's own XDG directories stay out of it.
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("KAGI_INSTALL_ROOT")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", installer.display())))?;
    if !out.status.success() {
        return Err(Fail::Io(io::Error::other(format!(
            "{} {verb} failed ({}): {}{}",
            installer.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))));
    }
    let outcomes: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    Ok(json!({ "home": home, "userDataDir": home.join(".config/chromium"), "outcomes": outcomes }))
}

/// The one test CA of the scripts: the rig's [`TestCa`], kept in a directory between calls.
fn ca(args: &[String]) -> Result<Value, Fail> {
    let (what, rest) = args.split_first().ok_or_else(|| Fail::Usage("ca: new|issue".into()))?;
    let o = Opts::parse(rest, &[])?;
    let dir = o.dir()?;
    match what.as_str() {
        "new" => {
            let ca = TestCa::new(o.get("name").unwrap_or("Kagi Test CA"));
            ca.save(&dir)?;
            Ok(json!({ "pem": dir.join(kagi_rig::testca::CA_PEM), "der": dir.join(kagi_rig::testca::CA_DER) }))
        }
        "issue" => {
            let ca = TestCa::load(&dir)?;
            let mut csr = String::new();
            io::stdin().read_to_string(&mut csr)?;
            let cn = o.get("cn").unwrap_or("SH001 SH001001 1898");
            let count = o.num("count")?.unwrap_or(1) as u32;
            let serial = o.get("serial").map(|h| hex::decode(h).map_err(|e| Fail::Usage(format!("--serial: {e}")))).transpose()?;
            let der = ca.try_issue_for(cn, csr.trim(), count, o.int("start-days", 0)?, o.int("days", 365)?, serial.as_deref())?;
            println!("{}", kagi_rig::testca::b64(&der));
            Ok(Value::Null)
        }
        w => Err(Fail::Usage(format!("ca {w:?}: new|issue"))),
    }
}
