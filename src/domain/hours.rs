//! Hours of operation for live-chat channels.
//!
//! The storage and wire format follows the seed product's REST API (PascalCase JSON): a profile holds
//! one entry per (interaction type, day of week), each in its own IANA time zone and with a list of
//! operation periods, some of which may be breaks.
//!
//! Evaluation rules, as implemented by [`HoursProfile::is_open`]:
//!
//! - A channel for which the profile has no entry at all is open: no restriction is configured.
//! - Otherwise the instant is converted into each entry's own time zone, and an entry applies when the
//!   local weekday equals its `DayOfWeek`. If no entry applies, the channel is closed.
//! - The channel is open when, in some applying entry, the local time falls in a non-break period,
//!   and, in no applying entry, the local time falls in a break period.
//! - Periods are minute-inclusive: "09:00"–"17:00" includes 17:00:59 but not 17:01:00, so
//!   "00:00"–"23:59" covers the whole day. A period must end after it starts; overnight periods are
//!   modelled as two days, as in the seed.
//! - Entries that would fail validation (unknown zone or day, malformed or empty periods, too many
//!   periods) are skipped by `is_open`, which never panics; skipping an entry can only close a channel.
//!
//! (Over 500 lines because of its table-driven tests, which start at `mod tests`; the logic is
//! the first 300 lines.)

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The most operation periods (breaks included) that one day entry may hold.
pub const MAX_PERIODS_PER_DAY: usize = 48;

/// The channels that [`HoursProfile::always_open`] configures, as in the seed's default data.
pub const DEFAULT_CHANNELS: [&str; 2] = ["Chat", "TextMessage"];

/// The profile id that [`HoursProfile::always_open`] uses, as in the seed's default data.
pub const DEFAULT_PROFILE_ID: &str = "base";

/// The days of the week in the seed's spelling, Monday first.
const DAYS: [(&str, Weekday); 7] = [
    ("MONDAY", Weekday::Mon),
    ("TUESDAY", Weekday::Tue),
    ("WEDNESDAY", Weekday::Wed),
    ("THURSDAY", Weekday::Thu),
    ("FRIDAY", Weekday::Fri),
    ("SATURDAY", Weekday::Sat),
    ("SUNDAY", Weekday::Sun),
];

/// A named set of opening hours, one entry per interaction type and day of week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HoursProfile {
    pub profile_id: String,
    #[serde(rename = "data", alias = "Data", default)]
    pub data: Vec<DayHours>,
}

/// The opening hours of one interaction type on one day of the week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DayHours {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    pub interaction_type: String,
    pub day_of_week: String,
    pub time_zone_id: String,
    #[serde(default)]
    pub operation_period: Vec<OperationPeriod>,
}

/// A span of minutes within one day, either open time or a break.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationPeriod {
    #[serde(default)]
    pub operation_period_id: String,
    pub start_time: String,
    pub end_time: String,
    #[serde(default)]
    pub is_break: bool,
}

/// Why hours of operation are invalid.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HoursError {
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    #[error("unknown day of week {0:?}; expected MONDAY to SUNDAY")]
    UnknownDay(String),
    #[error("bad time {0:?}; expected HH:MM between 00:00 and 23:59")]
    BadTime(String),
    #[error("period {start}-{end} does not end after it starts")]
    EmptyPeriod { start: String, end: String },
    #[error("more than {MAX_PERIODS_PER_DAY} periods in one day")]
    TooManyPeriods,
    #[error("interaction type is empty")]
    EmptyInteractionType,
    #[error("more than one entry for {interaction_type} on {day_of_week}")]
    DuplicateDay {
        interaction_type: String,
        day_of_week: String,
    },
    #[error("entry belongs to profile {found:?}, not {expected:?}")]
    WrongProfile { expected: String, found: String },
}

