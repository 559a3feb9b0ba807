//! The clock. Instants are Unix milliseconds (UTC) everywhere in storage; tests that need to move
//! time (reservation expiry, return windows) use a manual clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that stands still at `at` until [`Clock::advance`] moves it.
    pub fn manual(at: Millis) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(at))),
        }
    }

    pub fn now_ms(&self) -> Millis {
        match &self.manual {
            Some(at) => at.load(Ordering::SeqCst),
            None => (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        }
    }

    /// Today's date in China (UTC+8), the date a buyer or producer would write down.
    pub fn today_in_china(&self) -> time::Date {
        to_china_date(self.now_ms())
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by_ms: Millis) {
        if let Some(at) = &self.manual {
            at.fetch_add(by_ms, Ordering::SeqCst);
        }
    }
}

/// The calendar date in China (UTC+8) at the instant `ms`.
pub fn to_china_date(ms: Millis) -> time::Date {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
        .date()
}

/// The instant `ms` as China's clock shows it, `2026-12-05 14:30`.
pub fn to_china_minute(ms: Millis) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    format!("{} {:02}:{:02}", at.date(), at.hour(), at.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_time_is_utc_plus_eight() {
        // 2026-11-29 04:00 UTC.
        assert_eq!(to_china_minute(1_795_924_800_000), "2026-11-29 12:00");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(500);
        assert_eq!(clock.now_ms(), 1_500);
    }

    #[test]
    fn china_date_is_eight_hours_ahead() {
        // 2026-11-29 20:00 UTC is already 2026-11-30 in Chongqing.
        let ms = 1_795_982_400_000; // 2026-11-29T20:00:00Z
        assert_eq!(to_china_date(ms).to_string(), "2026-11-30");
    }
}
