//! Whether the host logs to a file, at which level, and where: decided from what the machine and
//! the customer wrote down, never from an environment variable (a browser starts the host; the
//! customer cannot give it one, and a support desk cannot ask for one).
//!
//! In order, the first that says something wins:
//! 1. the machine policy's `log` (`/etc/kagi/policy.json` `{"log": "info"}`, Windows
//!    `HKLM\Software\Policies\Kagi` value `log`, REG_SZ; the ADMX policy *Kagi → Host log*):
//!    the administrator's word, which the customer cannot undo;
//! 2. the customer's own config file ([`user_config_path`]: Linux `~/.config/kagi/host.json`
//!    honouring `XDG_CONFIG_HOME`, Windows `%APPDATA%\Kagi\host.json`), `{"log": "info"}`,
//!    what a support desk asks the customer to create;
//! 3. nothing: no file, warnings and errors to stderr (which browsers keep in their own log).
//!
//! Levels: `off`, `error`, `warn`, `info`, `debug`. A level turns on the file
//! ([`log_file_path`]: Linux `~/.local/state/kagi/host.log` honouring `XDG_STATE_HOME`, Windows
//! `%LOCALAPPDATA%\Kagi\host.log`) and applies to stderr too; stderr never gets less than
//! warnings. A value that cannot be read is ignored with a warning on stderr: a typo must not
//! stop the customer's log-on.
//!
//! Tests: debug builds (only) honour `KAGI_LOG_FILE`, a file at level `info` unless a setting
//! above says otherwise (the integration tests run the real binary as a browser does, and the
//! released builds that ship do not contain the lookup), as `KAGI_POLICY_FILE` in `policy.rs`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::install::paths::Os;

/// Log levels, least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Off,
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    /// The level named in a setting (`"info"`; case as written by people: any).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Level::Off,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// The environment values that matter, read once (tests give their own).
#[derive(Debug, Default, Clone)]
pub struct Dirs {
    pub home: Option<OsString>,
    pub xdg_config_home: Option<OsString>,
    pub xdg_state_home: Option<OsString>,
    /// Windows `%APPDATA%` (roaming: the customer's settings).
    pub app_data: Option<OsString>,
    /// Windows `%LOCALAPPDATA%` (this PC: the log).
    pub local_app_data: Option<OsString>,
}

impl Dirs {
    pub fn from_env() -> Dirs {
        let var = |n: &str| std::env::var_os(n).filter(|v| !v.is_empty());
        Dirs {
            home: var(if cfg!(windows) { "USERPROFILE" } else { "HOME" }),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            xdg_state_home: var("XDG_STATE_HOME"),
            app_data: var("APPDATA"),
            local_app_data: var("LOCALAPPDATA"),
        }
    }

    fn get(v: &Option<OsString>) -> Option<&Path> {
        v.as_deref().filter(|v| !v.is_empty()).map(Path::new)
    }
}

/// The customer's config file.
pub fn user_config_path(os: Os, d: &Dirs) -> Option<PathBuf> {
    match os {
        Os::Windows => Some(Dirs::get(&d.app_data)?.join("Kagi").join("host.json")),
        Os::MacOs => Some(Dirs::get(&d.home)?.join("Library/Application Support/Kagi/host.json")),
        // XDG Base Directory Specification: an XDG_CONFIG_HOME that is not absolute is ignored.
        Os::Linux => match Dirs::get(&d.xdg_config_home).filter(|p| p.is_absolute()) {
            Some(c) => Some(c.join("kagi").join("host.json")),
            None => Some(Dirs::get(&d.home)?.join(".config/kagi/host.json")),
        },
    }
}

/// The directory of the per-user log ([`LOG_NAME`] and its rotated copies).
pub fn log_dir(os: Os, d: &Dirs) -> Option<PathBuf> {
    match os {
        Os::Windows => Some(crate::install::paths::windows_data_dir(Dirs::get(&d.local_app_data)?)),
        Os::MacOs => Some(Dirs::get(&d.home)?.join("Library/Logs/Kagi")),
        Os::Linux => match Dirs::get(&d.xdg_state_home).filter(|p| p.is_absolute()) {
            Some(s) => Some(s.join("kagi")),
            None => Some(Dirs::get(&d.home)?.join(".local/state/kagi")),
        },
    }
}

/// The log file's name in [`log_dir`].
pub const LOG_NAME: &str = "host.log";

/// The per-user log file.
pub fn log_file_path(os: Os, d: &Dirs) -> Option<PathBuf> {
    Some(log_dir(os, d)?.join(LOG_NAME))
}

/// The config file's form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserConfig {
    log: Option<String>,
}

