//! What this PC read from its tokens in earlier host runs: their retired slots' certificates,
//! kept on disk so that a host started for one log-on need not read certificates a token
//! already handed over (issue 13).
//!
//! Only objects any program may read without the PIN are kept (SP 800-73-4 Part 1 Table 2:
//! read rule "always"): nothing secret, the same bytes the token gives to every program on the
//! PC. Records are filed by the token's Key History answer (§3.3.3): a file named by its
//! SHA-256 holds the last [`TOKENS_PER_FILE`] tokens seen with that answer, newest first. The
//! files live in the user's cache directory (`$XDG_CACHE_HOME/kagi/tokens`, else
//! `~/.cache/kagi/tokens`; on Windows `%LOCALAPPDATA%\Kagi\tokens`), created 0600 in a 0700
//! directory on Unix.
//!
//! A record is only a candidate. The token layer (`token/recall.rs`) uses one when the token's
//! Key History answers exactly as filed and GET METADATA shows every one of the bank's
//! certificates in it still beside its own key, and checks the token's signature against the
//! certificate before anything leaves the host; otherwise it reads the token. This module only
//! reads and writes the records.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::card::cache::CardCache;
use crate::piv::objects::TAG_KEY_HISTORY;

/// A file larger than this is not read (4 tokens × 20 certificates of a few KB fit easily).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Format version written in every file; another version is ignored (the token is read).
const VERSION: u32 = 2;

/// Tokens kept per Key History answer (several tokens used on one PC often answer alike).
pub const TOKENS_PER_FILE: usize = 4;

/// The retired slots' certificate answers of one token, by object tag (`5FC10D`…`5FC120`,
/// hex); `None` for `6A82`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    certificates: BTreeMap<String, Option<String>>,
}

/// One file: the Key History answer it is filed under, and the tokens seen with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RecordFile {
    version: u32,
    key_history: Option<String>,
    tokens: Vec<TokenRecord>,
}

impl TokenRecord {
    /// What `cache` holds of a token, filed under its Key History answer: `None` until the
    /// Key History was read (the retired slots are read after it).
    pub fn of(cache: &CardCache) -> Option<(Option<Vec<u8>>, TokenRecord)> {
        let key_history = cache.object(TAG_KEY_HISTORY)?.map(<[u8]>::to_vec);
        let certificates = cache
            .remembered_objects()
            .filter(|(t, _)| *t != TAG_KEY_HISTORY)
            .map(|(t, v)| (format!("{t:06X}"), v.map(hex::encode)))
            .collect();
        Some((key_history, TokenRecord { certificates }))
    }

    /// The recorded certificate answers, by tag. Entries that do not decode are skipped (they
    /// are then read from the token).
    pub fn certificates(&self) -> impl Iterator<Item = (u32, Option<Vec<u8>>)> + '_ {
        self.certificates.iter().filter_map(|(t, v)| {
            let tag = u32::from_str_radix(t, 16).ok().filter(|t| matches!(t, 0x5FC10D..=0x5FC120))?;
            match v {
                None => Some((tag, None)),
                Some(h) => hex::decode(h).ok().map(|d| (tag, Some(d))),
            }
        })
    }
}

/// Where records live; no directory disables them.
#[derive(Debug, Clone, Default)]
pub struct CertMemory {
    dir: Option<PathBuf>,
}

impl CertMemory {
    /// The user's default directory (see the module doc), from this process's environment.
    pub fn from_env() -> CertMemory {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        CertMemory {
            dir: default_dir(var("XDG_CACHE_HOME"), var("HOME"), var("LOCALAPPDATA"), cfg!(windows)),
        }
    }

    /// Records in `dir` (tests).
    pub fn in_dir(dir: &Path) -> CertMemory {
        CertMemory { dir: Some(dir.to_owned()) }
    }

