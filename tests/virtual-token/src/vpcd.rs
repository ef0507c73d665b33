//! The vpcd wire protocol (vsmartcard's virtual reader driver): the card connects to the
//! reader's TCP port; every message is a 2-byte big-endian length and a payload. A 1-byte
//! payload is a control message (00 power off, 01 power on, 02 reset, 04 get ATR);
//! anything longer is a command APDU, answered with a response APDU.

use crate::card::{self, Card};
use crate::control::{Armed, Cut};
use crate::counter::Counter;
use crate::latency::Latency;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Base TCP port of vpcd; reader `n` ("Virtual PCD 00 0n") listens on `BASE_PORT + n`.
pub const BASE_PORT: u16 = 35963;

const CTRL_POWER_OFF: u8 = 0x00;
const CTRL_POWER_ON: u8 = 0x01;
const CTRL_RESET: u8 = 0x02;
const CTRL_GET_ATR: u8 = 0x04;

/// Why a session with vpcd ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// vpcd closed the connection (pcscd stopped).
    Closed,
    /// `--fail-after` was reached: the token is "pulled" in the middle of an operation.
    FailAfter,
}

/// Options of a session.
pub struct SessionOpts {
    /// Stop (without answering) when this many APDUs have been answered and another arrives.
    pub fail_after: Option<u64>,
    /// The same, armed at run time through stdin (`control.rs`), counted from the arming.
    pub armed: Armed,
    /// Log every APDU and response to stderr.
    pub verbose: bool,
    /// Wait before each response (the latency model; zero: answer at once).
    pub latency: Latency,
}

/// Connects to vpcd, retrying until `timeout` has passed (vpcd may not be up yet).
/// Sets TCP_NODELAY and TCP_QUICKACK: vpcd writes length and body separately, and without
/// them every exchange waits for a delayed ACK (~40 ms).
pub fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(20);
    loop {
        match TcpStream::connect((host, port)) {
            Ok(s) => {
                s.set_nodelay(true)?;
                quickack(&s);
                return Ok(s);
            }
            Err(e) if Instant::now() + delay > deadline => return Err(e),
            Err(_) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(250));
            }
        }
    }
}

/// Linux resets TCP_QUICKACK on its own, so it is set again after every read.
fn quickack(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_tcp_quickack(true);
}

fn read_msg(s: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match s.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf)?;
    quickack(s);
    Ok(Some(buf))
}

fn write_msg(s: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(io::Error::other)?;
    let mut frame = Vec::with_capacity(payload.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    s.write_all(&frame)?;
    quickack(s);
    Ok(())
}

/// Serves one connection until vpcd closes it or `fail_after` triggers. With a counter, each
/// exchange is counted before its response is sent (see `counter.rs`); with a latency model,
/// the response leaves `latency.cost(..)` after the command arrived.
pub fn serve(s: &mut TcpStream, card: &mut Card, opts: &SessionOpts, counter: &mut Option<Counter>) -> io::Result<End> {
    let mut apdus: u64 = 0;
    while let Some(msg) = read_msg(s)? {
        let received = Instant::now();
        match msg.as_slice() {
            [] => {}
            [CTRL_POWER_OFF] | [CTRL_POWER_ON] | [CTRL_RESET] => {
                if opts.verbose {
                    eprintln!("kagi-vtoken: control {:02x}", msg[0]);
                }
                card.reset();
                if let Some(c) = counter {
                    c.reset()?;
                }
            }
            [CTRL_GET_ATR] => write_msg(s, &card::atr())?,
            [other] => eprintln!("kagi-vtoken: unknown control message {other:02x}"),
            apdu => {
                if opts.fail_after.is_some_and(|n| apdus >= n) {
                    eprintln!("kagi-vtoken: --fail-after {apdus} reached, dropping the connection");
                    return Ok(End::FailAfter);
                }
                let cut = opts.armed.take_one();
                let head = match apdu {
                    [cla, ins, ..] => format!("CLA {cla:02X} INS {ins:02X}"),
                    _ => "short".to_string(),
                };
                if cut == Cut::Before {
                    eprintln!("kagi-vtoken: armed cut at APDU {apdus} ({head}) before executing it, dropping the connection");
                    return Ok(End::FailAfter);
                }
                if cut == Cut::PowerLoss {
                    let kept = card.power_loss(apdu);
                    eprintln!("kagi-vtoken: armed cut at APDU {apdus} ({head}) power lost while executing it ({kept}), dropping the connection");
                    return Ok(End::FailAfter);
                }
                apdus += 1;
                let resp = card.process(apdu);
                if cut == Cut::After {
                    eprintln!("kagi-vtoken: armed cut at APDU {} ({head}) after executing it, dropping the connection", apdus - 1);
                    return Ok(End::FailAfter);
                }
                if opts.verbose {
                    eprintln!("kagi-vtoken: > {}\nkagi-vtoken: < {}", hex::encode(apdu), hex::encode(&resp));
                }
                if let Some(c) = counter {
                    c.apdu(apdu, resp.len())?;
                }
                if !opts.latency.is_zero() {
                    let due = received + opts.latency.cost(apdu.len(), resp.len());
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
                write_msg(s, &resp)?;
            }
        }
    }
    Ok(End::Closed)
}
