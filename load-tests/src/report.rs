//! The run's report: built from the shared measurements, printed for people, written as JSON for
//! machines. Field meanings are documented in `load-tests/README.md` ("Reading the report").

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::archive::ArchiveReport;
use crate::audience::AudienceSummary;
use crate::clock;
use crate::ledger::LedgerSummary;
use crate::memory::MemoryReport;
use crate::shared::Shared;
use crate::stats::{CounterValues, Second, StormSummary};
use crate::thresholds::{self, Verdict};

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub name: &'static str,
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn from_histogram(name: &'static str, h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            name,
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p99_9_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Throughput {
    pub peak_offers_per_sec: u32,
    pub peak_delivered_per_sec: u32,
    /// Deliveries per second between the first and the last second that had any.
    pub avg_delivered_per_sec: f64,
    pub peak_acked_per_sec: u32,
    /// Per second since the run started.
    pub per_second: Vec<Second>,
}

impl Throughput {
    fn from_seconds(seconds: Vec<Second>) -> Self {
        let active: Vec<usize> = seconds
            .iter()
            .enumerate()
            .filter(|(_, s)| s.delivered > 0)
            .map(|(i, _)| i)
            .collect();
        let avg = match (active.first(), active.last()) {
            (Some(&a), Some(&b)) => {
                let total: u64 = seconds[a..=b].iter().map(|s| u64::from(s.delivered)).sum();
                total as f64 / (b - a + 1) as f64
            }
            _ => 0.0,
        };
        Self {
            peak_offers_per_sec: seconds.iter().map(|s| s.offers).max().unwrap_or(0),
            peak_delivered_per_sec: seconds.iter().map(|s| s.delivered).max().unwrap_or(0),
            avg_delivered_per_sec: avg,
            peak_acked_per_sec: seconds.iter().map(|s| s.acked).max().unwrap_or(0),
            per_second: seconds,
        }
    }
}

/// Delivery stalls: the worst delivery latency of each 100-ms slice (by delivery time), over
/// the slices that had deliveries.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Slices {
    pub slices: usize,
    /// Median of the slices' worst latencies.
    pub median_worst_ms: f64,
    pub over_10_ms: usize,
    pub over_20_ms: usize,
    pub worst_ms: f64,
    /// Seconds since the start of the run of the slices over 20 ms.
    pub over_20_at_secs: Vec<f64>,
    /// Worst latency (µs) per 100-ms slice since the run started (0: no delivery).
    pub worst_us: Vec<u32>,
}

