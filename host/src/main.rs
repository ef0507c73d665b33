//! `kagi-host`: launched by the browser as a native messaging host.
//!
//! Chrome/Edge pass the calling extension's origin as the first argument, Firefox the manifest
//! path and the add-on id. Anything but Kagi's own extension is refused before a byte is read.
//! Any other arguments are a command (`install`, `uninstall`, `doctor`, `--help`: `cli.rs`).
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use kagi_host::card::pcsc_backend;
use kagi_host::nm::{self, Incoming};
use kagi_host::policy::Policy;
use kagi_host::service::{oversize_reply, Service};
use kagi_host::token::Tokens;
use kagi_host::log;
use kagi_proto::ids::Caller;
use kagi_proto::{Hello, Outgoing};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    // A browser's launch arguments are recognised before anything else, so no command-line
    // parser ever stands between the browser and the host; everything else is a command.
    let Some(caller) = Caller::from_args(&args) else {
        // Commands say what they do on the terminal; they hold no log file open (`uninstall`
        // removes it, which Windows refuses for an open file).
        log::init_commands();
        return kagi_host::cli::run(std::env::args_os());
    };
    // The policy and the customer's config decide where the log goes (log/config.rs).
    log::init();
    if !caller.is_kagi() {
        log::error(&format!("refusing caller {caller:?}: not Kagi's extension"));
        return ExitCode::from(3);
    }
    log::info(&format!("started by {caller:?}"));
    // Read once per connection (the browser starts a host per port): an administrator's change
    // applies from the next page that connects.
    let policy = Policy::system();
    match policy {
        Policy::Invalid { .. } => log::error(&policy.describe()),
        _ => log::info(&policy.describe()),
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            log::error(&format!("runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(policy)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(&format!("stdin/stdout: {e}"));
            ExitCode::FAILURE
        }
    }
}

async fn serve(policy: Policy) -> std::io::Result<()> {
    let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel();
    let writer = tokio::spawn(nm::write_frames(tokio::io::stdout(), out_rx));
    let service = Service::new(Tokens::new(), out_tx).with_policy(policy);
    service.send(Outgoing::Hello(Hello::current(VERSION)));

    // Reader and card changes: a blocking watcher thread feeds the event pump.
    let (ev_tx, mut ev_rx) = tokio::sync::mpsc::unbounded_channel();
    let watch_stop = pcsc_backend::WatchStop::new();
    {
        let stop = watch_stop.clone();
        std::thread::spawn(move || pcsc_backend::watch(ev_tx, &stop));
    }
    let events = {
        let service = service.clone();
        tokio::spawn(async move {
            while let Some(ev) = ev_rx.recv().await {
                service.reader_event(ev).await;
            }
        })
    };

    let mut frames = nm::stdin_frames()?;
    let mut in_flight = tokio::task::JoinSet::new();
    let result = loop {
        match frames.recv().await {
            Some(Ok(Some(Incoming::Frame(body)))) => {
                let service = service.clone();
                in_flight.spawn(async move { service.handle_frame(&body).await });
            }
            // Refused first (the reader thread skips the body meanwhile): the sender may be
            // waiting for an answer before sending the rest.
            Some(Ok(Some(Incoming::Oversize(len)))) => service.send(oversize_reply(len)),
            Some(Ok(None)) | None => break Ok(()),
            Some(Err(e)) => break Err(e),
        }
        while in_flight.try_join_next().is_some() {}
    };
    // The browser closed the port. Let card operations under way end cleanly (their replies go
    // nowhere) rather than cutting a PC/SC transaction in half, but do not linger.
    let _ = tokio::time::timeout(Duration::from_secs(10), async { while in_flight.join_next().await.is_some() {} }).await;
    // SCardCancel: the watcher's wait ends now, not at its next timeout.
    watch_stop.stop();
    events.abort();
    drop(service);
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
    log::info("browser closed the connection");
    result
}
