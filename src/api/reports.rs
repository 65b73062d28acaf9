//! Reports (issue 14): per queue and per agent, for a date range, from the archive — chats
//! handled and abandoned, wait (average and p90), first response, handle time, transfers,
//! surveys and NPS, and the bot's share (chats it handled alone, handed over, its time: issue
//! 15) — as JSON or CSV. Supervisors and admins of the org only. The figures are
//! defined in docs/PROTOCOL.md §9.10 and computed in `domain::report` (per conversation, when
//! archived) and `domain::figures` (the aggregation).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::conversations::{file, is_date, time_bound, Format};
use super::{ApiError, ApiResult, Authed};
use crate::actors::Rt;
use crate::domain::figures::{self, Figures, ReportBy};
use crate::protocol::CommandError;

/// The default range: the last 7 days.
const DEFAULT_DAYS: i64 = 7;
/// The longest range a report covers.
const MAX_DAYS: i64 = 366;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/reports/queues", web::get().to(queues))
        .route("/v1/reports/agents", web::get().to(agents));
}

#[derive(Deserialize)]
struct ReportQuery {
    /// A date (`2026-12-01`, UTC midnight) or an RFC 3339 time; default `to` − 7 days.
    #[serde(default)]
    from: Option<String>,
    /// A date (its whole day, UTC) or an RFC 3339 time, inclusive; default now.
    #[serde(default)]
    to: Option<String>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    format: Option<String>,
}

/// A report's time range: conversations that ended in `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
}

fn bad(message: String) -> ApiError {
    ApiError(CommandError::bad_request(message))
}

/// A bound (`conversations::time_bound`); a time given as `to` is included too: the range
/// ends one microsecond after it.
fn bound(name: &str, raw: &str, end: bool) -> Result<DateTime<Utc>, ApiError> {
    let at = time_bound(name, raw, end)?;
    Ok(if end && !is_date(raw) {
        at + Duration::microseconds(1)
    } else {
        at
    })
}

impl Range {
    fn parse(from: Option<&str>, to: Option<&str>, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let until = match to {
            Some(raw) => bound("to", raw, true)?,
            None => now,
        };
        let from = match from {
            Some(raw) => bound("from", raw, false)?,
            None => until - Duration::days(DEFAULT_DAYS),
        };
        if from >= until {
            return Err(bad("from must be before to".into()));
        }
        if until - from > Duration::days(MAX_DAYS) {
            return Err(bad(format!("a report covers at most {MAX_DAYS} days")));
        }
        Ok(Range { from, until })
    }

    /// `from` and `to` as answered: both included.
    fn shown(&self) -> (String, String) {
        let last = self.until - Duration::microseconds(1);
        (
            self.from.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            last.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )
    }
}

fn figures_json(f: &Figures) -> serde_json::Map<String, Value> {
    let values = [
        json!(f.handled),
        json!(f.abandoned),
        json!(f.wait_avg_ms),
        json!(f.wait_p90_ms),
        json!(f.first_response_avg_ms),
        json!(f.handle_avg_ms),
        json!(f.transfers),
        json!(f.surveys),
        json!(f.nps),
        json!(f.bot_only),
        json!(f.handed_over),
        json!(f.bot_avg_ms),
    ];
    figures::COLUMNS
        .iter()
        .map(|c| c.to_string())
        .zip(values)
        .collect()
}

/// One report, as JSON or CSV, for the caller's org.
async fn report(rt: &Rt, who: &Authed, q: ReportQuery, by: ReportBy) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let format = Format::parse(q.format.as_deref(), &[Format::Json, Format::Csv])?;
    let range = Range::parse(q.from.as_deref(), q.to.as_deref(), Utc::now())?;
    let report = rt
        .archive()
        .report(&staff.org, range.from, range.until, by)
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?;
    let key = by.key();
    let (from, to) = range.shown();
    if format == Format::Csv {
        let name = format!(
            "report-{key}s-{}-{}.csv",
            range.from.format("%Y-%m-%d"),
            (range.until - Duration::microseconds(1)).format("%Y-%m-%d")
        );
        return Ok(file(
            figures::report_csv(by, &report),
            "text/csv; charset=utf-8",
            &name,
        ));
    }
    let rows: Vec<Value> = report
        .rows
        .iter()
        .map(|(id, f)| {
            let mut row = serde_json::Map::new();
            row.insert(key.to_string(), json!(id));
            row.extend(figures_json(f));
            Value::Object(row)
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "from": from,
        "to": to,
        "rows": rows,
        "total": figures_json(&report.total),
    })))
}

async fn queues(
    rt: web::Data<Rt>,
    who: Authed,
    q: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    report(&rt, &who, q.into_inner(), ReportBy::Queue).await
}

async fn agents(
    rt: web::Data<Rt>,
    who: Authed,
    q: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    report(&rt, &who, q.into_inner(), ReportBy::Agent).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn ranges_take_dates_or_times_with_to_included() {
        let now = at("2026-12-10T12:00:00Z");
        let r = |from: Option<&str>, to: Option<&str>| Range::parse(from, to, now).ok();
        assert_eq!(
            r(Some("2026-12-01"), Some("2026-12-01")),
            Some(Range {
                from: at("2026-12-01T00:00:00Z"),
                until: at("2026-12-02T00:00:00Z")
            })
        );
        assert_eq!(
            r(
                Some("2026-12-01T08:00:00+01:00"),
                Some("2026-12-01T09:00:00Z")
            ),
            Some(Range {
                from: at("2026-12-01T07:00:00Z"),
                until: at("2026-12-01T09:00:00.000001Z")
            })
        );
        assert_eq!(
            r(None, None),
            Some(Range {
                from: at("2026-12-03T12:00:00Z"),
                until: now
            }),
            "the last 7 days"
        );
        assert_eq!(
            r(Some("2026-12-01"), Some("2026-12-01")).map(|r| r.shown()),
            Some((
                "2026-12-01T00:00:00Z".into(),
                "2026-12-01T23:59:59.999999Z".into()
            ))
        );
        // A leap year's 366 days pass; one more day does not.
        assert!(r(Some("2028-01-01"), Some("2028-12-31")).is_some());
        assert!(r(Some("2028-01-01"), Some("2029-01-01")).is_none());
        assert!(r(Some("2026-12-02"), Some("2026-12-01")).is_none());
        assert!(r(Some("2026-12-01T10:00:00Z"), Some("2026-12-01T09:59:59Z")).is_none());
        for bad in ["yesterday", "2026-13-01", "2026-12-01 10:00", "1"] {
            assert!(r(Some(bad), None).is_none(), "{bad}");
            assert!(r(None, Some(bad)).is_none(), "{bad}");
        }
    }
}
