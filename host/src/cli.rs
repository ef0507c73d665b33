//! The command line for people (and installers): `install`, `uninstall`, `doctor`, `--version`,
//! `--help`. `main.rs` checks for a browser's launch arguments first (`Caller::from_args`) and
//! only hands everything else to this parser, so a browser never meets clap.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::doctor;
use crate::install::{self, paths::Browser, paths::Os, paths::Roots, paths::Scope};
use crate::token::Tokens;

const AFTER_HELP: &str = "\
Browsers start this program themselves with these arguments (native messaging):
  kagi-host chrome-extension://<id>/ [--parent-window=N]   (Chrome, Chromium, Edge)
  kagi-host <manifest.json> <add-on id>                    (Firefox)

Log (warnings and errors go to stderr; a file only when asked for):
  {\"log\": \"info\"} in ~/.config/kagi/host.json (Windows %APPDATA%\\Kagi\\host.json), or \"log\" in
  the machine policy (/etc/kagi/policy.json; Windows HKLM\\Software\\Policies\\Kagi, value log),
  writes ~/.local/state/kagi/host.log (Windows %LOCALAPPDATA%\\Kagi\\host.log), rotated at 1 MiB.

Exit status of doctor: 0 no problem (warnings allowed), 1 problems found.";

#[derive(Debug, Parser)]
#[command(
    name = "kagi-host",
    version,
    about = "Kagi 管理ソフト: native messaging host for bank log-on with the certificate on a PIV USB token",
    after_help = AFTER_HELP,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register this program with the browsers (native messaging host manifests).
    Install(InstallArgs),
    /// Remove exactly what `install` wrote.
    Uninstall(InstallArgs),
    /// Check every link from the browser to the certificate and explain problems (ja/en).
    Doctor(DoctorArgs),
    /// Token administration for a branch that hands out tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Replace the factory management key with a random one stored on the token behind the
    /// PIN (what the first acquisition would do). Reads the PIN from the first line of standard
    /// input; a token still at the factory PIN keeps it unless a new PIN follows on the second.
    Init {
        /// The reader holding the token (default: the only token inserted).
        #[arg(long)]
        reader: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BrowserArg {
    Chrome,
    Chromium,
    Edge,
    Firefox,
    All,
}

#[derive(Debug, Args)]
struct InstallArgs {
    /// `user`: for the current user, no administrator rights needed; `system`: for all users.
    #[arg(long, value_enum, default_value = "user")]
    scope: Scope,
    /// Which browsers (repeatable).
    #[arg(long, value_enum, default_value = "all")]
    browser: Vec<BrowserArg>,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
    /// Put system paths under this directory (tests, package staging).
    #[arg(long, hide = true, env = "KAGI_INSTALL_ROOT")]
    root: Option<PathBuf>,
    /// The host path the manifests name (default: this program), for package staging.
    #[arg(long, hide = true)]
    host_path: Option<PathBuf>,
    /// Do not keep the record of created directories (the package manager owns them).
    #[arg(long, hide = true)]
    no_record: bool,
}

#[derive(Debug, Args)]
struct DoctorArgs {
    /// Machine-readable report for support desks.
    #[arg(long)]
    json: bool,
    /// Look for system paths under this directory (tests).
    #[arg(long, hide = true, env = "KAGI_INSTALL_ROOT")]
    root: Option<PathBuf>,
    /// The bank's CA certificate (PEM or DER), to check that bank's certificate on the token.
    /// Without it doctor names no bank and reads no certificate. Repeatable.
    #[arg(long = "issuer", value_name = "FILE")]
    issuers: Vec<PathBuf>,
}

/// Parses `args` (with argv[0]) and runs the command.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match cli.command {
        Command::Install(a) => install_cmd(&a, false),
        Command::Uninstall(a) => install_cmd(&a, true),
        Command::Doctor(a) => doctor_cmd(&a),
        Command::Token(TokenCommand::Init { reader }) => token_init_cmd(reader.as_deref()),
    }
}

