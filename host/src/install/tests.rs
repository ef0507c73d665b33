//! Install / uninstall into a temporary root and home, for every browser and scope.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;

struct Sandbox {
    _dir: tempfile::TempDir,
    roots: Roots,
}

fn sandbox() -> Sandbox {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home/u");
    std::fs::create_dir_all(&home).unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    Sandbox { roots: Roots { home, root }, _dir: dir }
}

fn opts(s: &Sandbox, os: Os, scope: Scope, browsers: &[Browser]) -> Options {
    Options {
        os,
        scope,
        browsers: browsers.to_vec(),
        roots: s.roots.clone(),
        host_path: PathBuf::from("/opt/kagi/bin/kagi-host"),
        record: true,
    }
}

/// Every file and directory under `p`, relative.
fn tree(p: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap().path();
            out.insert(e.strip_prefix(p).unwrap().to_path_buf());
            if e.is_dir() {
                stack.push(e);
            }
        }
    }
    out
}

fn both_trees(s: &Sandbox) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
    (tree(&s.roots.home), tree(&s.roots.root))
}

#[test]
fn install_then_uninstall_every_browser_and_scope_on_linux_and_macos() {
    for os in [Os::Linux, Os::MacOs] {
        for scope in [Scope::User, Scope::System] {
            for browser in Browser::ALL {
                let s = sandbox();
                let before = both_trees(&s);
                let o = opts(&s, os, scope, &[browser]);
                let out = install(&o).unwrap();
                assert_eq!(out.len(), 1);
                assert_eq!(out[0].action, Action::Written, "{os:?} {scope:?} {browser:?}");
                let file = manifest_file(&o, browser).unwrap();
                let expected_dir = s.roots.resolve(paths::manifest_dir(os, browser, scope).unwrap());
                assert_eq!(file, expected_dir.join("jp.kagi.host.json"));
                let m = HostManifest::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
                assert_eq!(m.path, "/opt/kagi/bin/kagi-host");
                assert!(m.problems(browser.family()).is_empty());
                // Only the scope's side was touched.
                match scope {
                    Scope::User => assert_eq!(tree(&s.roots.root), before.1),
                    Scope::System => assert_eq!(tree(&s.roots.home), before.0),
                }
                // Idempotent.
                assert_eq!(install(&o).unwrap()[0].action, Action::Unchanged);
                let out = uninstall(&o).unwrap();
                assert_eq!(out[0].action, Action::Removed);
                assert_eq!(both_trees(&s), before, "{os:?} {scope:?} {browser:?}: uninstall left something");
                assert_eq!(uninstall(&o).unwrap()[0].action, Action::Absent);
            }
        }
    }
}

#[test]
fn install_all_then_uninstall_all_leaves_nothing() {
    let s = sandbox();
    let before = both_trees(&s);
    for scope in [Scope::User, Scope::System] {
        let o = opts(&s, Os::Linux, scope, &Browser::ALL);
        assert!(install(&o).unwrap().iter().all(|x| x.action == Action::Written));
    }
    for scope in [Scope::User, Scope::System] {
        let o = opts(&s, Os::Linux, scope, &Browser::ALL);
        assert!(uninstall(&o).unwrap().iter().all(|x| x.action == Action::Removed));
    }
    assert_eq!(both_trees(&s), before);
}

#[test]
fn uninstall_keeps_what_others_put_there() {
    let s = sandbox();
    // The browser's directory exists already, with another host's manifest.
    let dir = s.roots.home.join(".config/google-chrome/NativeMessagingHosts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("com.example.other.json"), "{}").unwrap();
    let o = opts(&s, Os::Linux, Scope::User, &[Browser::Chrome, Browser::Firefox]);
    let before = both_trees(&s);
    install(&o).unwrap();
    uninstall(&o).unwrap();
    assert_eq!(both_trees(&s), before);
    assert!(dir.join("com.example.other.json").exists());
}

#[test]
fn a_hand_edited_manifest_is_left_alone() {
    let s = sandbox();
    let o = opts(&s, Os::Linux, Scope::User, &[Browser::Chromium]);
    install(&o).unwrap();
    let file = manifest_file(&o, Browser::Chromium).unwrap();
    let edited = std::fs::read_to_string(&file).unwrap().replace("\"stdio\"", "\"stdio\" ");
    std::fs::write(&file, &edited).unwrap();
    assert_eq!(uninstall(&o).unwrap()[0].action, Action::LeftForeign);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), edited);
}

#[test]
fn reinstall_with_another_path_replaces_and_uninstall_still_removes() {
    let s = sandbox();
    let mut o = opts(&s, Os::Linux, Scope::System, &[Browser::Edge]);
    install(&o).unwrap();
    o.host_path = PathBuf::from("/usr/bin/kagi-host");
    assert_eq!(install(&o).unwrap()[0].action, Action::Written);
    let file = manifest_file(&o, Browser::Edge).unwrap();
    assert!(std::fs::read_to_string(&file).unwrap().contains("/usr/bin/kagi-host"));
    // A manifest from an earlier install at another path is still recognised as Kagi's.
    o.host_path = PathBuf::from("/somewhere/else");
    assert_eq!(uninstall(&o).unwrap()[0].action, Action::Removed);
}

#[test]
fn partial_uninstall_keeps_the_other_browsers() {
    let s = sandbox();
    install(&opts(&s, Os::Linux, Scope::User, &Browser::ALL)).unwrap();
    uninstall(&opts(&s, Os::Linux, Scope::User, &[Browser::Firefox])).unwrap();
    let o = opts(&s, Os::Linux, Scope::User, &[Browser::Chrome]);
    assert!(manifest_file(&o, Browser::Chrome).unwrap().exists());
    assert!(!manifest_file(&o, Browser::Firefox).unwrap().exists());
    let before = tree(&s.roots.home);
    assert!(before.contains(Path::new(".local/share/kagi/install-record.json")));
    uninstall(&opts(&s, Os::Linux, Scope::User, &Browser::ALL)).unwrap();
    assert!(tree(&s.roots.home).is_empty());
}

#[test]
fn relative_host_path_is_refused() {
    let s = sandbox();
    let mut o = opts(&s, Os::Linux, Scope::User, &[Browser::Chrome]);
    o.host_path = PathBuf::from("kagi-host");
    assert!(matches!(install(&o), Err(Error::Setup(_))));
}

#[test]
fn system_manifests_are_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let s = sandbox();
    let o = opts(&s, Os::Linux, Scope::System, &[Browser::Chromium]);
    install(&o).unwrap();
    let mode = std::fs::metadata(manifest_file(&o, Browser::Chromium).unwrap()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn staging_without_record_writes_only_manifests() {
    let s = sandbox();
    let mut o = opts(&s, Os::Linux, Scope::System, &Browser::ALL);
    o.record = false;
    install(&o).unwrap();
    let files: Vec<_> = tree(&s.roots.root).into_iter().filter(|p| s.roots.root.join(p).is_file()).collect();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(files.iter().all(|f| f.ends_with("jp.kagi.host.json")));
}
