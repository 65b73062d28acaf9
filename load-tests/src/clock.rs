//! Wall-clock timestamps that never jump: Unix time read once at start, then advanced by the
//! monotonic clock. Message texts carry these so that a receiver can compute delivery latency.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Anchor {
    at: Instant,
    unix_nanos: u64,
}

static ANCHOR: OnceLock<Anchor> = OnceLock::new();

fn anchor() -> &'static Anchor {
    ANCHOR.get_or_init(|| Anchor {
        at: Instant::now(),
        unix_nanos: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
    })
}

/// Nanoseconds since the Unix epoch, monotonic for the life of the process.
pub fn unix_nanos() -> u64 {
    let a = anchor();
    a.unix_nanos
        .saturating_add(u64::try_from(a.at.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

/// Seconds since the Unix epoch (for token claims and the report).
pub fn unix_secs() -> u64 {
    unix_nanos() / 1_000_000_000
}

/// Time elapsed since a timestamp taken with [`unix_nanos`].
pub fn since(then_nanos: u64) -> Duration {
    Duration::from_nanos(unix_nanos().saturating_sub(then_nanos))
}