/// `token init`: PIN (and an optional new PIN) from standard input, never from arguments
/// (they show in process lists).
fn token_init_cmd(reader: Option<&str>) -> ExitCode {
    let mut lines = std::io::stdin().lines();
    let mut next = || zeroize::Zeroizing::new(lines.next().and_then(|l| l.ok()).unwrap_or_default());
    let (pin, new_pin) = (next(), next());
    let run = || -> crate::Result<(String, bool)> {
        let pin = crate::piv::Pin::new(pin.trim())?;
        let new_pin = match new_pin.trim() {
            "" => None,
            p => {
                kagi_proto::Pin::new(p).check_new().map_err(|_| crate::Error::PinWeak)?;
                Some(crate::piv::Pin::new(p)?)
            }
        };
        Tokens::new().init_token(reader, &pin, new_pin.as_ref())
    };
    match run() {
        Ok((reader, true)) => {
            println!("初期設定しました / initialised: {reader} (management key stored on the token behind the PIN)");
            ExitCode::SUCCESS
        }
        Ok((reader, false)) => {
            println!("初期設定済みです / already initialised: {reader}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("初期設定できませんでした / token init failed: {} ({e})", e.code().as_str());
            ExitCode::FAILURE
        }
    }
}

fn home() -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var).filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// This program's absolute path, as the manifests must name it. Symlinks are resolved on Unix;
/// not on Windows, where canonical paths take the `\\?\` form browsers do not expect.
fn this_program() -> PathBuf {
    let exe = std::env::current_exe();
    #[cfg(unix)]
    let exe = exe.and_then(std::fs::canonicalize);
    exe.unwrap_or_else(|_| PathBuf::from("kagi-host"))
}

fn roots(root: &Option<PathBuf>) -> Roots {
    Roots { home: home().unwrap_or_default(), root: root.clone().unwrap_or_else(|| PathBuf::from("/")) }
}

fn install_cmd(a: &InstallArgs, remove: bool) -> ExitCode {
    if a.scope == Scope::User && home().is_none() {
        eprintln!("HOME が設定されていません / HOME is not set: cannot install for the user");
        return ExitCode::from(2);
    }
    let mut browsers: Vec<Browser> = Vec::new();
    for b in &a.browser {
        let add: &[Browser] = match b {
            BrowserArg::All => &Browser::ALL,
            BrowserArg::Chrome => &[Browser::Chrome],
            BrowserArg::Chromium => &[Browser::Chromium],
            BrowserArg::Edge => &[Browser::Edge],
            BrowserArg::Firefox => &[Browser::Firefox],
        };
        for x in add {
            if !browsers.contains(x) {
                browsers.push(*x);
            }
        }
    }
    let opts = install::Options {
        os: Os::current(),
        scope: a.scope,
        browsers,
        roots: roots(&a.root),
        host_path: a.host_path.clone().unwrap_or_else(this_program),
        record: !a.no_record,
    };
    let result = if remove { install::uninstall(&opts) } else { install::install(&opts) };
    match result {
        Ok(outcomes) => {
            if a.json {
                println!("{}", serde_json::to_string_pretty(&outcomes).unwrap_or_default());
            } else {
                for o in &outcomes {
                    println!("{o}");
                }
                if remove && a.scope == Scope::User {
                    for p in remove_user_data() {
                        println!("removed / 削除しました  {}", p.display());
                    }
                }
                if !remove {
                    println!("\n確認するには / to check: {} doctor", opts.host_path.display());
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let verb = if remove { "アンインストールに失敗しました / uninstall failed" } else { "インストールに失敗しました / install failed" };
            eprintln!("{verb}: {e}");
            if matches!(e, crate::Error::Install { ref source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied) {
                eprintln!("全ユーザー向け (--scope system) には管理者権限が必要です / --scope system needs administrator rights");
            }
            ExitCode::FAILURE
        }
    }
}

/// The bank's CA certificates named with `--issuer`, PEM or DER.
fn read_issuers(files: &[PathBuf]) -> crate::Result<Option<crate::issuer::BankCas>> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut ders = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| crate::Error::Setup(format!("{}: {e}", f.display())))?;
        ders.push(pem_or_der(&bytes).ok_or_else(|| crate::Error::Setup(format!("{}: not a PEM or DER certificate", f.display())))?);
    }
    crate::issuer::BankCas::from_wire(&kagi_proto::Issuers::from_der(ders)).map(Some)
}

