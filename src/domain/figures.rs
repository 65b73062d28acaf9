//! A report's figures: the per-conversation metrics of a date range (`domain/report.rs`)
//! aggregated per queue or per agent, in one place — averages, the 90th percentile by nearest
//! rank, NPS — and written as CSV. Definitions: docs/PROTOCOL.md §9.10.
//!
//! A [`Tally`] takes the rows one at a time, as the archive reads them, and keeps only what the
//! figures need: counts and sums, and the waits themselves (8 bytes a chat) for the percentile.

use std::collections::BTreeMap;

use super::export::{csv_cells, csv_row, Cell};
use super::report::Handling;

/// Which report: a row per queue, or a row per agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportBy {
    Queue,
    Agent,
}

impl ReportBy {
    /// The name of each row's key: in the JSON and as the CSV's first column.
    pub fn key(self) -> &'static str {
        match self {
            ReportBy::Queue => "queue",
            ReportBy::Agent => "agent",
        }
    }
}

/// The figures of one row of a report (a queue, an agent, or the total). Times in milliseconds;
/// `None` where there was nothing to measure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Chats that had an agent (a chat the bot handed over included once an agent took it).
    pub handled: u64,
    /// Chats that ended before an agent took them (not those the bot handled alone).
    pub abandoned: u64,
    pub wait_avg_ms: Option<i64>,
    pub wait_p90_ms: Option<i64>,
    pub first_response_avg_ms: Option<i64>,
    pub handle_avg_ms: Option<i64>,
    pub transfers: u64,
    pub surveys: u64,
    /// % promoters (9–10) − % detractors (0–6) of the survey answers, rounded: −100 to 100.
    pub nps: Option<i64>,
    /// Chats the bot handled alone (issue 15): neither handled by a person nor abandoned.
    pub bot_only: u64,
    /// Chats the bot handed over to a person.
    pub handed_over: u64,
    /// The mean time with the bot of both.
    pub bot_avg_ms: Option<i64>,
}

/// A report: one row per queue or agent (sorted by id), and the org's total, where every
/// conversation counts once (a transferred chat is in the rows of each of its owners).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub rows: Vec<(String, Figures)>,
    pub total: Figures,
}

/// What one conversation — or one owner's share of it — adds to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub abandoned: bool,
    pub wait_ms: Option<i64>,
    pub first_response_ms: Option<i64>,
    pub handle_ms: Option<i64>,
    pub transfers: u32,
    pub rating: Option<u8>,
    /// An owner's share is always `Human`: the agent rows count people's handling only.
    pub handling: Handling,
    pub bot_ms: Option<i64>,
}

/// A running mean.
#[derive(Default)]
struct Mean {
    sum: i128,
    n: i128,
}

impl Mean {
    fn add(&mut self, value: Option<i64>) {
        if let Some(v) = value {
            self.sum += i128::from(v);
            self.n += 1;
        }
    }

    /// Rounded to the nearest integer, halves up.
    fn value(&self) -> Option<i64> {
        (self.n > 0)
            .then(|| (2 * self.sum + self.n).div_euclid(2 * self.n))
            .and_then(|v| i64::try_from(v).ok())
    }
}

/// What a row's figures are computed from.
#[derive(Default)]
struct Samples {
    handled: u64,
    abandoned: u64,
    waits: Vec<i64>,
    wait: Mean,
    first_response: Mean,
    handle: Mean,
    transfers: u64,
    surveys: u64,
    promoters: u64,
    detractors: u64,
    bot_only: u64,
    handed_over: u64,
    bot: Mean,
}

impl Samples {
    fn add(&mut self, s: &Sample) {
        match (s.handling, s.abandoned) {
            (Handling::Bot, _) => self.bot_only += 1,
            (_, true) => self.abandoned += 1,
            (_, false) => self.handled += 1,
        }
        self.handed_over += u64::from(s.handling == Handling::BotThenHuman);
        self.bot.add(s.bot_ms);
        self.waits.extend(s.wait_ms);
        self.wait.add(s.wait_ms);
        self.first_response.add(s.first_response_ms);
        self.handle.add(s.handle_ms);
        self.transfers += u64::from(s.transfers);
        if let Some(r) = s.rating {
            self.surveys += 1;
            self.promoters += u64::from(r >= 9);
            self.detractors += u64::from(r <= 6);
        }
    }

