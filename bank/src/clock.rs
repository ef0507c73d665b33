//! The bank's notion of "now", injectable so the renewal window can be tested at its edges and
//! the demo can be run "as if" months later (`serve --clock-offset-days`).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The system clock shifted by a whole number of days (0 for real use).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    pub offset_days: i64,
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        shift(SystemTime::now(), self.offset_days * 86_400)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn new(at: SystemTime) -> Self {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: SystemTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `t` moved by `secs` seconds (either way).
pub fn shift(t: SystemTime, secs: i64) -> SystemTime {
    let d = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        t + d
    } else {
        t.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// Seconds since the Unix epoch, as stored in the database.
pub fn unix(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

pub fn from_unix(secs: i64) -> SystemTime {
    shift(SystemTime::UNIX_EPOCH, secs)
}
