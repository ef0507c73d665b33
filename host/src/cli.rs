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

Environment:
  KAGI_LOG_FILE         also append the log to this file (the log always goes to stderr)

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

fn doctor_cmd(a: &DoctorArgs) -> ExitCode {
    let env = doctor::Env::detect(roots(&a.root), this_program());
    // Doctor only reads the token's public data.
    let mut tokens = Tokens::new();
    let report = doctor::run(&env, &mut tokens);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", report.render_text());
    }
    ExitCode::from(report.exit_code())
}