/// What was found, before deciding.
#[derive(Debug, Default)]
pub struct Inputs {
    pub os: Option<Os>,
    pub dirs: Dirs,
    /// `KAGI_LOG_FILE` (debug builds only).
    pub test_file: Option<OsString>,
    /// The machine policy's `log` value and where it was read.
    pub policy: Option<(String, String)>,
    /// The customer's config file's bytes, when there is one.
    pub user_config: Option<Vec<u8>>,
}

/// What the host does.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// Level of the file (`Off`: no file).
    pub level: Level,
    /// Level of stderr: at least `Warn`.
    pub stderr_level: Level,
    /// The file, and whether it is rotated (the per-user log is; a test's is not).
    pub file: Option<(PathBuf, bool)>,
    /// Where the level came from, for the first log line.
    pub source: String,
    /// Settings that could not be used, logged as warnings once logging runs.
    pub problems: Vec<String>,
}

/// Decides from `inputs` (see the module note for the order).
pub fn plan(inputs: &Inputs) -> Plan {
    let os = inputs.os.unwrap_or_else(Os::current);
    let mut problems = Vec::new();
    let mut chosen: Option<(Level, String)> = None;
    if let Some((source, value)) = &inputs.policy {
        match Level::parse(value) {
            Some(l) => chosen = Some((l, format!("machine policy {source}"))),
            None => problems.push(format!("machine policy {source}: log level not understood (off, error, warn, info, debug)")),
        }
    }
    let config_path = user_config_path(os, &inputs.dirs);
    if let (None, Some(bytes)) = (&chosen, &inputs.user_config) {
        let shown = config_path.as_deref().map_or_else(|| "host.json".to_owned(), |p| p.display().to_string());
        match serde_json::from_slice::<UserConfig>(bytes) {
            Ok(UserConfig { log: Some(v) }) => match Level::parse(&v) {
                Some(l) => chosen = Some((l, format!("user config {shown}"))),
                None => problems.push(format!("{shown}: log level not understood (off, error, warn, info, debug)")),
            },
            Ok(UserConfig { log: None }) => {}
            // serde's message names a position or a field, never the file's other text.
            Err(e) => problems.push(format!("{shown}: not a Kagi host config ({{\"log\": \"info\"}}): {e}")),
        }
    }
    let test_file = inputs.test_file.as_ref().filter(|f| !f.is_empty()).map(PathBuf::from);
    let (level, source, file) = match (chosen, test_file) {
        (Some((l, s)), Some(f)) => (l, s, Some((f, false))),
        (None, Some(f)) => (Level::Info, "KAGI_LOG_FILE (debug build)".to_owned(), Some((f, false))),
        (Some((l, s)), None) => (l, s, log_file_path(os, &inputs.dirs).map(|p| (p, true))),
        (None, None) => (Level::Off, "default".to_owned(), None),
    };
    let file = if level == Level::Off { None } else { file };
    Plan { level, stderr_level: level.max(Level::Warn), file, source, problems }
}