impl OperationPeriod {
    /// A period with an empty id, from "HH:MM" start and end times; it is not checked here.
    pub fn new(start_time: &str, end_time: &str, is_break: bool) -> Self {
        Self {
            operation_period_id: String::new(),
            start_time: start_time.to_owned(),
            end_time: end_time.to_owned(),
            is_break,
        }
    }
}

impl DayHours {
    /// An entry without a profile id; it is not checked here (see [`HoursProfile::validate`]).
    pub fn new(
        interaction_type: &str,
        day_of_week: &str,
        time_zone_id: &str,
        operation_period: Vec<OperationPeriod>,
    ) -> Self {
        Self {
            profile_id: None,
            interaction_type: interaction_type.to_owned(),
            day_of_week: day_of_week.to_owned(),
            time_zone_id: time_zone_id.to_owned(),
            operation_period,
        }
    }
}

/// A day entry whose zone, day and periods have been parsed; periods are inclusive minute ranges.
struct ParsedDay {
    zone: Tz,
    day: Weekday,
    periods: Vec<(u32, u32, bool)>,
}

/// Parses a day name such as "MONDAY", ignoring case.
fn parse_day(s: &str) -> Option<Weekday> {
    DAYS.iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|&(_, day)| day)
}

/// Parses "HH:MM" (exactly two digits each, 00:00 to 23:59) into minutes since midnight.
fn parse_time(s: &str) -> Result<u32, HoursError> {
    let bad = || HoursError::BadTime(s.to_owned());
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return Err(bad());
    }
    let digit = |i: usize| match b[i] {
        c @ b'0'..=b'9' => Ok(u32::from(c - b'0')),
        _ => Err(bad()),
    };
    let hour = digit(0)? * 10 + digit(1)?;
    let minute = digit(3)? * 10 + digit(4)?;
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok(hour * 60 + minute)
}

