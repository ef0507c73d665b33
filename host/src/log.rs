//! Logging to stderr (browsers put a host's stderr in their own log) and to a file: the one
//! `KAGI_LOG_FILE` names, else on Windows `%LOCALAPPDATA%\Kagi\kagi-host.log` (Chrome and Edge
//! on Windows drop a host's stderr unless started with `--enable-logging`, so support needs a
//! file there). Never to stdout: stdout carries frames only.
//!
//! The default file is kept small: past [`MAX_LOG_BYTES`] it becomes `kagi-host.log.old` (the
//! previous one is replaced) when the next host starts. `kagi-host uninstall --scope user`
//! removes both ([`remove_default_files`]).
//!
//! What goes in: codes, command and field names, the host's own words; never a value from a
//! request (a PIN sent as a number included: `kagi_proto::request` refuses without quoting
//! it). The file is created `0600` and never opened through a symbolic link ([`open`]).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The default log file's name in Kagi's data directory.
pub const LOG_NAME: &str = "kagi-host.log";
/// The previous log, after rotation.
pub const OLD_LOG_NAME: &str = "kagi-host.log.old";
/// Size past which the default log is rotated at start.
pub const MAX_LOG_BYTES: u64 = 1 << 20;

/// Where the log goes, from the environment's values: `KAGI_LOG_FILE` when set (as is), else on
/// Windows `<LOCALAPPDATA>\Kagi\kagi-host.log` (rotated; `true`), else nowhere.
pub fn log_path(kagi_log_file: Option<OsString>, local_app_data: Option<OsString>, windows: bool) -> Option<(PathBuf, bool)> {
    if let Some(f) = kagi_log_file.filter(|f| !f.is_empty()) {
        return Some((PathBuf::from(f), false));
    }
    if !windows {
        return None;
    }
    let base = local_app_data.filter(|d| !d.is_empty())?;
    Some((crate::install::paths::windows_data_dir(Path::new(&base)).join(LOG_NAME), true))
}

/// Opens the log for appending; a default log is rotated first when too big. The file is the
/// customer's alone (created `0600`; an existing one is narrowed to that) and never reached
/// through a symbolic link: a link planted at the log's path would otherwise make the host
/// append to, or create, a file of the planter's choosing.
fn open(path: &Path, rotate: bool) -> Option<std::fs::File> {
    if rotate {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok()?;
        }
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() > MAX_LOG_BYTES) {
            let _ = std::fs::rename(path, path.with_file_name(OLD_LOG_NAME));
        }
    }
    open_private(path).ok()
}

/// Unix: `O_NOFOLLOW` (a symbolic link as the last component fails with `ELOOP`) and mode
/// `0600` at creation; the mode of a file that was already there is set through the open
/// descriptor, so no other path is touched.
#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// Windows: `FILE_FLAG_OPEN_REPARSE_POINT` opens a symbolic link or junction itself instead of
/// its target; one found that way is refused. The file inherits the ACL of
/// `%LOCALAPPDATA%\Kagi` (the user, SYSTEM and administrators).
#[cfg(windows)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    let f = std::fs::OpenOptions::new().create(true).append(true).custom_flags(FILE_FLAG_OPEN_REPARSE_POINT).open(path)?;
    let meta = f.metadata()?;
    if meta.file_type().is_symlink() || !meta.is_file() {
        return Err(std::io::Error::other("the log path is a link"));
    }
    Ok(f)
}

fn file() -> Option<&'static std::sync::Mutex<std::fs::File>> {
    static FILE: OnceLock<Option<std::sync::Mutex<std::fs::File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let (path, rotate) = log_path(std::env::var_os("KAGI_LOG_FILE"), std::env::var_os("LOCALAPPDATA"), cfg!(windows))?;
        open(&path, rotate).map(std::sync::Mutex::new)
    })
    .as_ref()
}

/// Removes the default log files in `data_dir` (Kagi's `%LOCALAPPDATA%\Kagi`) and the directory
/// when that leaves it empty. Returns what was removed.
pub fn remove_default_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for name in [LOG_NAME, OLD_LOG_NAME] {
        let f = data_dir.join(name);
        if std::fs::remove_file(&f).is_ok() {
            removed.push(f);
        }
    }
    // Fails when something else is in it (left alone) or when it is not there.
    if std::fs::remove_dir(data_dir).is_ok() {
        removed.push(data_dir.to_path_buf());
    }
    removed
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_goes_where_the_environment_says() {
        // KAGI_LOG_FILE wins everywhere and is never rotated.
        assert_eq!(log_path(Some("/tmp/k.log".into()), Some(r"C:\Users\u\AppData\Local".into()), true), Some(("/tmp/k.log".into(), false)));
        assert_eq!(log_path(Some("/tmp/k.log".into()), None, false), Some(("/tmp/k.log".into(), false)));
        // Windows: %LOCALAPPDATA%\Kagi\kagi-host.log (the value as Windows sets it).
        let local = "/Users/u/AppData/Local";
        let (p, rotate) = log_path(None, Some(local.into()), true).unwrap();
        assert_eq!(p, Path::new(local).join("Kagi").join("kagi-host.log"));
        assert!(rotate);
        // Nowhere: Linux and macOS without KAGI_LOG_FILE, Windows without LOCALAPPDATA.
        assert_eq!(log_path(None, Some(local.into()), false), None);
        assert_eq!(log_path(None, None, true), None);
        assert_eq!(log_path(Some("".into()), Some("".into()), true), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_private_and_never_reached_through_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("k.log");
        let mut f = open(&log, false).unwrap();
        f.write_all(b"one\n").unwrap();
        assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
        // A log someone left readable to others is narrowed.
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open(&log, false).unwrap());
        assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
        // A link at the log's path, to an existing file or to none: nothing is written there.
        let target = d.path().join("target.txt");
        std::fs::write(&target, "theirs").unwrap();
        let link = d.path().join("link.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open(&link, false).is_none());
        assert!(open(&link, true).is_none(), "rotation does not follow it either");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "theirs");
        let dangling = d.path().join("dangling.log");
        std::os::unix::fs::symlink(d.path().join("new.txt"), &dangling).unwrap();
        assert!(open(&dangling, false).is_none());
        assert!(!d.path().join("new.txt").exists(), "no file created through the link");
    }

    #[test]
    fn a_big_default_log_is_rotated_and_uninstall_removes_both() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("Kagi");
        let log = data.join(LOG_NAME);
        drop(open(&log, true).unwrap());
        std::fs::write(&log, vec![b'x'; MAX_LOG_BYTES as usize + 1]).unwrap();
        let mut f = open(&log, true).unwrap();
        f.write_all(b"fresh\n").unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), b"fresh\n");
        assert_eq!(std::fs::metadata(data.join(OLD_LOG_NAME)).unwrap().len(), MAX_LOG_BYTES + 1);
        let removed = remove_default_files(&data);
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert!(!data.exists());
        // Something else in the directory keeps it.
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join(LOG_NAME), "x").unwrap();
        std::fs::write(data.join("notes.txt"), "mine").unwrap();
        assert_eq!(remove_default_files(&data), vec![data.join(LOG_NAME)]);
        assert!(data.join("notes.txt").exists());
    }
}