/// The DER inside a PEM `CERTIFICATE` block, or the bytes themselves when they are DER.
fn pem_or_der(bytes: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    if bytes.first() == Some(&0x30) {
        return Some(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let body = text.split("-----BEGIN CERTIFICATE-----").nth(1)?.split("-----END CERTIFICATE-----").next()?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// What the host keeps for the user goes with a user uninstall: the token records
/// (`card/remembered.rs`) and the log files (`log/`: `host.log`, its rotated copies, and on
/// Windows the `kagi-host.log` of earlier versions), so the per-user MSI leaves nothing behind.
/// The customer's own config file (`host.json`) is theirs to keep.
fn remove_user_data() -> Vec<PathBuf> {
    let mut removed = crate::card::remembered::CertMemory::from_env().forget_all();
    removed.extend(crate::log::remove_user_files());
    removed
}

/// The machine as `diagnose` (over native messaging) checks it: the user's home, `/` as the
/// root (in debug builds the root `KAGI_INSTALL_ROOT` names, as `doctor --root` in tests; the
/// shipped release builds have no such lookup), this program.
pub fn machine_env() -> doctor::Env {
    #[cfg(debug_assertions)]
    let root = std::env::var_os("KAGI_INSTALL_ROOT").filter(|r| !r.is_empty()).map(PathBuf::from);
    #[cfg(not(debug_assertions))]
    let root = None;
    doctor::Env::detect(roots(&root), this_program())
}

fn doctor_cmd(a: &DoctorArgs) -> ExitCode {
    let env = doctor::Env::detect(roots(&a.root), this_program());
    let cas = match read_issuers(&a.issuers) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("--issuer: {e}");
            return ExitCode::from(2);
        }
    };
    // Doctor only reads the token's public data, and leaves no token record behind.
    let mut probe = doctor::TokenStatus { tokens: Tokens::with_memory(crate::card::remembered::CertMemory::none()), cas };
    let report = doctor::run(&env, &mut probe);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", report.render_text());
    }
    ExitCode::from(report.exit_code())
}

#[cfg(test)]
mod tests {
    use kagi_proto::ids::{chrome_origin, Caller, FIREFOX_EXTENSION_ID};

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    /// Chrome and Edge on Windows do not start the host directly: they run
    /// `cmd.exe /d /s /c ""<path from the manifest>" chrome-extension://<id>/ --parent-window=<hwnd>" < \\.\pipe\… > \\.\pipe\…`
    /// (Chromium `native_process_launcher_win.cc`), so the host's arguments after cmd's own
    /// parsing are the origin and `--parent-window=<decimal HWND>`; Firefox on Windows starts it
    /// directly with the manifest's full path and the add-on id. `main.rs` hands these to
    /// native messaging before clap sees anything: clap would reject `--parent-window`.
    #[test]
    fn windows_browser_launch_arguments_are_native_messaging() {
        for hwnd in ["0", "131844", "4294967295"] {
            let a = argv(&[&chrome_origin(), &format!("--parent-window={hwnd}")]);
            let c = Caller::from_args(&a).expect("a browser launch, not a command");
            assert!(c.is_kagi(), "{a:?}");
        }
        let ff = argv(&[r"C:\Program Files\Kagi\jp.kagi.host.firefox.json", FIREFOX_EXTENSION_ID]);
        assert!(Caller::from_args(&ff).is_some_and(|c| c.is_kagi()), "{ff:?}");
        let ff_user = argv(&[r"C:\Users\山田\AppData\Local\Programs\Kagi\jp.kagi.host.firefox.json", FIREFOX_EXTENSION_ID]);
        assert!(Caller::from_args(&ff_user).is_some_and(|c| c.is_kagi()), "{ff_user:?}");
    }

    #[test]
    fn commands_are_not_mistaken_for_a_browser_launch() {
        // What the per-user MSI's custom actions run, and what a support desk types.
        for cmd in [&["install", "--scope", "user"][..], &["uninstall", "--scope", "user"], &["doctor"], &["doctor", "--json"], &["--version"]] {
            assert_eq!(Caller::from_args(&argv(cmd)), None, "{cmd:?}");
        }
    }
}
