//! Reconnect delays: exponential with jitter, pure (the caller supplies the random part).

use std::time::Duration;

/// First retry after about a second, doubling up to 15 s.
#[derive(Debug, Clone)]
pub struct Backoff {
    attempt: u32,
    base: Duration,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempt: 0,
            base: Duration::from_millis(1000),
            max: Duration::from_secs(15),
        }
    }
}

impl Backoff {
    /// The delay before the next attempt; `jitter` in `0.0..1.0` spreads clients apart
    /// (up to +25 %).
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(10));
        self.attempt = self.attempt.saturating_add(1);
        let capped = exp.min(self.max);
        capped.mul_f64(1.0 + 0.25 * jitter.clamp(0.0, 1.0))
    }

    /// Attempts made since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Call after a successful connection.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_then_resets() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..7)
            .map(|_| b.next_delay(0.0).as_millis() as u64)
            .collect();
        assert_eq!(delays, vec![1000, 2000, 4000, 8000, 15000, 15000, 15000]);
        assert_eq!(b.attempts(), 7);
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_adds_at_most_a_quarter() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(1.0), Duration::from_millis(1250));
        assert_eq!(
            Backoff::default().next_delay(7.0),
            Duration::from_millis(1250)
        );
    }
}
