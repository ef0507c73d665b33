//! The log file: the customer's alone (created `0600`), never reached through a symbolic link,
//! and bounded: past [`MAX_LOG_BYTES`] `host.log` becomes `host.log.1` (the previous `.1` becomes
//! `.2`, the one before goes), so the log takes at most three times that.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::config::LOG_NAME;

/// Size past which the log is rotated (at start, and while a host runs).
pub const MAX_LOG_BYTES: u64 = 1 << 20;
/// Rotated copies kept.
pub const OLD_LOGS: usize = 2;

/// Names of what earlier versions wrote on Windows whether or not anyone asked
/// (`%LOCALAPPDATA%\Kagi\kagi-host.log` and its one rotation).
pub const LEGACY_NAMES: [&str; 2] = ["kagi-host.log", "kagi-host.log.old"];

/// `host.log.<n>` beside `path`.
fn old(path: &Path, n: usize) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{n}"));
    path.with_file_name(name)
}

/// Shifts `path` → `.1` → `.2`; the oldest is replaced. Only regular files are moved: a link
/// planted at one of the names stays where it is (and the open that follows refuses it).
fn shift(path: &Path) {
    for n in (1..OLD_LOGS).rev() {
        if std::fs::symlink_metadata(old(path, n)).is_ok_and(|m| m.is_file()) {
            let _ = std::fs::rename(old(path, n), old(path, n + 1));
        }
    }
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        let _ = std::fs::rename(path, old(path, 1));
    }
}

/// An open log file that rotates itself.
pub struct LogFile {
    path: PathBuf,
    file: std::fs::File,
    written: u64,
    rotate: bool,
}

impl LogFile {
    /// Opens `path` for appending; with `rotate`, creates its directory and rotates a file
    /// already past the limit first.
    pub fn open(path: &Path, rotate: bool) -> std::io::Result<LogFile> {
        if rotate {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() > MAX_LOG_BYTES) {
                shift(path);
            }
        }
        let file = open_private(path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogFile { path: path.to_path_buf(), file, written, rotate })
    }

    /// Appends one line; rotates first when it would pass the limit. A failed reopen keeps
    /// writing to the file already open (the line is not lost for a rename that failed).
    pub fn write_line(&mut self, line: &[u8]) {
        if self.rotate && self.written + line.len() as u64 > MAX_LOG_BYTES && self.written > 0 {
            shift(&self.path);
            if let Ok(f) = open_private(&self.path) {
                self.file = f;
                self.written = 0;
            }
        }
        if self.file.write_all(line).is_ok() {
            self.written += line.len() as u64;
        }
    }
}

/// Unix: `O_NOFOLLOW` (a symbolic link as the last component fails with `ELOOP`) and mode
/// `0600` at creation; the mode of a file that was already there is set through the open
/// descriptor, so no other path is touched.
#[cfg(unix)]
pub fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
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
pub fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    let f = std::fs::OpenOptions::new().create(true).append(true).custom_flags(FILE_FLAG_OPEN_REPARSE_POINT).open(path)?;
    let meta = f.metadata()?;
    if meta.file_type().is_symlink() || !meta.is_file() {
        return Err(std::io::Error::other("the log path is a link"));
    }
    Ok(f)
}

/// Removes the log, its rotated copies and the files of earlier versions from `dir`, and `dir`
/// when that leaves it empty. Returns what was removed.
pub fn remove_files(dir: &Path) -> Vec<PathBuf> {
    let log = dir.join(LOG_NAME);
    let mut names: Vec<PathBuf> = vec![log.clone()];
    names.extend((1..=OLD_LOGS).map(|n| old(&log, n)));
    names.extend(LEGACY_NAMES.iter().map(|n| dir.join(n)));
    let mut removed = Vec::new();
    for f in names {
        if std::fs::remove_file(&f).is_ok() {
            removed.push(f);
        }
    }
    // Fails when something else is in it (left alone) or when it is not there.
    if std::fs::remove_dir(dir).is_ok() {
        removed.push(dir.to_path_buf());
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_log_is_private_and_never_reached_through_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("k.log");
        let mut f = LogFile::open(&log, false).unwrap();
        f.write_line(b"one\n");
        assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
        // A log someone left readable to others is narrowed.
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(LogFile::open(&log, false).unwrap());
        assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
        // A link at the log's path, to an existing file or to none: nothing is written there.
        let target = d.path().join("target.txt");
        std::fs::write(&target, "theirs").unwrap();
        let link = d.path().join("link.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(LogFile::open(&link, false).is_err());
        assert!(LogFile::open(&link, true).is_err(), "rotation does not follow it either");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "theirs");
        let dangling = d.path().join("dangling.log");
        std::os::unix::fs::symlink(d.path().join("new.txt"), &dangling).unwrap();
        assert!(LogFile::open(&dangling, false).is_err());
        assert!(!d.path().join("new.txt").exists(), "no file created through the link");
    }

    #[test]
    fn the_log_is_rotated_at_start_and_while_running_keeping_two_old_files() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state").join("kagi");
        let log = dir.join(LOG_NAME);
        // The directory is created.
        drop(LogFile::open(&log, true).unwrap());
        // Too big at start: rotated before the first line.
        std::fs::write(&log, vec![b'a'; MAX_LOG_BYTES as usize + 1]).unwrap();
        let mut f = LogFile::open(&log, true).unwrap();
        f.write_line(b"fresh\n");
        assert_eq!(std::fs::read(&log).unwrap(), b"fresh\n");
        assert_eq!(std::fs::metadata(dir.join("host.log.1")).unwrap().len(), MAX_LOG_BYTES + 1);
        // While running: lines past the limit go to a new file; the oldest copy goes.
        let line = vec![b'b'; 4096];
        let mut lines = 0;
        while !dir.join("host.log.2").exists() {
            f.write_line(&line);
            lines += 1;
            assert!(lines < 1000, "never rotated");
        }
        for _ in 0..(2 * MAX_LOG_BYTES as usize / line.len()) {
            f.write_line(&line);
        }
        drop(f);
        let total: u64 = ["host.log", "host.log.1", "host.log.2"].iter().map(|n| std::fs::metadata(dir.join(n)).unwrap().len()).sum();
        assert!(total <= 3 * MAX_LOG_BYTES, "{total}");
        assert!(!dir.join("host.log.3").exists());
        assert!(std::fs::metadata(&log).unwrap().len() <= MAX_LOG_BYTES);
        assert!(!std::fs::read(dir.join("host.log.2")).unwrap().contains(&b'a'), "the first file went");

        // Uninstall removes every one, the files of earlier versions, and the empty directory.
        std::fs::write(dir.join("kagi-host.log"), "old").unwrap();
        let removed = remove_files(&dir);
        assert_eq!(removed.len(), 5, "{removed:?}");
        assert!(!dir.exists());
        // Something else in the directory keeps it.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&log, "x").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        assert_eq!(remove_files(&dir), vec![log.clone()]);
        assert!(dir.join("notes.txt").exists());
    }
}
