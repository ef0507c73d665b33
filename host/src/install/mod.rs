//! `kagi-host install` / `uninstall`: register this binary as the native messaging host
//! `jp.kagi.host` with Chrome, Chromium, Edge and Firefox, for the user or system-wide.
//!
//! - Linux, macOS: a manifest file in each browser's directory ([`paths::manifest_dir`]).
//! - Windows: a manifest file next to the executable and a registry key per browser whose
//!   default value is that file's path ([`paths::registry_key`], code in `windows.rs`).
//!
//! Install is idempotent (an identical manifest is left alone). Uninstall removes a manifest
//! only when its content is exactly what install writes ([`manifest::is_ours`]), and removes the
//! directories install created (kept in a small record file), so nothing a user or another
//! program put there is touched. System paths are resolved under a root (`/` normally, a temp
//! directory in tests: `--root` or `KAGI_INSTALL_ROOT`) and user paths under `$HOME`.

pub mod manifest;
pub mod paths;
#[cfg(windows)]
pub mod windows;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use manifest::HostManifest;
use paths::{Browser, Os, Roots, Scope};

/// What to install or uninstall, and where.
#[derive(Debug, Clone)]
pub struct Options {
    pub os: Os,
    pub scope: Scope,
    pub browsers: Vec<Browser>,
    pub roots: Roots,
    /// The host executable the manifests point at (absolute).
    pub host_path: PathBuf,
    /// Keep a record of created directories (off when staging a package tree, where the package
    /// manager owns the directories).
    pub record: bool,
}

/// What happened at one location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// A manifest was written (it was missing or different).
    Written,
    /// The manifest was already exactly this one.
    Unchanged,
    /// Kagi's manifest was removed.
    Removed,
    /// Nothing of Kagi's was there.
    Absent,
    /// A file with Kagi's host name is there but is not what install writes: left alone.
    LeftForeign,
}

/// One location's outcome, for the command's report.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub browser: Browser,
    pub scope: Scope,
    /// The manifest file (and on Windows the registry key) concerned.
    pub location: String,
    pub action: Action,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.action {
            Action::Written => "written / 書き込みました",
            Action::Unchanged => "already installed / 設定済みです",
            Action::Removed => "removed / 削除しました",
            Action::Absent => "not installed / ありません",
            Action::LeftForeign => "left alone: not written by Kagi / Kagi 以外のファイルのため残しました",
        };
        write!(f, "{:<8} {:<6} {}  {}", self.browser.name(), self.scope.name(), what, self.location)
    }
}

/// The manifest file for `browser` under these options.
pub fn manifest_file(opts: &Options, browser: Browser) -> Result<PathBuf> {
    let name = format!("{}.json", kagi_proto::ids::NATIVE_HOST_NAME);
    match paths::manifest_dir(opts.os, browser, opts.scope) {
        Some(base) => Ok(opts.roots.resolve(base).join(name)),
        None => {
            let dir = opts.host_path.parent().ok_or_else(|| Error::Setup(format!("{} has no directory", opts.host_path.display())))?;
            Ok(paths::windows_manifest_file(dir, browser.family()))
        }
    }
}

fn host_path_str(opts: &Options) -> Result<String> {
    let s = opts.host_path.to_str().ok_or_else(|| Error::Setup(format!("host path {:?} is not UTF-8", opts.host_path)))?;
    let absolute = opts.host_path.is_absolute() || s.starts_with('/');
    if !absolute {
        return Err(Error::Setup(format!("host path {s} must be absolute (browsers require it)")));
    }
    Ok(s.to_owned())
}

/// Writes the manifests for `opts.browsers`.
pub fn install(opts: &Options) -> Result<Vec<Outcome>> {
    let host = host_path_str(opts)?;
    let mut record = Record::load(opts)?;
    let mut out = Vec::new();
    for &browser in &opts.browsers {
        let file = manifest_file(opts, browser)?;
        let text = HostManifest::kagi(browser.family(), &host).render();
        let action = write_if_different(&file, &text, opts.record.then_some(&mut record))?;
        #[cfg(windows)]
        let action = {
            let reg = windows::register(paths::Hive::for_scope(opts.scope), browser, &file)?;
            if action == Action::Unchanged { reg } else { action }
        };
        out.push(Outcome { browser, scope: opts.scope, location: location(opts, browser, &file), action });
    }
    if opts.record {
        record.save(opts)?;
    }
    Ok(out)
}

/// Removes what [`install`] wrote for `opts.browsers`.
pub fn uninstall(opts: &Options) -> Result<Vec<Outcome>> {
    let mut record = Record::load(opts)?;
    let mut out = Vec::new();
    for &browser in &opts.browsers {
        let file = manifest_file(opts, browser)?;
        #[cfg(windows)]
        let unregistered = windows::unregister(paths::Hive::for_scope(opts.scope), browser, &file)?;
        #[cfg(windows)]
        let action = {
            // The file is shared by the Chromium family and by both scopes: remove it only
            // when no registration refers to it any more.
            if windows::referenced(&file) { unregistered } else { remove_if_ours(&file)?.max_with(unregistered) }
        };
        #[cfg(not(windows))]
        let action = remove_if_ours(&file)?;
        out.push(Outcome { browser, scope: opts.scope, location: location(opts, browser, &file), action });
    }
    record.remove_empty_dirs()?;
    let any_left = Browser::ALL
        .iter()
        .filter_map(|b| manifest_file(opts, *b).ok())
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| manifest::is_ours(&t)));
    if any_left {
        record.save(opts)?;
    } else {
        record.delete(opts)?;
    }
    Ok(out)
}

