//! The server's notion of "now".
//!
//! Signature checks compare the request's date with this clock, so tests that replay requests
//! captured at a fixed date (the SDK vectors) pin it, and clock-skew tests shift it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How the server's clock is derived from the system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum ClockSetting {
    /// The system clock.
    #[default]
    System,
    /// The system clock shifted by `secs` (may be negative).
    Offset { secs: i64 },
    /// A frozen instant, in Unix seconds.
    Fixed { epoch_secs: i64 },
}

/// Lock-free clock readable from every request.
#[derive(Debug)]
pub struct Clock {
    // Encodes `ClockSetting` in two atomics so readers never block: `fixed == i64::MIN` means
    // "not fixed".
    fixed: AtomicI64,
    offset: AtomicI64,
}

const NOT_FIXED: i64 = i64::MIN;

impl Clock {
    pub fn new(setting: ClockSetting) -> Self {
        let clock = Clock {
            fixed: AtomicI64::new(NOT_FIXED),
            offset: AtomicI64::new(0),
        };
        clock.set(setting);
        clock
    }

    pub fn set(&self, setting: ClockSetting) {
        match setting {
            ClockSetting::System => {
                self.fixed.store(NOT_FIXED, Ordering::Relaxed);
                self.offset.store(0, Ordering::Relaxed);
            }
            ClockSetting::Offset { secs } => {
                self.fixed.store(NOT_FIXED, Ordering::Relaxed);
                self.offset.store(secs, Ordering::Relaxed);
            }
            ClockSetting::Fixed { epoch_secs } => {
                self.offset.store(0, Ordering::Relaxed);
                self.fixed.store(epoch_secs, Ordering::Relaxed);
            }
        }
    }

    pub fn setting(&self) -> ClockSetting {
        let fixed = self.fixed.load(Ordering::Relaxed);
        if fixed != NOT_FIXED {
            return ClockSetting::Fixed { epoch_secs: fixed };
        }
        match self.offset.load(Ordering::Relaxed) {
            0 => ClockSetting::System,
            secs => ClockSetting::Offset { secs },
        }
    }

    pub fn now(&self) -> SystemTime {
        let fixed = self.fixed.load(Ordering::Relaxed);
        if fixed != NOT_FIXED {
            return shift(UNIX_EPOCH, fixed);
        }
        shift(SystemTime::now(), self.offset.load(Ordering::Relaxed))
    }
}

/// `t + secs`; a time the platform cannot represent falls back to the epoch.
pub fn shift(t: SystemTime, secs: i64) -> SystemTime {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        t + magnitude
    } else {
        t.checked_sub(magnitude).unwrap_or(UNIX_EPOCH)
    }
}

/// Unix seconds of `t` (negative before the epoch).
pub fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_is_frozen_and_resettable() {
        let clock = Clock::new(ClockSetting::Fixed {
            epoch_secs: 1_728_976_809,
        });
        assert_eq!(unix_secs(clock.now()), 1_728_976_809);
        assert_eq!(
            clock.setting(),
            ClockSetting::Fixed {
                epoch_secs: 1_728_976_809
            }
        );
        clock.set(ClockSetting::System);
        let drift = unix_secs(clock.now()) - unix_secs(SystemTime::now());
        assert!(drift.abs() <= 1, "system clock drift {drift}");
    }

    #[test]
    fn offset_clock_shifts_both_ways() {
        let clock = Clock::new(ClockSetting::Offset { secs: -3600 });
        let drift = unix_secs(clock.now()) - unix_secs(SystemTime::now());
        assert!((-3601..=-3599).contains(&drift), "drift {drift}");
        assert_eq!(clock.setting(), ClockSetting::Offset { secs: -3600 });
        assert_eq!(unix_secs(shift(UNIX_EPOCH, -5)), -5);
        assert_eq!(unix_secs(shift(UNIX_EPOCH, 7)), 7);
    }
}