/// A file's bytes, `None` when it is not there (or cannot be read: logging is optional). Small
/// files only: a config names one level.
pub fn read_small(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path).ok()?.take(64 * 1024).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(home: &str) -> Dirs {
        Dirs { home: Some(home.into()), ..Dirs::default() }
    }

    fn windows() -> Dirs {
        Dirs {
            home: Some(r"C:\Users\u".into()),
            app_data: Some("/Users/u/AppData/Roaming".into()),
            local_app_data: Some("/Users/u/AppData/Local".into()),
            ..Dirs::default()
        }
    }

    #[test]
    fn nothing_configured_means_warnings_to_stderr_and_no_file() {
        let p = plan(&Inputs { os: Some(Os::Linux), dirs: linux("/home/u"), ..Inputs::default() });
        assert_eq!((p.level, p.stderr_level, &p.file), (Level::Off, Level::Warn, &None));
        // Windows used to log to a file always: no longer.
        let p = plan(&Inputs { os: Some(Os::Windows), dirs: windows(), ..Inputs::default() });
        assert_eq!((p.level, &p.file), (Level::Off, &None));
    }

    #[test]
    fn the_customers_config_turns_the_file_on_where_each_os_keeps_it() {
        let cfg = Some(br#"{"log":"info"}"#.to_vec());
        let p = plan(&Inputs { os: Some(Os::Linux), dirs: linux("/home/u"), user_config: cfg.clone(), ..Inputs::default() });
        assert_eq!(p.file, Some((PathBuf::from("/home/u/.local/state/kagi/host.log"), true)));
        assert_eq!((p.level, p.stderr_level), (Level::Info, Level::Info));
        assert!(p.source.contains("/home/u/.config/kagi/host.json"), "{}", p.source);
        // XDG directories when set (absolute only).
        let xdg = Dirs { xdg_state_home: Some("/xdg/state".into()), xdg_config_home: Some("/xdg/config".into()), ..linux("/home/u") };
        assert_eq!(user_config_path(Os::Linux, &xdg), Some(PathBuf::from("/xdg/config/kagi/host.json")));
        assert_eq!(log_file_path(Os::Linux, &xdg), Some(PathBuf::from("/xdg/state/kagi/host.log")));
        let relative = Dirs { xdg_state_home: Some("state".into()), ..linux("/home/u") };
        assert_eq!(log_file_path(Os::Linux, &relative), Some(PathBuf::from("/home/u/.local/state/kagi/host.log")));
        // Windows: %APPDATA%\Kagi\host.json, %LOCALAPPDATA%\Kagi\host.log.
        let w = windows();
        assert_eq!(user_config_path(Os::Windows, &w), Some(Path::new("/Users/u/AppData/Roaming").join("Kagi").join("host.json")));
        let p = plan(&Inputs { os: Some(Os::Windows), dirs: w, user_config: cfg, ..Inputs::default() });
        assert_eq!(p.file, Some((Path::new("/Users/u/AppData/Local").join("Kagi").join("host.log"), true)));
        // Quieter levels keep stderr at warnings; "off" writes no file.
        let warn = plan(&Inputs { os: Some(Os::Linux), dirs: linux("/h"), user_config: Some(br#"{"log":"error"}"#.to_vec()), ..Inputs::default() });
        assert_eq!((warn.level, warn.stderr_level, warn.file.is_some()), (Level::Error, Level::Warn, true));
        let off = plan(&Inputs { os: Some(Os::Linux), dirs: linux("/h"), user_config: Some(br#"{"log":"off"}"#.to_vec()), ..Inputs::default() });
        assert_eq!((off.level, &off.file), (Level::Off, &None));
    }

    #[test]
    fn the_machine_policy_wins_over_the_customer() {
        let p = plan(&Inputs {
            os: Some(Os::Linux),
            dirs: linux("/home/u"),
            policy: Some(("/etc/kagi/policy.json".into(), "debug".into())),
            user_config: Some(br#"{"log":"off"}"#.to_vec()),
            ..Inputs::default()
        });
        assert_eq!(p.level, Level::Debug);
        assert!(p.source.contains("/etc/kagi/policy.json"), "{}", p.source);
        let p = plan(&Inputs {
            os: Some(Os::Linux),
            dirs: linux("/home/u"),
            policy: Some(("/etc/kagi/policy.json".into(), "off".into())),
            user_config: Some(br#"{"log":"info"}"#.to_vec()),
            ..Inputs::default()
        });
        assert_eq!((p.level, &p.file), (Level::Off, &None));
    }

    #[test]
    fn settings_that_cannot_be_read_are_ignored_and_said() {
        for bad in [&br#"{"log":"verbose"}"#[..], b"{", br#"{"log":"info","file":"/tmp/x"}"#, br#"{"log":3}"#] {
            let p = plan(&Inputs { os: Some(Os::Linux), dirs: linux("/h"), user_config: Some(bad.to_vec()), ..Inputs::default() });
            assert_eq!((p.level, &p.file), (Level::Off, &None), "{}", String::from_utf8_lossy(bad));
            assert_eq!(p.problems.len(), 1, "{p:?}");
            assert!(p.problems[0].contains("/h/.config/kagi/host.json"), "{p:?}");
        }
        // A policy value not understood: the customer's setting applies, and the policy is named.
        let p = plan(&Inputs {
            os: Some(Os::Linux),
            dirs: linux("/h"),
            policy: Some(("/etc/kagi/policy.json".into(), "loud".into())),
            user_config: Some(br#"{"log":"info"}"#.to_vec()),
            ..Inputs::default()
        });
        assert_eq!(p.level, Level::Info);
        assert!(p.problems[0].contains("machine policy /etc/kagi/policy.json"), "{p:?}");
        // No setting at all in the file: nothing to say.
        let p = plan(&Inputs { os: Some(Os::Linux), dirs: linux("/h"), user_config: Some(b"{}".to_vec()), ..Inputs::default() });
        assert!(p.problems.is_empty() && p.level == Level::Off);
    }

    #[test]
    fn a_tests_log_file_is_kept_as_is_at_info() {
        let p = plan(&Inputs { os: Some(Os::Linux), dirs: linux("/h"), test_file: Some("/tmp/k.log".into()), ..Inputs::default() });
        assert_eq!((p.level, p.file), (Level::Info, Some((PathBuf::from("/tmp/k.log"), false))));
        let p = plan(&Inputs {
            os: Some(Os::Linux),
            dirs: linux("/h"),
            test_file: Some("/tmp/k.log".into()),
            user_config: Some(br#"{"log":"debug"}"#.to_vec()),
            ..Inputs::default()
        });
        assert_eq!((p.level, p.file), (Level::Debug, Some((PathBuf::from("/tmp/k.log"), false))));
    }
}
