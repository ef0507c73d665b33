//! Logging to stderr (browsers put a host's stderr in their own log) and, when `KAGI_LOG_FILE`
//! names a file, appended there too. Never to stdout: stdout carries frames only.

use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

fn file() -> Option<&'static std::sync::Mutex<std::fs::File>> {
    static FILE: OnceLock<Option<std::sync::Mutex<std::fs::File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::var_os("KAGI_LOG_FILE")?;
        std::fs::OpenOptions::new().create(true).append(true).open(path).ok().map(std::sync::Mutex::new)
    })
    .as_ref()
}

fn write(level: &str, msg: &str) {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let line = format!("{}.{:03} kagi-host[{}] {level}: {msg}\n", t.as_secs(), t.subsec_millis(), std::process::id());
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(f) = file() {
        if let Ok(mut f) = f.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

pub fn info(msg: &str) {
    write("info", msg);
}

pub fn warn(msg: &str) {
    write("warn", msg);
}

pub fn error(msg: &str) {
    write("error", msg);
}
