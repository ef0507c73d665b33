//! The host's log, through `tracing`: one layer writes each event as one line
//! (`2026-11-30T12:00:00.123Z kagi-host[<pid>] info: <message>`, ISO 8601 UTC) to stderr — which
//! browsers keep in their own log — and, when the machine policy or the customer's config asks
//! for it ([`config`]), to the per-user log file ([`file`]: `0600`, never through a link,
//! rotated). Never to stdout: stdout carries frames only.
//!
//! Off by default beyond warnings and errors to stderr. The file is for the host a browser
//! starts ([`init`]); the commands people run ([`init_commands`]) print what they do and write
//! warnings to stderr only. What goes in: codes, command and field
//! names, the host's own words; never a value from a request (a PIN sent as a number included:
//! `kagi_proto::request` refuses without quoting it). Code logs through [`info`], [`warn`],
//! [`error`] (or `tracing`'s macros): the rule above is easier to keep in one place.
//!
//! Windows before this version always wrote `%LOCALAPPDATA%\Kagi\kagi-host.log`; now the file is
//! `host.log` beside it and only when asked for. The old files are removed when a host starts
//! (they would never be written again) and by `kagi-host uninstall --scope user`.

pub mod config;
pub mod file;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

pub use config::Level;
use file::LogFile;

use crate::install::paths::Os;

/// Writes events as Kagi's log lines.
struct Lines {
    stderr_level: Level,
    file_level: Level,
    file: Option<Mutex<LogFile>>,
}

fn level_of(l: &tracing::Level) -> Level {
    match *l {
        tracing::Level::ERROR => Level::Error,
        tracing::Level::WARN => Level::Warn,
        tracing::Level::INFO => Level::Info,
        // TRACE is not used by the host; shown with debug when a dependency emits it.
        _ => Level::Debug,
    }
}

/// The event's message, then its other fields as `name=value`.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// Now as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn timestamp() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = der::DateTime::from_unix_duration(std::time::Duration::from_secs(t.as_secs()))
        .map(crate::x509::rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned());
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), t.subsec_millis())
}

impl<S: Subscriber> Layer<S> for Lines {
    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        level_of(metadata.level()) <= self.stderr_level.max(self.file_level)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let level = level_of(event.metadata().level());
        let (to_stderr, to_file) = (level <= self.stderr_level, level <= self.file_level && self.file.is_some());
        if !to_stderr && !to_file {
            return;
        }
        let mut msg = Message(String::new());
        event.record(&mut msg);
        let line = format!("{} kagi-host[{}] {}: {}\n", timestamp(), std::process::id(), level.as_str(), msg.0);
        if to_stderr {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        if let (true, Some(f)) = (to_file, &self.file) {
            if let Ok(mut f) = f.lock() {
                f.write_line(line.as_bytes());
            }
        }
    }
}

/// `KAGI_LOG_FILE`, in debug builds only (see [`config`]).
fn test_file() -> Option<std::ffi::OsString> {
    #[cfg(debug_assertions)]
    {
        std::env::var_os("KAGI_LOG_FILE")
    }
    #[cfg(not(debug_assertions))]
    {
        None
    }
}

/// Sets up logging for this process from the machine policy and the customer's config. Called
/// once, first thing in `main`; a second call changes nothing.
pub fn init() {
    let os = Os::current();
    let dirs = config::Dirs::from_env();
    let inputs = config::Inputs {
        os: Some(os),
        user_config: config::user_config_path(os, &dirs).as_deref().and_then(config::read_small),
        dirs,
        test_file: test_file(),
        policy: crate::policy::system_log(),
    };
    let plan = config::plan(&inputs);
    let mut problems = plan.problems.clone();
    if os == Os::Windows {
        if let Some(dir) = config::log_dir(os, &inputs.dirs) {
            for name in file::LEGACY_NAMES {
                let _ = std::fs::remove_file(dir.join(name));
            }
        }
    }
    let file = plan.file.as_ref().and_then(|(path, rotate)| match LogFile::open(path, *rotate) {
        Ok(f) => Some(Mutex::new(f)),
        Err(e) => {
            problems.push(format!("log file {} cannot be opened: {e}", path.display()));
            None
        }
    });
    let opened = file.is_some();
    let layer = Lines { stderr_level: plan.stderr_level, file_level: if opened { plan.level } else { Level::Off }, file };
    if !install(layer) {
        return;
    }
    for p in problems {
        warn(&p);
    }
    if let (true, Some((path, _))) = (opened, &plan.file) {
        info(&format!("kagi-host {} logging at {} ({}) to {}", env!("CARGO_PKG_VERSION"), plan.level.as_str(), plan.source, path.display()));
    }
}

/// Logging for the commands people run (`install`, `doctor`, …): warnings and errors to stderr,
/// no file.
pub fn init_commands() {
    install(Lines { stderr_level: Level::Warn, file_level: Level::Off, file: None });
}

/// Makes `layer` this process's logger; false when one was set already.
fn install(layer: Lines) -> bool {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).is_ok()
}

/// Removes the customer's log files (`kagi-host uninstall --scope user`), and their directory
/// when nothing else is in it. Returns what was removed.
pub fn remove_user_files() -> Vec<PathBuf> {
    match config::log_dir(Os::current(), &config::Dirs::from_env()) {
        Some(dir) => file::remove_files(&dir),
        None => Vec::new(),
    }
}

pub fn info(msg: &str) {
    tracing::info!("{msg}");
}

pub fn warn(msg: &str) {
    tracing::warn!("{msg}");
}

pub fn error(msg: &str) {
    tracing::error!("{msg}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_utc_with_milliseconds() {
        let t = timestamp();
        let b = t.as_bytes();
        assert_eq!(t.len(), 24, "{t}");
        assert_eq!((b[4], b[7], b[10], b[13], b[16], b[19], b[23]), (b'-', b'-', b'T', b':', b':', b'.', b'Z'), "{t}");
        assert!(t.starts_with("20"), "{t}");
    }
}