    /// No records at all.
    pub fn none() -> CertMemory {
        CertMemory { dir: None }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn path(&self, key_history: Option<&[u8]>) -> Option<PathBuf> {
        let mut h = Sha256::new();
        match key_history {
            Some(kh) => h.update([&[1u8][..], kh].concat()),
            None => h.update([0u8]),
        }
        Some(self.dir.as_ref()?.join(format!("{}.json", hex::encode(h.finalize()))))
    }

    fn read(&self, key_history: Option<&[u8]>) -> Option<RecordFile> {
        let path = self.path(key_history)?;
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
            return None;
        }
        let f: RecordFile = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        (f.version == VERSION && f.key_history == key_history.map(hex::encode)).then_some(f)
    }

    /// Removes every record and the directory (a user uninstall). Returns what was removed.
    pub fn forget_all(&self) -> Vec<PathBuf> {
        let Some(dir) = self.dir.as_deref() else { return Vec::new() };
        let mut removed = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let ours = p.extension().is_some_and(|x| x == "json") || e.file_name().to_string_lossy().starts_with('.');
            if ours && e.file_type().is_ok_and(|t| t.is_file()) && std::fs::remove_file(&p).is_ok() {
                removed.push(p);
            }
        }
        // Left alone when something else is in it; so is Kagi's directory above it (Linux:
        // `~/.cache/kagi`), which goes too when that leaves it empty.
        if std::fs::remove_dir(dir).is_ok() {
            removed.push(dir.to_path_buf());
            if let Some(parent) = dir.parent().filter(|p| p.file_name().is_some_and(|n| n == "kagi")) {
                if std::fs::remove_dir(parent).is_ok() {
                    removed.push(parent.to_path_buf());
                }
            }
        }
        removed
    }

    /// The tokens seen with this Key History answer, newest first.
    pub fn recall(&self, key_history: Option<&[u8]>) -> Vec<TokenRecord> {
        self.read(key_history).map(|f| f.tokens).unwrap_or_default()
    }

    /// Keeps `record` first among the tokens filed under `key_history` (unless it already is
    /// first). Failures are logged, never fatal: the next host run reads the token instead.
    pub fn keep(&self, key_history: Option<&[u8]>, record: &TokenRecord) {
        let Some(path) = self.path(key_history) else { return };
        let mut tokens = self.recall(key_history);
        if tokens.first() == Some(record) {
            return;
        }
        tokens.retain(|t| t != record);
        tokens.insert(0, record.clone());
        tokens.truncate(TOKENS_PER_FILE);
        let file = RecordFile { version: VERSION, key_history: key_history.map(hex::encode), tokens };
        if let Err(e) = write_private(&path, &serde_json::to_vec(&file).unwrap_or_default()) {
            crate::log::info(&format!("token record not kept: {e}"));
        }
    }
}

/// `$XDG_CACHE_HOME/kagi/tokens` (absolute only, as the XDG spec says), else
/// `$HOME/.cache/kagi/tokens`; on Windows `%LOCALAPPDATA%\Kagi\tokens`.
pub fn default_dir(xdg_cache: Option<OsString>, home: Option<OsString>, local_app_data: Option<OsString>, windows: bool) -> Option<PathBuf> {
    if windows {
        return Some(crate::install::paths::windows_data_dir(Path::new(&local_app_data?)).join("tokens"));
    }
    let base = match xdg_cache.map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(p) => p,
        None => PathBuf::from(home?).join(".cache"),
    };
    Some(base.join("kagi").join("tokens"))
}

