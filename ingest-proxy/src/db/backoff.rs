//! Backing off from a database that cannot be reached.
//!
//! Without it, every request while PostgreSQL is down or starting up opens a connection of its
//! own: hundreds of attempts a second, each a FATAL line in the server's log and work for a
//! server that is trying to recover. After a failed connection attempt the next is allowed
//! only once a delay has passed, doubling with each failure in a row up to a ceiling; until
//! then requests are answered 503 at once. The clock is a parameter, so that this is pure.

use std::time::{Duration, Instant};

/// The delay after the first failure.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest delay: how soon, at worst, the proxy notices the database is back.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Failed connection attempts in a row, and when the next one is allowed.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
    next_attempt: Option<Instant>,
}

impl Backoff {
    /// `Err(wait)` while attempts are held back, else `Ok`.
    pub fn admit(&self, now: Instant) -> Result<(), Duration> {
        match self.next_attempt {
            Some(at) if at > now => Err(at - now),
            _ => Ok(()),
        }
    }

    /// A connection attempt failed at `now`.
    pub fn failed(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        let delay = FIRST_DELAY
            .saturating_mul(1 << (self.failures - 1).min(16))
            .min(MAX_DELAY);
        self.next_attempt = Some(now + delay);
    }

    /// A connection was had: attempts are free again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.next_attempt = None;
    }
}

#[cfg(test)]
mod tests {
    use super::{Backoff, FIRST_DELAY, MAX_DELAY};
    use std::time::{Duration, Instant};

    #[test]
    fn delays_double_up_to_the_ceiling_and_reset_on_success() {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        assert_eq!(backoff.admit(start), Ok(()));
        backoff.failed(start);
        assert_eq!(backoff.admit(start), Err(FIRST_DELAY));
        assert_eq!(backoff.admit(start + FIRST_DELAY), Ok(()));
        backoff.failed(start);
        assert_eq!(backoff.admit(start), Err(FIRST_DELAY * 2));
        for _ in 0..40 {
            backoff.failed(start);
        }
        assert_eq!(backoff.admit(start), Err(MAX_DELAY));
        backoff.succeeded();
        assert_eq!(backoff.admit(start), Ok(()));
    }

    #[test]
    fn attempts_per_second_while_down_are_few() {
        // A caller that tries whenever it is admitted, every millisecond for ten seconds.
        let start = Instant::now();
        let mut backoff = Backoff::default();
        let mut attempts = 0;
        for ms in 0..10_000 {
            let now = start + Duration::from_millis(ms);
            if backoff.admit(now).is_ok() {
                attempts += 1;
                backoff.failed(now);
            }
        }
        // At 0, 0.1, 0.3, 0.7, 1.5 and 3.1 s (delays 0.1, 0.2, 0.4, 0.8, 1.6), then every 2 s.
        assert_eq!(attempts, 9);
    }
}