/// Compares two names ignoring case, for interaction types.
fn same_name(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Checks one entry on its own and parses it for evaluation.
fn parse_entry(entry: &DayHours) -> Result<ParsedDay, HoursError> {
    if entry.interaction_type.trim().is_empty() {
        return Err(HoursError::EmptyInteractionType);
    }
    let zone = Tz::from_str(&entry.time_zone_id)
        .map_err(|_| HoursError::UnknownTimeZone(entry.time_zone_id.clone()))?;
    let day = parse_day(&entry.day_of_week)
        .ok_or_else(|| HoursError::UnknownDay(entry.day_of_week.clone()))?;
    if entry.operation_period.len() > MAX_PERIODS_PER_DAY {
        return Err(HoursError::TooManyPeriods);
    }
    let mut periods = Vec::with_capacity(entry.operation_period.len());
    for p in &entry.operation_period {
        let (start, end) = (parse_time(&p.start_time)?, parse_time(&p.end_time)?);
        if start >= end {
            return Err(HoursError::EmptyPeriod {
                start: p.start_time.clone(),
                end: p.end_time.clone(),
            });
        }
        periods.push((start, end, p.is_break));
    }
    Ok(ParsedDay { zone, day, periods })
}

impl HoursProfile {
    /// 24 hours a day, 7 days a week for the channels "Chat" and "TextMessage" in the given zone (as
    /// the seed's default data), under the profile id "base". The zone is not checked here.
    pub fn always_open(time_zone: &str) -> Self {
        let data = DEFAULT_CHANNELS
            .iter()
            .flat_map(|channel| {
                DAYS.iter().map(move |(day, _)| {
                    let mut period = OperationPeriod::new("00:00", "23:59", false);
                    period.operation_period_id = "1".to_owned();
                    DayHours::new(channel, day, time_zone, vec![period])
                })
            })
            .collect();
        Self {
            profile_id: DEFAULT_PROFILE_ID.to_owned(),
            data,
        }
    }

    /// Checks every entry: known IANA zone, day name MONDAY..SUNDAY (any case), non-empty interaction
    /// type, HH:MM times, start before end, at most [`MAX_PERIODS_PER_DAY`] periods per day, and no two
    /// entries for the same (interaction type, day), interaction types compared ignoring case.
    pub fn validate(&self) -> Result<(), HoursError> {
        let mut seen = HashSet::new();
        for entry in &self.data {
            let parsed = parse_entry(entry)?;
            // Folded like `same_name`, so that validation and lookups agree on what a duplicate is.
            let folded: String = entry
                .interaction_type
                .chars()
                .flat_map(char::to_lowercase)
                .collect();
            let key = (folded, parsed.day);
            if !seen.insert(key) {
                return Err(HoursError::DuplicateDay {
                    interaction_type: entry.interaction_type.clone(),
                    day_of_week: entry.day_of_week.clone(),
                });
            }
        }
        Ok(())
    }

    /// Replaces the entry for (interaction type, day of week), both compared ignoring case, or appends
    /// it when there is none; the entry is validated first. An entry that names a profile must name
    /// this one. Any further entries for the same key (invalid data from elsewhere) are removed.
    pub fn save_day(&mut self, day: DayHours) -> Result<(), HoursError> {
        if let Some(found) = &day.profile_id {
            if *found != self.profile_id {
                return Err(HoursError::WrongProfile {
                    expected: self.profile_id.clone(),
                    found: found.clone(),
                });
            }
        }
        let weekday = parse_entry(&day)?.day;
        let matches = |e: &DayHours| {
            same_name(&e.interaction_type, &day.interaction_type)
                && parse_day(&e.day_of_week) == Some(weekday)
        };
        match self.data.iter().position(&matches) {
            Some(at) => {
                let mut index = 0;
                self.data.retain(|e| {
                    let keep = index <= at || !matches(e);
                    index += 1;
                    keep
                });
                // `retain` kept every entry up to `at`, so the index is still in bounds.
                self.data[at] = day;
            }
            None => self.data.push(day),
        }
        Ok(())
    }

    /// Whether the channel (interaction type, compared ignoring case) is open at `at`, under the rules
    /// in the module documentation.
    pub fn is_open(&self, channel: &str, at: DateTime<Utc>) -> bool {
        let mut configured = false;
        let mut in_open_period = false;
        for entry in self
            .data
            .iter()
            .filter(|e| same_name(&e.interaction_type, channel))
        {
            configured = true;
            let Ok(parsed) = parse_entry(entry) else {
                continue;
            };
            let local = at.with_timezone(&parsed.zone);
            if local.weekday() != parsed.day {
                continue;
            }
            let minute = local.hour() * 60 + local.minute();
            for &(start, end, is_break) in &parsed.periods {
                if (start..=end).contains(&minute) {
                    if is_break {
                        return false;
                    }
                    in_open_period = true;
                }
            }
        }
        !configured || in_open_period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts whether `channel` is open at the RFC 3339 instant `at`.
    fn check(profile: &HoursProfile, channel: &str, at: &str, expected: bool) {
        let instant = DateTime::parse_from_rfc3339(at)
            .unwrap_or_else(|e| panic!("bad instant {at:?}: {e}"))
            .with_timezone(&Utc);
        let open = profile.is_open(channel, instant);
        assert_eq!(open, expected, "{channel} at {at} in {profile:?}");
    }

    #[test]
    fn is_open_follows_the_rules() {
        let ny = "America/New_York";
        let nine_to_five = || vec![OperationPeriod::new("09:00", "17:00", false)];
        let all = HoursProfile::always_open(ny);
        let none = HoursProfile {
            profile_id: "p".to_owned(),
            data: vec![],
        };
        let mut mon = none.clone();
        mon.data
            .push(DayHours::new("Chat", "MONDAY", ny, nine_to_five()));
        let mut brk = mon.clone();
        let lunch = OperationPeriod::new("12:00", "12:59", true);
        brk.data[0].operation_period.push(lunch);
        brk.data
            .push(DayHours::new("TextMessage", "monday", ny, nine_to_five()));
        let mut par = mon.clone();
        let paris_hours = vec![OperationPeriod::new("09:00", "18:00", false)];
        par.data.push(DayHours::new(
            "Chat",
            "Tuesday",
            "Europe/Paris",
            paris_hours,
        ));
        let mut bad = none.clone();
        let garbled = vec![OperationPeriod::new("9", "x", false)];
        bad.data
            .push(DayHours::new("Chat", "MONDAY", "Mars/Base", nine_to_five()));
        bad.data.push(DayHours::new("Chat", "MONDAY", ny, garbled));
        bad.data
            .push(DayHours::new("Chat", "FUNDAY", ny, nine_to_five()));
        // 2026-07-06 and 2026-01-05 are Mondays; New York is UTC-4 in July, UTC-5 in January;
        // Paris is UTC+2 in July, UTC+1 in January; US DST started on Sunday 2026-03-08.
        let cases: &[(&HoursProfile, &str, &str, bool)] = &[
            (&all, "Chat", "2026-07-06T03:59:59Z", true),
            (&all, "TextMessage", "2026-12-31T23:59:59Z", true),
            (&all, "chat", "2026-03-08T07:00:00Z", true), // just after the spring gap
            (&all, "Chat", "2026-11-01T05:30:00Z", true), // in the autumn overlap
            (&all, "Chat", "2026-07-07T04:00:00Z", true), // local midnight
            (&mon, "Chat", "2026-07-06T13:00:00Z", true), // 09:00 EDT
            (&mon, "Chat", "2026-07-06T12:59:59Z", false),
            (&mon, "Chat", "2026-07-06T14:00:00Z", true),
            (&mon, "Chat", "2026-07-06T21:00:59Z", true), // 17:00:59, end minute inclusive
            (&mon, "Chat", "2026-07-06T21:01:00Z", false),
            (&mon, "Chat", "2026-07-06T03:00:00Z", false), // UTC Monday, local Sunday
            (&mon, "Chat", "2026-07-07T02:00:00Z", false), // UTC Tuesday, local Monday 22:00
            (&mon, "Chat", "2026-07-07T14:00:00Z", false), // Tuesday has no entry
            (&mon, "Chat", "2026-01-05T13:30:00Z", false), // 08:30 EST
            (&mon, "Chat", "2026-01-05T14:00:00Z", true),  // 09:00 EST
            (&mon, "Chat", "2026-01-05T22:00:59Z", true),
            (&mon, "Chat", "2026-01-05T22:01:00Z", false),
            (&mon, "Chat", "2026-03-02T13:00:00Z", false), // 08:00 EST, before DST
            (&mon, "Chat", "2026-03-09T13:00:00Z", true),  // 09:00 EDT, after DST
            (&mon, "CHAT", "2026-07-06T14:00:00Z", true),
            (&mon, "TextMessage", "2026-07-07T14:00:00Z", true), // no entries: open
            (&none, "Chat", "2026-07-07T14:00:00Z", true),
            (&brk, "Chat", "2026-07-06T15:59:59Z", true), // 11:59:59
            (&brk, "Chat", "2026-07-06T16:30:00Z", false), // in the break
            (&brk, "Chat", "2026-07-06T16:59:59Z", false), // break end minute
            (&brk, "Chat", "2026-07-06T17:00:00Z", true),
            (&brk, "TextMessage", "2026-07-06T16:30:00Z", true), // other channel
            (&par, "Chat", "2026-07-07T07:00:00Z", true),        // 09:00 CEST Tuesday
            (&par, "Chat", "2026-07-07T06:59:59Z", false),
            (&par, "Chat", "2026-07-07T16:00:59Z", true),
            (&par, "Chat", "2026-07-07T16:01:00Z", false),
            (&par, "Chat", "2026-07-06T23:00:00Z", false), // 01:00 Tuesday Paris
            (&par, "Chat", "2026-01-06T08:00:00Z", true),  // 09:00 CET
            (&par, "Chat", "2026-01-06T07:59:00Z", false),
            (&par, "Chat", "2026-07-06T14:00:00Z", true), // the New York Monday entry
            (&bad, "Chat", "2026-07-06T14:00:00Z", false), // invalid entries are skipped
        ];
        for &(profile, channel, at, expected) in cases {
            check(profile, channel, at, expected);
        }
    }

    #[test]
    fn validate_reports_the_first_problem() {
        use HoursError::*;
        let ny = "America/New_York";
        let one = |start: &str, end: &str| OperationPeriod::new(start, end, false);
        let d =
            |c: &str, day: &str, start: &str| DayHours::new(c, day, ny, vec![one(start, "23:59")]);
        let e = |day: &str, zone: &str, start: &str, end: &str| {
            vec![DayHours::new("Chat", day, zone, vec![one(start, end)])]
        };
        let full = DayHours::new(
            "Chat",
            "MONDAY",
            ny,
            vec![one("09:00", "10:00"); MAX_PERIODS_PER_DAY],
        );
        let mut over = full.clone();
        over.operation_period
            .push(OperationPeriod::new("11:00", "12:00", true));
        let span = |start: &str, end: &str| EmptyPeriod {
            start: start.into(),
            end: end.into(),
        };
        let dup = DuplicateDay {
            interaction_type: "chat".into(),
            day_of_week: "monday".into(),
        };
        let cases: Vec<(Vec<DayHours>, Result<(), HoursError>)> = vec![
            (HoursProfile::always_open(ny).data, Ok(())),
            (e("monday", ny, "00:00", "23:59"), Ok(())),
            (vec![full], Ok(())),
            (vec![over], Err(TooManyPeriods)),
            (
                e("MONDAY", "Mars/Base", "09:00", "17:00"),
                Err(UnknownTimeZone("Mars/Base".into())),
            ),
            (
                e("FUNDAY", ny, "09:00", "17:00"),
                Err(UnknownDay("FUNDAY".into())),
            ),
            (
                e("MONDAY", ny, "09:00", "25:00"),
                Err(BadTime("25:00".into())),
            ),
            (
                e("MONDAY", ny, "9:00", "17:00"),
                Err(BadTime("9:00".into())),
            ),
            (
                e("MONDAY", ny, "09:60", "17:00"),
                Err(BadTime("09:60".into())),
            ),
            (
                e("MONDAY", ny, "17:00", "09:00"),
                Err(span("17:00", "09:00")),
            ),
            (
                e("MONDAY", ny, "09:00", "09:00"),
                Err(span("09:00", "09:00")),
            ),
            (vec![d(" ", "MONDAY", "09:00")], Err(EmptyInteractionType)),
            (
                vec![
                    d("Chat", "MONDAY", "09:00"),
                    d("TextMessage", "MONDAY", "09:00"),
                ],
                Ok(()),
            ),
            (
                vec![d("Chat", "MONDAY", "09:00"), d("chat", "monday", "10:00")],
                Err(dup),
            ),
        ];
        for (i, (data, expected)) in cases.into_iter().enumerate() {
            let profile = HoursProfile {
                profile_id: "p".to_owned(),
                data,
            };
            assert_eq!(profile.validate(), expected, "case {i}");
        }
    }

    #[test]
    fn save_day_replaces_or_inserts() {
        let ny = "America/New_York";
        let hours = |start: &str, end: &str| vec![OperationPeriod::new(start, end, false)];
        let mut profile = HoursProfile {
            profile_id: "p".to_owned(),
            data: vec![
                DayHours::new("Chat", "MONDAY", ny, hours("09:00", "17:00")),
                DayHours::new("Chat", "TUESDAY", ny, hours("09:00", "17:00")),
            ],
        };
        let replacement = DayHours::new("chat", "monday", ny, hours("10:00", "16:00"));
        assert_eq!(profile.save_day(replacement.clone()), Ok(()));
        assert_eq!(profile.data.len(), 2);
        assert_eq!(profile.data[0], replacement);

        let mut wednesday = DayHours::new("Chat", "WEDNESDAY", ny, hours("08:00", "12:00"));
        wednesday.profile_id = Some("p".to_owned());
        assert_eq!(profile.save_day(wednesday.clone()), Ok(()));
        assert_eq!(profile.data.len(), 3);
        assert_eq!(profile.data[2], wednesday);

        let before = profile.clone();
        let bad = DayHours::new("Chat", "MONDAY", ny, hours("18:00", "08:00"));
        assert!(matches!(
            profile.save_day(bad),
            Err(HoursError::EmptyPeriod { .. })
        ));
        let mut foreign = DayHours::new("Chat", "FRIDAY", ny, hours("08:00", "12:00"));
        foreign.profile_id = Some("other".to_owned());
        assert!(matches!(
            profile.save_day(foreign),
            Err(HoursError::WrongProfile { .. })
        ));
        assert_eq!(profile, before);
        assert_eq!(profile.validate(), Ok(()));

        // Duplicates that came from elsewhere collapse into the saved entry.
        let stray = DayHours::new("CHAT", "Tuesday", ny, hours("01:00", "02:00"));
        profile.data.push(stray);
        let tuesday = DayHours::new("Chat", "TUESDAY", ny, hours("07:00", "19:00"));
        assert_eq!(profile.save_day(tuesday.clone()), Ok(()));
        assert_eq!(profile.data.len(), 3);
        assert_eq!(profile.data[1], tuesday);
        assert_eq!(profile.validate(), Ok(()));
    }

    #[test]
    fn seed_json_round_trips() {
        let import = r#"{"ProfileId":"base","PK":"x","data":[
            {"InteractionType":"Chat","DayOfWeek":"MONDAY","TimeZoneId":"America/New_York",
             "CreatedBy":"admin","OperationPeriod":[
                {"OperationPeriodId":"1","StartTime":"00:00","EndTime":"23:59","IsBreak":false}]},
            {"InteractionType":"TextMessage","DayOfWeek":"TUESDAY","TimeZoneId":"America/New_York",
             "OperationPeriod":[{"StartTime":"09:00","EndTime":"17:00"}]}]}"#;
        let parse = |s: &str| serde_json::from_str::<HoursProfile>(s).unwrap();
        let profile = parse(import);
        assert_eq!(profile.profile_id, "base");
        assert_eq!(profile.data.len(), 2);
        assert_eq!(profile.data[0].operation_period[0].operation_period_id, "1");
        assert_eq!(
            profile.data[1].operation_period[0],
            OperationPeriod::new("09:00", "17:00", false)
        );
        assert_eq!(profile.validate(), Ok(()));

        let json = serde_json::to_value(&profile).unwrap();
        assert!(json.get("data").is_some() && json.get("Data").is_none());
        assert_eq!(json["data"][0]["OperationPeriod"][0]["IsBreak"], false);
        assert_eq!(parse(&json.to_string()), profile);

        let upper = import.replace("\"data\"", "\"Data\"");
        assert_eq!(parse(&upper), profile);

        let save = r#"{"ProfileId":"base","PK":"p#1","CreatedBy":"me","InteractionType":"Chat",
            "DayOfWeek":"THURSDAY","TimeZoneId":"America/New_York",
            "OperationPeriod":[{"OperationPeriodId":"1","StartTime":"09:00","EndTime":"12:00","IsBreak":true}]}"#;
        let day: DayHours = serde_json::from_str(save).unwrap();
        assert_eq!(day.profile_id.as_deref(), Some("base"));
        assert!(day.operation_period[0].is_break);
        let mut saved = profile.clone();
        assert_eq!(saved.save_day(day.clone()), Ok(()));
        assert_eq!(saved.data.last(), Some(&day));
        let round = serde_json::to_string(&day).unwrap();
        assert_eq!(serde_json::from_str::<DayHours>(&round).unwrap(), day);
    }
}
