//! The server's archive while the run finishes chats: `switchboard_archive_stored_total` and
//! `switchboard_archive_backlog` read from every node's `/metrics` before the first customer and
//! after the last, so the report says how many finished conversations went to the archive and
//! how fast (DESIGN §12). After the run the backlog is given a few seconds to empty, so that the
//! count covers the chats of the run.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::http;
use crate::shared::Shared;

/// How long the end of the run waits for the archive's backlog to empty.
const SETTLE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    pub stored: f64,
    pub backlog: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ArchiveReport {
    /// Conversations written to the archive between the two reads.
    pub stored: u64,
    pub secs: f64,
    pub per_sec: f64,
    /// Conversations still waiting to be archived at the second read.
    pub backlog_at_end: u64,
}

/// The value of a metric line `name value` (no labels) in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

pub fn parse(text: &str) -> Option<Counters> {
    Some(Counters {
        stored: metric(text, "switchboard_archive_stored_total")?,
        backlog: metric(text, "switchboard_archive_backlog").unwrap_or(0.0),
    })
}

/// The sum over every node; `None` when a node does not answer or has no archive metrics.
pub async fn read(shared: &Shared) -> Option<Counters> {
    let mut sum = Counters::default();
    for node in &shared.dialer.endpoints {
        let r = http::request(
            &shared.dialer,
            node,
            "GET",
            "/metrics",
            None,
            Duration::from_secs(2),
        )
        .await
        .ok()?;
        let c = parse(&r.body)?;
        sum.stored += c.stored;
        sum.backlog += c.backlog;
    }
    Some(sum)
}

/// Reads again once the backlog is empty (or after `SETTLE`) and reports the difference.
pub async fn finish(shared: &Shared, start: Counters, began: Instant) -> Option<ArchiveReport> {
    let until = Instant::now() + SETTLE;
    let mut end = read(shared).await?;
    while end.backlog > 0.0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        end = read(shared).await?;
    }
    let secs = began.elapsed().as_secs_f64();
    let stored = (end.stored - start.stored).max(0.0);
    Some(ArchiveReport {
        stored: stored as u64,
        secs,
        per_sec: if secs > 0.0 { stored / secs } else { 0.0 },
        backlog_at_end: end.backlog as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_archive_metrics_and_nothing_that_only_starts_like_them() {
        let text = "# HELP switchboard_archive_stored Conversations archived.\n\
                    # TYPE switchboard_archive_stored counter\n\
                    switchboard_archive_stored_total 1234\n\
                    switchboard_archive_backlog_extra 9\n\
                    switchboard_archive_backlog 7\n";
        assert_eq!(
            parse(text),
            Some(Counters {
                stored: 1234.0,
                backlog: 7.0
            })
        );
        assert_eq!(parse("switchboard_up 1\n"), None);
    }
}
