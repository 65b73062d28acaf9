//! A token bucket for per-connection rate limits.

use std::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    rate_per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self {
            rate_per_sec: f64::from(rate_per_sec),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self) -> bool {
        self.try_take_at(Instant::now())
    }

    pub fn try_take_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate_per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let start = Instant::now();
        let mut b = TokenBucket::new(10, 3);
        let taken = (0..5).filter(|_| b.try_take_at(start)).count();
        assert_eq!(taken, 3, "burst of 3");
        assert!(
            !b.try_take_at(start + Duration::from_millis(50)),
            "half a token is not a token"
        );
        assert!(
            b.try_take_at(start + Duration::from_millis(110)),
            "refilled after 100 ms"
        );
        assert_eq!(
            (0..10)
                .filter(|_| b.try_take_at(start + Duration::from_secs(60)))
                .count(),
            3,
            "capped at burst"
        );
    }
}
