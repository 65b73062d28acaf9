//! Rate limits (DESIGN invariant 8): a token bucket for per-connection limits, and one shared
//! bucket per org on this node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::config::Limits;
use crate::ids::OrgId;

#[derive(Debug)]
pub struct TokenBucket {
    rate_per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self::per_second(f64::from(rate_per_sec), burst)
    }

    /// A bucket refilled at a fractional rate (e.g. 30 a minute is 0.5 a second).
    pub fn per_second(rate_per_sec: f64, burst: u32) -> Self {
        Self {
            rate_per_sec: rate_per_sec.max(0.0),
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

/// A token bucket shared by every connection of one org on this node.
pub type OrgLimiter = Arc<Mutex<TokenBucket>>;

/// One shared rate limiter per org, created on first use.
pub struct OrgLimiters {
    rate_per_sec: u32,
    burst: u32,
    /// `parking_lot` lock: held only for a lookup or an insert, never across an await.
    by_org: Mutex<HashMap<OrgId, OrgLimiter>>,
}

impl OrgLimiters {
    pub fn new(limits: &Limits) -> Self {
        Self {
            rate_per_sec: limits.org_rate_per_sec,
            burst: limits.org_rate_burst,
            by_org: Mutex::new(HashMap::new()),
        }
    }

    /// The org's shared limiter.
    pub fn of(&self, org: &OrgId) -> OrgLimiter {
        self.by_org
            .lock()
            .entry(org.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(TokenBucket::new(self.rate_per_sec, self.burst)))
            })
            .clone()
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