    fn figures(mut self) -> Figures {
        self.waits.sort_unstable();
        Figures {
            handled: self.handled,
            abandoned: self.abandoned,
            wait_avg_ms: self.wait.value(),
            wait_p90_ms: p90(&self.waits),
            first_response_avg_ms: self.first_response.value(),
            handle_avg_ms: self.handle.value(),
            transfers: self.transfers,
            surveys: self.surveys,
            nps: nps(self.promoters, self.detractors, self.surveys),
            bot_only: self.bot_only,
            handed_over: self.handed_over,
            bot_avg_ms: self.bot.value(),
        }
    }
}

/// The 90th percentile by nearest rank of `sorted` (ascending): the value at rank ⌈0.9·n⌉.
fn p90(sorted: &[i64]) -> Option<i64> {
    let rank = (sorted.len() * 9).div_ceil(10);
    sorted.get(rank.checked_sub(1)?).copied()
}

/// Net Promoter Score: % of promoters minus % of detractors among `answers`, rounded to an
/// integer (halves away from zero).
fn nps(promoters: u64, detractors: u64, answers: u64) -> Option<i64> {
    (answers > 0).then(|| {
        let net = promoters as f64 - detractors as f64;
        (100.0 * net / answers as f64).round() as i64
    })
}

/// A report being read: fed each conversation of the range (and, per agent, each owner's
/// share), then [`Tally::finish`]ed.
pub struct Tally {
    by: ReportBy,
    rows: BTreeMap<String, Samples>,
    total: Samples,
}

impl Tally {
    pub fn new(by: ReportBy) -> Self {
        Self {
            by,
            rows: BTreeMap::new(),
            total: Samples::default(),
        }
    }

    /// A conversation of the range, which entered `queue`: in the total, and in its queue's row
    /// of a queue report.
    pub fn conversation(&mut self, queue: &str, s: &Sample) {
        self.total.add(s);
        if self.by == ReportBy::Queue {
            self.rows.entry(queue.to_string()).or_default().add(s);
        }
    }

    /// One owner's share of a conversation of the range (never abandoned), in its row of an
    /// agent report.
    pub fn owner(&mut self, agent: &str, s: &Sample) {
        if self.by == ReportBy::Agent {
            self.rows.entry(agent.to_string()).or_default().add(s);
        }
    }

    pub fn finish(self) -> Report {
        Report {
            rows: self
                .rows
                .into_iter()
                .map(|(k, s)| (k, s.figures()))
                .collect(),
            total: self.total.figures(),
        }
    }
}

/// The figure columns, after the queue or agent column, in the JSON's names (the bot's last:
/// added after the others, so that a CSV reader by position keeps working).
pub const COLUMNS: [&str; 12] = [
    "handled",
    "abandoned",
    "wait_avg_ms",
    "wait_p90_ms",
    "first_response_avg_ms",
    "handle_avg_ms",
    "transfers",
    "surveys",
    "nps",
    "bot_only",
    "handed_over",
    "bot_avg_ms",
];

