//! The server's memory while the run holds its connections: VmRSS of `--server-pid`, sampled,
//! against the number of connections this generator has open. Per-connection cost is the growth
//! over the baseline (before the first connection) divided by the connections open at the
//! sample where most were open. A timeline (every `TIMELINE_EVERY`) shows the RSS against the
//! chats ended so far: flat while chats keep finishing means finished conversations leave the
//! server's memory (the archive's hot grace period, DESIGN §12).

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::stats::Stats;

const EVERY: Duration = Duration::from_millis(250);
const TIMELINE_EVERY: Duration = Duration::from_secs(10);

/// One point of the timeline.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MemoryPoint {
    pub secs: u64,
    pub kib: u64,
    pub chats_ended: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryReport {
    pub server_pid: u32,
    /// Before the first connection.
    pub baseline_kib: u64,
    pub peak_kib: u64,
    /// Most connections open at one sample, and the RSS then.
    pub peak_connections: u64,
    pub kib_at_peak_connections: u64,
    /// (kib_at_peak_connections − baseline_kib) / peak_connections.
    pub kib_per_connection: Option<f64>,
    pub samples: u64,
    /// RSS and chats ended, every `TIMELINE_EVERY` from the baseline.
    pub timeline: Vec<MemoryPoint>,
}

pub struct Sampler {
    pid: u32,
    began: std::time::Instant,
    report: Mutex<MemoryReport>,
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

impl Sampler {
    /// Takes the baseline now; `None` if the process's memory cannot be read.
    pub fn start(pid: u32) -> Option<Self> {
        let baseline = rss_kib(pid)?;
        Some(Self {
            pid,
            began: std::time::Instant::now(),
            report: Mutex::new(MemoryReport {
                server_pid: pid,
                baseline_kib: baseline,
                peak_kib: baseline,
                samples: 1,
                ..Default::default()
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryReport> {
        self.report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn sample(&self, stats: &Stats) {
        let Some(kib) = rss_kib(self.pid) else { return };
        let open = stats.open_connections();
        let ended = stats
            .c
            .chats_ended
            .load(std::sync::atomic::Ordering::Relaxed);
        let secs = self.began.elapsed().as_secs();
        let mut r = self.lock();
        r.samples += 1;
        let due = r
            .timeline
            .last()
            .map_or(0, |p| p.secs + TIMELINE_EVERY.as_secs());
        if secs >= due {
            r.timeline.push(MemoryPoint {
                secs,
                kib,
                chats_ended: ended,
            });
        }
        r.peak_kib = r.peak_kib.max(kib);
        if open > r.peak_connections
            || (open == r.peak_connections && kib > r.kib_at_peak_connections)
        {
            r.peak_connections = open;
            r.kib_at_peak_connections = kib;
        }
    }

    /// Samples until the task is aborted.
    pub async fn run(&self, stats: &Stats) {
        loop {
            tokio::time::sleep(EVERY).await;
            self.sample(stats);
        }
    }

    pub fn report(&self) -> MemoryReport {
        let mut r = self.lock().clone();
        if r.peak_connections > 0 {
            let growth = r.kib_at_peak_connections.saturating_sub(r.baseline_kib) as f64;
            r.kib_per_connection = Some(growth / r.peak_connections as f64);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_rss() {
        let me = std::process::id();
        assert!(rss_kib(me).is_some_and(|k| k > 0));
        let s = Sampler::start(me).expect("readable");
        s.sample(&Stats::default());
        assert_eq!(s.report().kib_per_connection, None);
    }
}
