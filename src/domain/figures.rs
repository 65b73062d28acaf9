//! A report's figures: the per-conversation metrics of a date range (`domain/report.rs`)
//! aggregated per queue or per agent, in one place — averages, the 90th percentile by nearest
//! rank, NPS — and written as CSV. Definitions: docs/PROTOCOL.md §9.9.

use std::collections::BTreeMap;

use super::export::{csv_cells, csv_row, Cell};
use super::report::ConversationMetrics;

/// The figures of one row of a report (a queue, an agent, or the total). Times in milliseconds;
/// `None` where there was nothing to measure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub handled: u64,
    pub abandoned: u64,
    pub wait_avg_ms: Option<i64>,
    pub wait_p90_ms: Option<i64>,
    pub first_response_avg_ms: Option<i64>,
    pub handle_avg_ms: Option<i64>,
    pub transfers: u64,
    pub surveys: u64,
    /// % promoters (9–10) − % detractors (0–6) of the survey answers, rounded: −100 to 100.
    pub nps: Option<i64>,
}

/// A report: one row per queue or agent (sorted by id), and the org's total, where every
/// conversation counts once (a transferred chat is in the rows of each of its owners).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub rows: Vec<(String, Figures)>,
    pub total: Figures,
}

/// What a row's figures are computed from.
#[derive(Default)]
struct Samples {
    handled: u64,
    abandoned: u64,
    waits: Vec<i64>,
    first_responses: Vec<i64>,
    handles: Vec<i64>,
    transfers: u64,
    ratings: Vec<u8>,
}

impl Samples {
    /// One conversation, or one owner's share of it (never abandoned).
    fn add(
        &mut self,
        abandoned: bool,
        wait_ms: Option<i64>,
        first_response_ms: Option<i64>,
        handle_ms: Option<i64>,
        transfers: u32,
        rating: Option<u8>,
    ) {
        if abandoned {
            self.abandoned += 1;
        } else {
            self.handled += 1;
        }
        self.waits.extend(wait_ms);
        self.first_responses.extend(first_response_ms);
        self.handles.extend(handle_ms);
        self.transfers += u64::from(transfers);
        self.ratings.extend(rating);
    }

    fn conversation(&mut self, m: &ConversationMetrics) {
        self.add(
            m.abandoned,
            m.wait_ms,
            m.first_response_ms,
            m.handle_ms,
            m.transfers,
            m.rating,
        );
    }

    fn figures(mut self) -> Figures {
        self.waits.sort_unstable();
        Figures {
            handled: self.handled,
            abandoned: self.abandoned,
            wait_avg_ms: average(&self.waits),
            wait_p90_ms: p90(&self.waits),
            first_response_avg_ms: average(&self.first_responses),
            handle_avg_ms: average(&self.handles),
            transfers: self.transfers,
            surveys: self.ratings.len() as u64,
            nps: nps(&self.ratings),
        }
    }
}

/// The mean, rounded to the nearest millisecond (halves up).
pub fn average(values: &[i64]) -> Option<i64> {
    let n = i128::try_from(values.len()).ok().filter(|n| *n > 0)?;
    let sum: i128 = values.iter().map(|v| i128::from(*v)).sum();
    i64::try_from((2 * sum + n).div_euclid(2 * n)).ok()
}

/// The 90th percentile by nearest rank of `sorted` (ascending): the value at rank ⌈0.9·n⌉.
pub fn p90(sorted: &[i64]) -> Option<i64> {
    let rank = (sorted.len() * 9).div_ceil(10);
    sorted.get(rank.checked_sub(1)?).copied()
}

/// Net Promoter Score: % of 9–10 answers minus % of 0–6 answers, rounded to an integer.
pub fn nps(ratings: &[u8]) -> Option<i64> {
    if ratings.is_empty() {
        return None;
    }
    let promoters = ratings.iter().filter(|r| **r >= 9).count() as f64;
    let detractors = ratings.iter().filter(|r| **r <= 6).count() as f64;
    Some((100.0 * (promoters - detractors) / ratings.len() as f64).round() as i64)
}

fn total(metrics: &[ConversationMetrics]) -> Figures {
    let mut all = Samples::default();
    metrics.iter().for_each(|m| all.conversation(m));
    all.figures()
}

/// Per queue (the queue each conversation entered).
pub fn by_queue(metrics: &[ConversationMetrics]) -> Report {
    let mut rows: BTreeMap<String, Samples> = BTreeMap::new();
    for m in metrics {
        rows.entry(m.queue.to_string()).or_default().conversation(m);
    }
    Report {
        rows: rows.into_iter().map(|(k, s)| (k, s.figures())).collect(),
        total: total(metrics),
    }
}

/// Per agent: each owner of a conversation handled it, with its own times as owner, the
/// transfers out of its hands and — for the last owner — the survey answer. No chat an agent
/// handled is abandoned, so an agent's `abandoned` is 0.
pub fn by_agent(metrics: &[ConversationMetrics]) -> Report {
    let mut rows: BTreeMap<String, Samples> = BTreeMap::new();
    for o in metrics.iter().flat_map(|m| &m.owners) {
        rows.entry(o.agent.to_string()).or_default().add(
            false,
            o.wait_ms,
            o.first_response_ms,
            Some(o.handle_ms),
            o.transfers,
            o.rating,
        );
    }
    Report {
        rows: rows.into_iter().map(|(k, s)| (k, s.figures())).collect(),
        total: total(metrics),
    }
}

/// The figure columns, after the queue or agent column, in the JSON's names.
pub const COLUMNS: [&str; 9] = [
    "handled",
    "abandoned",
    "wait_avg_ms",
    "wait_p90_ms",
    "first_response_avg_ms",
    "handle_avg_ms",
    "transfers",
    "surveys",
    "nps",
];

/// A report as CSV: a header (`key` — `queue` or `agent` — then [`COLUMNS`]), a row per queue
/// or agent, and a last row `total`. Empty cells where a figure is `None`.
pub fn report_csv(key: &str, report: &Report) -> String {
    let mut header = vec![key];
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
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_round_half_up_and_p90_is_the_nearest_rank() {
        assert_eq!(average(&[]), None);
        assert_eq!(average(&[1, 2]), Some(2));
        assert_eq!(average(&[1, 1, 2]), Some(1));
        assert_eq!(p90(&[]), None);
        assert_eq!(p90(&[7]), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(p90(&ten), Some(9), "rank ⌈9⌉ = 9");
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(p90(&eleven), Some(10), "rank ⌈9.9⌉ = 10");
    }

    #[test]
    fn nps_is_promoters_minus_detractors_in_percent_rounded() {
        assert_eq!(nps(&[]), None);
        assert_eq!(nps(&[10, 9, 8, 7]), Some(50));
        assert_eq!(nps(&[0, 6, 10]), Some(-33));
        assert_eq!(nps(&[9, 7, 3]), Some(0));
        assert_eq!(nps(&[10, 10, 3]), Some(33));
        assert_eq!(nps(&[10, 0, 0]), Some(-33));
        assert_eq!(nps(&[6, 6, 9, 9, 8, 8, 8, 8]), Some(0));
        assert_eq!(nps(&[9, 8]), Some(50));
        assert_eq!(
            nps(&[1, 7, 7, 7, 7, 7, 7, 7]),
            Some(-13),
            "−12.5 rounds away from zero"
        );
    }
}