/// A report as CSV: a header (the key — `queue` or `agent` — then [`COLUMNS`]), a row per
/// queue or agent, and a last row `total`. Empty cells where a figure is `None`.
pub fn report_csv(by: ReportBy, report: &Report) -> String {
    let mut header = vec![by.key()];
    header.extend(COLUMNS);
    let mut out = csv_row(&header);
    let total = ("total".to_string(), report.total.clone());
    for (name, f) in report.rows.iter().chain(std::iter::once(&total)) {
        let count = |n: u64| Cell::Number(i64::try_from(n).ok());
        out.push_str(&csv_cells(&[
            Cell::Text(name),
            count(f.handled),
            count(f.abandoned),
            Cell::Number(f.wait_avg_ms),
            Cell::Number(f.wait_p90_ms),
            Cell::Number(f.first_response_avg_ms),
            Cell::Number(f.handle_avg_ms),
            count(f.transfers),
            count(f.surveys),
            Cell::Number(f.nps),
            count(f.bot_only),
            count(f.handed_over),
            Cell::Number(f.bot_avg_ms),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean(values: &[i64]) -> Option<i64> {
        let mut m = Mean::default();
        values.iter().for_each(|v| m.add(Some(*v)));
        m.value()
    }

    fn score(ratings: &[u8]) -> Option<i64> {
        let mut s = Samples::default();
        for r in ratings {
            s.add(&Sample {
                abandoned: false,
                wait_ms: None,
                first_response_ms: None,
                handle_ms: None,
                transfers: 0,
                rating: Some(*r),
                handling: Handling::Human,
                bot_ms: None,
            });
        }
        s.figures().nps
    }

    #[test]
    fn means_round_half_up_and_p90_is_the_nearest_rank() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[1, 2]), Some(2));
        assert_eq!(mean(&[1, 1, 2]), Some(1));
        assert_eq!(mean(&[10_000, 20_000, 40_000]), Some(23_333));
        assert_eq!(p90(&[]), None);
        assert_eq!(p90(&[7]), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(p90(&ten), Some(9), "rank ⌈9⌉ = 9");
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(p90(&eleven), Some(10), "rank ⌈9.9⌉ = 10");
    }

    #[test]
    fn nps_is_promoters_minus_detractors_in_percent_rounded() {
        assert_eq!(score(&[]), None);
        assert_eq!(score(&[10, 9, 8, 7]), Some(50));
        assert_eq!(score(&[0, 6, 10]), Some(-33));
        assert_eq!(score(&[9, 7, 3]), Some(0));
        assert_eq!(score(&[10, 10, 3]), Some(33));
        assert_eq!(score(&[6, 6, 9, 9, 8, 8, 8, 8]), Some(0));
        assert_eq!(score(&[9, 8]), Some(50));
        assert_eq!(
            score(&[1, 7, 7, 7, 7, 7, 7, 7]),
            Some(-13),
            "−12.5 rounds away from zero"
        );
    }

    #[test]
    fn a_conversation_counts_in_the_total_and_in_its_queues_or_owners_rows() {
        let chat = |abandoned, wait_ms, rating| Sample {
            abandoned,
            wait_ms,
            first_response_ms: None,
            handle_ms: Some(1_000),
            transfers: 1,
            rating,
            handling: Handling::Human,
            bot_ms: None,
        };
        let (a, b) = (chat(false, Some(4), Some(10)), chat(true, None, None));
        let mut queues = Tally::new(ReportBy::Queue);
        queues.conversation("general", &a);
        queues.conversation("billing", &b);
        queues.owner("al", &a);
        let report = queues.finish();
        assert_eq!(
            report
                .rows
                .iter()
                .map(|(k, f)| (k.as_str(), f.handled, f.abandoned))
                .collect::<Vec<_>>(),
            [("billing", 0, 1), ("general", 1, 0)]
        );
        assert_eq!(
            (
                report.total.handled,
                report.total.abandoned,
                report.total.transfers
            ),
            (1, 1, 2)
        );

        let mut agents = Tally::new(ReportBy::Agent);
        agents.conversation("general", &a);
        agents.owner("al", &a);
        agents.owner("bo", &a);
        let report = agents.finish();
        assert_eq!(report.rows.len(), 2, "each owner has the chat");
        assert_eq!(
            (report.total.handled, report.total.nps),
            (1, Some(100)),
            "the total once"
        );
    }

    #[test]
    fn bot_chats_are_split_from_human_handling() {
        let chat = |handling, abandoned, bot_ms| Sample {
            abandoned,
            wait_ms: None,
            first_response_ms: None,
            handle_ms: None,
            transfers: 0,
            rating: None,
            handling,
            bot_ms,
        };
        let mut queues = Tally::new(ReportBy::Queue);
        queues.conversation("general", &chat(Handling::Bot, false, Some(30_000)));
        queues.conversation(
            "general",
            &chat(Handling::BotThenHuman, false, Some(10_000)),
        );
        queues.conversation("general", &chat(Handling::BotThenHuman, true, Some(5_000)));
        queues.conversation("general", &chat(Handling::Human, false, None));
        queues.conversation("general", &chat(Handling::Human, true, None));
        let report = queues.finish();
        let f = &report.rows[0].1;
        assert_eq!(
            (f.handled, f.abandoned, f.bot_only, f.handed_over, f.bot_avg_ms),
            (2, 2, 1, 2, Some(15_000)),
            "handled: the handed-over chat an agent took and the human one; bot time over the three bot chats"
        );
        assert_eq!(report.total, *f);
        let csv = report_csv(ReportBy::Queue, &report);
        assert_eq!(
            csv.split("\r\n").take(2).collect::<Vec<_>>(),
            [
                "queue,handled,abandoned,wait_avg_ms,wait_p90_ms,first_response_avg_ms,handle_avg_ms,transfers,surveys,nps,bot_only,handed_over,bot_avg_ms",
                "general,2,2,,,,,0,0,,1,2,15000"
            ]
        );
    }
}