/// Writes `data` to `path` through a new private file renamed into place (readers never see
/// half a record; an existing symlink at `path` is replaced, not followed).
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("no directory"))?;
    create_private_dir(dir)?;
    let tmp = dir.join(format!(".{}.{}", std::process::id(), path.file_name().and_then(|n| n.to_str()).unwrap_or("record")));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let _ = std::fs::remove_file(&tmp);
    let mut f = opts.open(&tmp)?;
    let written = f.write_all(data).and_then(|()| f.sync_all());
    drop(f);
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_with(kh: Option<Option<&[u8]>>, certs: &[(u32, Option<&[u8]>)]) -> CardCache {
        let mut c = CardCache::new();
        if let Some(k) = kh {
            c.store_object(TAG_KEY_HISTORY, k);
        }
        for (t, v) in certs {
            c.store_object(*t, *v);
        }
        // Never remembered: 9A's certificate (another use of the token) and the CHUID.
        c.store_object(0x5FC105, Some(b"company cert"));
        c.store_object(0x5FC102, Some(b"chuid"));
        c
    }

    fn record(kh: Option<&[u8]>, cert: &[u8]) -> (Option<Vec<u8>>, TokenRecord) {
        TokenRecord::of(&cache_with(Some(kh), &[(0x5FC10D, Some(cert)), (0x5FC10E, None)])).unwrap()
    }

    #[test]
    fn a_record_needs_the_key_history_and_holds_retired_slots_only() {
        assert!(TokenRecord::of(&cache_with(None, &[(0x5FC10D, Some(b"c1"))])).is_none());
        let (kh, r) = record(Some(b"kh"), b"c1");
        assert_eq!(kh.as_deref(), Some(&b"kh"[..]));
        let certs: Vec<_> = r.certificates().collect();
        assert_eq!(certs, vec![(0x5FC10D, Some(b"c1".to_vec())), (0x5FC10E, None)]);
    }

    #[test]
    fn records_are_filed_by_key_history_newest_first_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let m = CertMemory::in_dir(&dir.path().join("tokens"));
        assert!(m.recall(Some(b"kh")).is_empty());
        let (_, a) = record(Some(b"kh"), b"token A");
        m.keep(Some(b"kh"), &a);
        assert_eq!(m.recall(Some(b"kh")), vec![a.clone()]);
        assert!(m.recall(Some(b"other")).is_empty());
        assert!(m.recall(None).is_empty(), "no Key History is its own file");
        let (_, b) = record(Some(b"kh"), b"token B");
        m.keep(Some(b"kh"), &b);
        m.keep(Some(b"kh"), &a);
        assert_eq!(m.recall(Some(b"kh")), vec![a.clone(), b.clone()], "the last one seen first, once");
        for i in 0..10u8 {
            m.keep(Some(b"kh"), &record(Some(b"kh"), &[i]).1);
        }
        assert_eq!(m.recall(Some(b"kh")).len(), TOKENS_PER_FILE);
        m.keep(None, &a);
        assert_eq!(m.forget_all().len(), 3, "two files and the directory");
        assert!(!dir.path().join("tokens").exists());
        m.keep(Some(b"kh"), &a);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let files: Vec<_> = std::fs::read_dir(dir.path().join("tokens")).unwrap().map(|e| e.unwrap()).collect();
            assert_eq!(files.len(), 1, "no temporary file left: {files:?}");
            assert_eq!(files[0].metadata().unwrap().permissions().mode() & 0o777, 0o600);
            let d = std::fs::metadata(dir.path().join("tokens")).unwrap();
            assert_eq!(d.permissions().mode() & 0o777, 0o700);
        }
    }

    #[test]
    fn a_damaged_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let m = CertMemory::in_dir(dir.path());
        let (_, r) = record(None, b"c");
        m.keep(None, &r);
        let f = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        std::fs::write(&f, b"{\"version\":2,").unwrap();
        assert!(m.recall(None).is_empty());
        std::fs::write(&f, b"{\"version\":1,\"keyHistory\":null,\"tokens\":[]}").unwrap();
        assert!(m.recall(None).is_empty(), "another format version");
        m.keep(None, &r);
        assert_eq!(m.recall(None), vec![r]);
    }

    #[test]
    fn default_directories() {
        let d = |x: Option<&str>, h: Option<&str>, l: Option<&str>, w| default_dir(x.map(Into::into), h.map(Into::into), l.map(Into::into), w);
        assert_eq!(d(None, Some("/home/u"), None, false), Some(PathBuf::from("/home/u/.cache/kagi/tokens")));
        assert_eq!(d(Some("/x/c"), Some("/home/u"), None, false), Some(PathBuf::from("/x/c/kagi/tokens")));
        assert_eq!(d(Some("rel"), Some("/home/u"), None, false), Some(PathBuf::from("/home/u/.cache/kagi/tokens")));
        assert_eq!(d(None, None, None, false), None);
        assert_eq!(d(None, None, None, true), None);
        assert!(d(None, Some("/home/u"), Some("C:\\Users\\u\\AppData\\Local"), true).unwrap().ends_with("tokens"));
    }
}