impl Slices {
    fn from_worst(worst_us: Vec<u32>) -> Self {
        let mut active: Vec<u32> = worst_us.iter().copied().filter(|&w| w > 0).collect();
        active.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1000.0;
        Self {
            slices: active.len(),
            median_worst_ms: active.get(active.len() / 2).map_or(0.0, |&w| ms(w)),
            over_10_ms: active.iter().filter(|&&w| w > 10_000).count(),
            over_20_ms: active.iter().filter(|&&w| w > 20_000).count(),
            worst_ms: active.last().map_or(0.0, |&w| ms(w)),
            over_20_at_secs: worst_us
                .iter()
                .enumerate()
                .filter(|(_, &w)| w > 20_000)
                .map(|(i, _)| i as f64 / 10.0)
                .collect(),
            worst_us,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub nodes: Vec<String>,
    pub started_unix: u64,
    pub elapsed_secs: f64,
    pub agents: usize,
    pub supervisors: usize,
    pub counters: CounterValues,
    pub messages: LedgerSummary,
    /// Acked by the server, never delivered to the other side.
    pub lost: u64,
    /// Of the customers that arrived: share whose chat an agent accepted / that ended.
    pub assigned_ratio: Option<f64>,
    pub ended_ratio: Option<f64>,
    /// `[bot]`: of the customers that arrived, the share that saw their chat handed over.
    pub handed_over_ratio: Option<f64>,
    pub peak_connections: u64,
    pub latency: Vec<Latency>,
    pub throughput: Throughput,
    pub stalls: Slices,
    /// Error replies by `command:code`.
    pub errors: BTreeMap<String, u64>,
    pub memory: Option<MemoryReport>,
    /// Finished conversations written to the archive during the run.
    pub archive: Option<ArchiveReport>,
    pub reconnect_storm: Option<StormSummary>,
    /// `[conference]`: deliveries per party, and invitations as the log tells them.
    pub audience: Option<AudienceSummary>,
    /// The first problems seen, in words.
    pub notes: Vec<String>,
    pub thresholds: Vec<Verdict>,
    pub passed: bool,
}

impl Report {
    pub fn build(
        shared: &Shared,
        started_unix: u64,
        memory: Option<MemoryReport>,
        archive: Option<ArchiveReport>,
    ) -> Self {
        let stats = &shared.stats;
        let counters = stats.c.values();
        let messages = shared.ledger.summary();
        let arrived = counters.customers_arrived;
        let ratio = |n: u64| (arrived > 0).then(|| n as f64 / arrived as f64);
        let mut r = Report {
            scenario: shared.scenario.name.clone(),
            nodes: shared
                .dialer
                .endpoints
                .iter()
                .map(|e| e.url.clone())
                .collect(),
            started_unix,
            elapsed_secs: stats.started.elapsed().as_secs_f64(),
            agents: shared.agent_ids.len(),
            supervisors: shared.supervisor_ids.len(),
            lost: messages.lost(),
            assigned_ratio: ratio(counters.chats_assigned),
            ended_ratio: ratio(counters.chats_ended),
            handed_over_ratio: shared
                .scenario
                .bot
                .as_ref()
                .and_then(|_| ratio(counters.chats_handed_over)),
            counters,
            messages,
            peak_connections: stats.peak_connections(),
            latency: stats
                .lat
                .all()
                .iter()
                .map(|(n, h)| Latency::from_histogram(n, h))
                .collect(),
            throughput: Throughput::from_seconds(stats.seconds()),
            stalls: Slices::from_worst(stats.slices()),
            errors: stats.errors(),
            memory,
            archive,
            reconnect_storm: stats.storm(),
            audience: shared.audience.as_ref().map(|a| a.summary()),
            notes: stats.notes(),
            thresholds: Vec::new(),
            passed: true,
        };
        r.thresholds = thresholds::evaluate(&shared.scenario.thresholds, &r);
        r.passed = r.thresholds.iter().all(|v| v.passed);
        r
    }

    /// p99 of a latency in ms, if it has samples.
    pub fn p99_ms(&self, name: &str) -> Option<f64> {
        self.latency
            .iter()
            .find(|l| l.name == name && l.count > 0)
            .map(|l| l.p99_ms)
    }

    pub fn broken(&self) -> impl Iterator<Item = &Verdict> {
        self.thresholds.iter().filter(|v| !v.passed)
    }

    /// The human-readable summary.
    pub fn render(&self) -> String {
        let c = &self.counters;
        let m = &self.messages;
        let pct =
            |r: Option<f64>| r.map_or_else(|| "-".to_string(), |r| format!("{:.1}%", r * 100.0));
        let mut o = String::new();
        let _ = writeln!(
            o,
            "== switchboard-load: {} — {} node(s), {} agents, {} customers, {:.1} s ==",
            self.scenario,
            self.nodes.len(),
            self.agents,
            c.customers_arrived,
            self.elapsed_secs
        );
        let _ = writeln!(o, "nodes        {}", self.nodes.join(", "));
        let _ = writeln!(
            o,
            "connections  opened {}, failed {}, hello failed {}, closed by server {}, goodbyes {}, peak open {}",
            c.connections_opened, c.connections_failed, c.hello_failed, c.closed_by_server, c.goodbyes, self.peak_connections
        );
        let _ = writeln!(
            o,
            "customers    arrived {}, finished {}, unfinished {}, pre-chat failed {}",
            c.customers_arrived, c.customers_finished, c.customers_unfinished, c.prechat_failed
        );
        let _ = writeln!(
            o,
            "chats        started {}, assigned {} ({}), ended {} ({}), surveys {}, wrap-ups {}, gave up waiting {}, reply timeouts {}",
            c.chats_started,
            c.chats_assigned,
            pct(self.assigned_ratio),
            c.chats_ended,
            pct(self.ended_ratio),
            c.surveys,
            c.wrap_ups,
            c.assign_timeouts,
            c.reply_timeouts
        );
        let _ = writeln!(
            o,
            "routing      agents ready {}, offers {}, accepted {}, rejected {}, withdrawn {}, transfers {} (failed {}, to-agent accepted {}), reassigned {}",
            c.agents_ready, c.offers, c.offers_accepted, c.offers_rejected, c.offers_withdrawn, c.transfers, c.transfers_failed, c.transfer_accepts, c.chats_reassigned
        );
        let _ = writeln!(
            o,
            "messages     sent {}, acked {}, delivered {}, LOST {} (customer→agent {}, agent→customer {}), duplicates {}, out of order {}, gaps {}",
            c.messages_sent, c.messages_acked, c.messages_delivered, self.lost, m.lost_customer_to_agent, m.lost_agent_to_customer, c.duplicates, c.out_of_order, c.gaps
        );
        let _ = writeln!(
            o,
            "             resent {}, ack said duplicate {}, replayed to a new owner {}, failed sends {}, delivered unacked {}, request timeouts {}",
            c.messages_resent, c.ack_duplicates, c.messages_replayed, m.failed_sends, m.delivered_unacked, c.request_timeouts
        );
        if c.reconnects > 0 || self.reconnect_storm.is_some() {
            let _ = writeln!(
                o,
                "reconnects   {} (resumed {}, failed {}, not recovered {})",
                c.reconnects, c.resumed, c.resume_failed, c.resume_not_recovered
            );
        }
        if let Some(s) = self.reconnect_storm {
            let all = s
                .all_resumed_secs
                .map_or_else(|| "not all resumed".to_string(), |t| format!("{t:.2} s"));
            let _ = writeln!(
                o,
                "storm        {} clients dropped, {} resumed, all resumed after {all}",
                s.clients, s.resumed
            );
        }
        if let Some(a) = &self.audience {
            self.render_participants(&mut o, a);
        }
        if self.handed_over_ratio.is_some() {
            self.render_bot(&mut o);
        }
        let t = &self.throughput;
        let _ = writeln!(
            o,
            "throughput   peak offers/s {}, peak delivered/s {}, avg delivered/s {:.1}, peak acks/s {}",
            t.peak_offers_per_sec, t.peak_delivered_per_sec, t.avg_delivered_per_sec, t.peak_acked_per_sec
        );
        let st = &self.stalls;
        let _ = writeln!(
            o,
            "stalls       {} 100-ms slices with deliveries: worst delivery per slice median {:.2} ms, {} over 10 ms, {} over 20 ms, worst {:.1} ms",
            st.slices, st.median_worst_ms, st.over_10_ms, st.over_20_ms, st.worst_ms
        );
        if !st.over_20_at_secs.is_empty() {
            let at: Vec<String> = st
                .over_20_at_secs
                .iter()
                .map(|t| format!("{t:.1}"))
                .collect();
            let _ = writeln!(o, "             over 20 ms at s: {}", at.join(" "));
        }
        if let Some(mem) = &self.memory {
            let per = mem
                .kib_per_connection
                .map_or_else(|| "-".to_string(), |k| format!("{k:.2} KiB"));
            let _ = writeln!(
                o,
                "server RSS   pid {}: baseline {} KiB, peak {} KiB, {} KiB at {} connections → {per} per connection",
                mem.server_pid, mem.baseline_kib, mem.peak_kib, mem.kib_at_peak_connections, mem.peak_connections
            );
            if mem.timeline.len() > 1 {
                let points: Vec<String> = mem
                    .timeline
                    .iter()
                    .map(|p| {
                        format!(
                            "{}s {:.1} MiB/{}",
                            p.secs,
                            p.kib as f64 / 1024.0,
                            p.chats_ended
                        )
                    })
                    .collect();
                for line in points.chunks(6) {
                    let _ = writeln!(o, "  RSS/ended  {}", line.join(" · "));
                }
            }
        }
        if let Some(a) = &self.archive {
            let _ = writeln!(
                o,
                "archive      {} conversations archived in {:.1} s ({:.1}/s), backlog at the end {}",
                a.stored, a.secs, a.per_sec, a.backlog_at_end
            );
        }
        if self.errors.is_empty() {
            let _ = writeln!(o, "errors       none");
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let _ = writeln!(o, "errors       {}", list.join(", "));
        }
        let _ = writeln!(o, "latency (ms)                      count       p50       p90       p99     p99.9       max");
        for l in &self.latency {
            if l.count == 0 {
                let _ = writeln!(o, "  {:<28} {:>8}", l.name, 0);
            } else {
                let _ = writeln!(
                    o,
                    "  {:<28} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                    l.name, l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p99_9_ms, l.max_ms
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(o, "first problems seen:");
            for n in &self.notes {
                let _ = writeln!(o, "  - {n}");
            }
        }
        if self.thresholds.is_empty() {
            let _ = writeln!(o, "thresholds   none set");
        } else {
            let _ = writeln!(o, "thresholds");
            for v in &self.thresholds {
                let actual = v
                    .actual
                    .map_or_else(|| "-".to_string(), |a| format!("{}", round(a)));
                let mark = if v.passed { "pass" } else { "FAIL" };
                let note = v.note.map_or_else(String::new, |n| format!("  ({n})"));
                let _ = writeln!(
                    o,
                    "  {mark}  {:<26} actual {actual:<12} limit {}{note}",
                    v.name,
                    round(v.limit)
                );
            }
        }
        let broken: Vec<&str> = self.broken().map(|v| v.name).collect();
        if broken.is_empty() {
            let _ = writeln!(o, "RESULT: PASS");
        } else {
            let _ = writeln!(o, "RESULT: FAIL — broken: {}", broken.join(", "));
        }
        o
    }
}

impl Report {
    /// The `[bot]` lines: what the bot received and did, what customers saw, and the bot
    /// phase's latencies.
    fn render_bot(&self, o: &mut String) {
        let c = &self.counters;
        let pct =
            |r: Option<f64>| r.map_or_else(|| "-".to_string(), |r| format!("{:.1}%", r * 100.0));
        let _ = writeln!(
            o,
            "bot webhooks received {} (started {}, message {}, handed_over {}, ended {}, other {}), DUPLICATES {}, SIGNATURE FAILURES {}, OUT OF ORDER {}, bad requests {}",
            c.bot_webhooks, c.bot_webhooks_started, c.bot_webhooks_message, c.bot_webhooks_handed_over,
            c.bot_webhooks_ended, c.bot_webhooks_other, c.bot_duplicate_webhooks, c.bot_signature_failures,
            c.bot_out_of_order, c.bot_bad_requests
        );
        let _ = writeln!(
            o,
            "             greetings {}, answers {}, REST calls failed {}; handovers {}, HANDOVERS FAILED {}",
            c.bot_greetings, c.bot_replies, c.bot_requests_failed, c.handovers, c.handovers_failed
        );
        let _ = writeln!(
            o,
            "             customers greeted {}, handed over {} ({}), not by the bot {}, gave up on the bot {}; assigned {} ({})",
            c.chats_greeted, c.chats_handed_over, pct(self.handed_over_ratio), c.handovers_not_by_bot,
            c.bot_timeouts, c.chats_assigned, pct(self.assigned_ratio)
        );
        let _ = writeln!(
            o,
            "  bot phase (ms)                  count       p50       p95       p99       max"
        );
        for name in [
            "start_to_greeting",
            "bot_reply",
            "handover",
            "handover_to_assigned",
        ] {
            let Some(l) = self.latency.iter().find(|l| l.name == name) else {
                continue;
            };
            let _ = writeln!(
                o,
                "  {:<28} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                l.name, l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            );
        }
    }

    /// The `[conference]` lines: invitations, participants, per-party deliveries, capacity.
    fn render_participants(&self, o: &mut String, a: &AudienceSummary) {
        let c = &self.counters;
        let i = &a.invitations;
        let _ = writeln!(
            o,
            "invitations  sent {} (conference {}, consult {}), refused {} (capacity {}); invitees: received {}, accepted {}, rejected {}, left unanswered {}, answers refused {}, ended by signal: expired {}, cancelled {}",
            c.invites_sent, c.invites_conference, c.invites_consult, c.invites_refused, c.invites_refused_capacity,
            c.invitations_received, c.invite_accepts, c.invite_rejects, c.invites_ignored, c.invite_answers_refused,
            c.invitation_ended_expired, c.invitation_ended_cancelled
        );
        let _ = writeln!(
            o,
            "             log: invited {}, accepted {}, rejected {}, expired {}, cancelled {}; ended exactly once {}/{} (never ended {}, ended twice {}, invited while open {}, acked but not logged {}); still open when their owner left {} (then ended: {})",
            i.invited, i.accepted, i.rejected, i.expired, i.cancelled, i.ended_once, i.invited,
            i.never_ended, i.ended_twice, i.invited_while_open, i.acked_not_logged, i.open_when_owner_left,
            if i.owner_left_outcomes.is_empty() {
                "-".to_string()
            } else {
                i.owner_left_outcomes
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        let _ = writeln!(
            o,
            "participants conference messages {}, internal messages {}, left {}, removed {}, owners left {} (ownership passed {})",
            c.conference_messages, c.internal_messages, c.participants_left, c.participants_removed, c.owner_leaves, c.ownership_passed
        );
        let _ = writeln!(
            o,
            "conversions  consult_convert to transfer {}, to conference {}, refused {}; consultants made owner {}; invitations to a queue {}",
            c.conversions_transfer, c.conversions_conference, c.conversions_refused, c.converted_owners, c.invites_to_queue
        );
        if self.supervisors > 0 {
            let _ = writeln!(
                o,
                "supervisors  {}: monitor observe {}, coach {}, barge {}, refused {}, left {}; coach (internal) messages {}, barged messages {}; became owner {}; customer saw an observer's/coach's event {}",
                self.supervisors, c.monitors_observe, c.monitors_coach, c.monitors_barge, c.monitors_refused, c.monitors_left,
                c.supervisor_internal, c.supervisor_messages, c.supervisor_owned, c.customer_saw_silent_supervisor
            );
        }
        let _ = writeln!(
            o,
            "mid-chat     sockets dropped on purpose {}, resumed {}; after reconnecting: chats the hello left out and found still in ROLES LOST {}, taken out meanwhile {}",
            c.mid_chat_drops, c.mid_chat_resumed, c.roles_lost, c.out_while_away
        );
        let _ = writeln!(
            o,
            "audience     {} conversations, {} acked messages, {} deliveries due to customers and agents in the chat: MISSED {} ({} messages); internal messages nobody else read {}; customer saw agents-only events {}",
            a.conversations, a.messages, a.expected_deliveries, a.missed_deliveries, a.messages_missed, self.messages.internal_unread, c.customer_agents_only
        );
        let _ = writeln!(
            o,
            "capacity     violations {} (an agent's own count of its seats over max_chats), most seats one agent held {}",
            c.capacity_violations, c.seats_peak
        );
        for e in &a.examples {
            let _ = writeln!(o, "             - {e}");
        }
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The Unix time the report calls the start.
pub fn now_unix() -> u64 {
    clock::unix_secs()
}