fn location(opts: &Options, browser: Browser, file: &Path) -> String {
    match opts.os {
        Os::Windows => format!(
            r"{}\{} -> {}",
            paths::Hive::for_scope(opts.scope).name(),
            paths::registry_key(browser),
            file.display()
        ),
        _ => file.display().to_string(),
    }
}

#[cfg(windows)]
impl Action {
    /// The more telling of two outcomes for one location (file and registry key).
    fn max_with(self, other: Action) -> Action {
        if self == Action::Absent {
            other
        } else {
            self
        }
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.display().to_string();
    move |source| Error::Install { op, path, source }
}

fn write_if_different(file: &Path, text: &str, record: Option<&mut Record>) -> Result<Action> {
    if std::fs::read_to_string(file).is_ok_and(|t| t == text) {
        return Ok(Action::Unchanged);
    }
    if let Some(dir) = file.parent() {
        create_dirs(dir, record)?;
    }
    // Write beside and rename, so a browser never reads half a manifest.
    let tmp = file.with_extension("json.kagi-tmp");
    std::fs::write(&tmp, text).map_err(io("writing", &tmp))?;
    set_readable(&tmp)?;
    std::fs::rename(&tmp, file).map_err(io("renaming into place", file))?;
    Ok(Action::Written)
}

/// Manifests must be readable by every user for a system install (umask may say otherwise).
fn set_readable(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(io("setting permissions of", path))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `dir` and missing ancestors, remembering each one created.
fn create_dirs(dir: &Path, mut record: Option<&mut Record>) -> Result<()> {
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(p) = d {
        if p.exists() {
            break;
        }
        missing.push(p.to_path_buf());
        d = p.parent();
    }
    for p in missing.iter().rev() {
        std::fs::create_dir(p).map_err(io("creating directory", p))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).map_err(io("setting permissions of", p))?;
        }
        if let Some(r) = record.as_deref_mut() {
            r.add_dir(p);
        }
    }
    Ok(())
}

fn remove_if_ours(file: &Path) -> Result<Action> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Action::Absent),
        Err(e) => return Err(io("reading", file)(e)),
    };
    if !manifest::is_ours(&text) {
        return Ok(Action::LeftForeign);
    }
    std::fs::remove_file(file).map_err(io("removing", file))?;
    Ok(Action::Removed)
}

/// Directories install created, so uninstall removes those (when empty) and no others.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    created_dirs: Vec<PathBuf>,
    /// Where the record lives (not serialised); `None` where no record is kept (Windows).
    #[serde(skip)]
    file: Option<PathBuf>,
}

const RECORD_NAME: &str = "install-record.json";

impl Record {
    fn path(opts: &Options) -> Option<PathBuf> {
        paths::record_dir(opts.os, opts.scope).map(|b| opts.roots.resolve(b).join(RECORD_NAME))
    }

    fn load(opts: &Options) -> Result<Record> {
        let Some(file) = Record::path(opts) else { return Ok(Record::default()) };
        let mut r = match std::fs::read_to_string(&file) {
            // A damaged record only costs us the removal of empty directories: start afresh.
            Ok(t) => serde_json::from_str(&t).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Record::default(),
            Err(e) => return Err(io("reading", &file)(e)),
        };
        r.file = Some(file);
        Ok(r)
    }

    fn add_dir(&mut self, p: &Path) {
        if !self.created_dirs.iter().any(|d| d == p) {
            self.created_dirs.push(p.to_path_buf());
        }
    }

    fn save(&mut self, opts: &Options) -> Result<()> {
        let Some(file) = self.file.clone() else { return Ok(()) };
        if self.created_dirs.is_empty() && !file.exists() {
            return Ok(());
        }
        if let Some(dir) = file.parent() {
            create_dirs(dir, Some(self))?;
        }
        let _ = opts;
        let text = serde_json::to_string_pretty(&*self).map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::write(&file, text + "\n").map_err(io("writing", &file))?;
        Ok(())
    }

    /// Removes recorded directories that are now empty, deepest first, except the record's own.
    fn remove_empty_dirs(&mut self) -> Result<()> {
        let own = self.file.as_ref().and_then(|f| f.parent()).map(Path::to_path_buf);
        let mut dirs: Vec<PathBuf> = self.created_dirs.iter().filter(|d| Some(*d) != own.as_ref()).cloned().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            match std::fs::remove_dir(&d) {
                Ok(()) => self.created_dirs.retain(|x| x != &d),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.created_dirs.retain(|x| x != &d),
                // Not empty (someone else's files, or another browser's manifest): keep it.
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// Removes the record and the directories created for it (when nothing else remains).
    fn delete(&mut self, _opts: &Options) -> Result<()> {
        let Some(file) = self.file.clone() else { return Ok(()) };
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("removing", &file)(e)),
        }
        let mut dirs = std::mem::take(&mut self.created_dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = std::fs::remove_dir(&d);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
