//! Chat reasons: the chips a customer picks from before a chat starts.
//!
//! Display rules, from the seed product: chips are shown in ascending `sequence` order, 0 first;
//! chips that share a sequence are shown together in alphabetical order; chips without a sequence
//! are shown in alphabetical order, after every sequenced chip. Alphabetical order ignores case,
//! then falls back to the exact name and then to the id, so that the order is total and
//! deterministic. At most [`MAX_SHOWN`] chips are shown, [`PAGE_SIZE`] at a time. When reasons are
//! configured, the customer must select one of the shown chips (see [`check_selection`]).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::ids::{QueueId, ReasonId};

/// The most reasons shown to a customer; the rest of the display order is cut off.
pub const MAX_SHOWN: usize = 20;
/// How many reasons are shown at a time, with next/previous controls between pages.
pub const PAGE_SIZE: usize = 5;
/// The longest reason name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest reason description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// A reason a customer can give for starting a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub id: ReasonId,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Display position; lower comes first, and reasons without one come after all that have one.
    #[serde(default)]
    pub sequence: Option<u32>,
    /// Queue that chats with this reason go to; None = the org's default queue.
    #[serde(default)]
    pub queue: Option<QueueId>,
}

/// Why a reason, or a customer's selection among reasons, is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReasonError {
    #[error("reason name is empty")]
    EmptyName,
    #[error("reason name is longer than {MAX_NAME_CHARS} characters")]
    NameTooLong,
    #[error("reason description is longer than {MAX_DESCRIPTION_CHARS} characters")]
    DescriptionTooLong,
    #[error("a reason must be selected")]
    SelectionRequired,
    #[error("reason {0} is not offered")]
    UnknownReason(ReasonId),
}

impl Reason {
    /// Checks that the name is not blank and that name and description are within their limits.
    pub fn validate(&self) -> Result<(), ReasonError> {
        if self.name.trim().is_empty() {
            return Err(ReasonError::EmptyName);
        }
        if self.name.chars().count() > MAX_NAME_CHARS {
            return Err(ReasonError::NameTooLong);
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ReasonError::DescriptionTooLong);
        }
        Ok(())
    }
}

/// Compares two reasons for display, as described in the module documentation.
fn display_cmp(a: &Reason, b: &Reason) -> Ordering {
    let position = |r: &Reason| (r.sequence.is_none(), r.sequence);
    position(a)
        .cmp(&position(b))
        .then_with(|| {
            let (a_chars, b_chars) = (a.name.chars(), b.name.chars());
            a_chars
                .flat_map(char::to_lowercase)
                .cmp(b_chars.flat_map(char::to_lowercase))
        })
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.id.cmp(&b.id))
}

/// The reasons in display order, at most MAX_SHOWN.
pub fn display_order(reasons: &[Reason]) -> Vec<&Reason> {
    let mut ordered: Vec<&Reason> = reasons.iter().collect();
    ordered.sort_by(|a, b| display_cmp(a, b));
    ordered.truncate(MAX_SHOWN);
    ordered
}

/// One page of the display order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonPage<'a> {
    /// The page asked for, counting from 1.
    pub page: usize,
    /// How many pages the shown reasons fill; 0 when there are none.
    pub pages: usize,
    /// How many reasons are shown in all, at most [`MAX_SHOWN`].
    pub total: usize,
    /// The reasons on this page, in display order.
    pub reasons: Vec<&'a Reason>,
}

/// One page (1-based) of the display order; a page out of range (0 or past the end) has no reasons
/// but correct totals.
pub fn page(reasons: &[Reason], page: usize) -> ReasonPage<'_> {
    let shown = display_order(reasons);
    let total = shown.len();
    let pages = total.div_ceil(PAGE_SIZE);
    let on_page = match page {
        0 => Vec::new(),
        p if p > pages => Vec::new(),
        p => shown
            .into_iter()
            .skip((p - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .collect(),
    };
    ReasonPage {
        page,
        pages,
        total,
        reasons: on_page,
    }
}

/// Checks a customer's selection: when reasons are configured one of the shown reasons must be
/// selected; when none are, no selection may be given. Returns the selected reason, if any.
pub fn check_selection<'a>(
    reasons: &'a [Reason],
    selected: Option<&ReasonId>,
) -> Result<Option<&'a Reason>, ReasonError> {
    match selected {
        None if reasons.is_empty() => Ok(None),
        None => Err(ReasonError::SelectionRequired),
        Some(id) => display_order(reasons)
            .into_iter()
            .find(|r| r.id == *id)
            .map(Some)
            .ok_or_else(|| ReasonError::UnknownReason(id.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds reasons from (name, sequence) pairs, with ids "r0", "r1", … in input order, and checks
    /// the names shown: the whole display order when `at` is None, otherwise page `at.0`, which must
    /// also report `at.1` pages and a total of min(input length, MAX_SHOWN).
    fn check(input: &[(&str, Option<u32>)], at: Option<(usize, usize)>, expected: &[&str]) {
        let reasons: Vec<Reason> = input
            .iter()
            .enumerate()
            .map(|(i, &(name, sequence))| Reason {
                id: ReasonId::parse(&format!("r{i}")).unwrap(),
                name: name.to_owned(),
                description: String::new(),
                sequence,
                queue: None,
            })
            .collect();
        let shown = match at {
            None => display_order(&reasons),
            Some((number, pages)) => {
                let p = page(&reasons, number);
                let total = input.len().min(MAX_SHOWN);
                assert_eq!(
                    (p.page, p.pages, p.total),
                    (number, pages, total),
                    "{input:?}"
                );
                p.reasons
            }
        };
        let names: Vec<&str> = shown.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, expected, "{input:?} at {at:?}");
    }

    #[test]
    fn display_order_and_paging() {
        let names: Vec<String> = (0..25).rev().map(|i| format!("Reason {i:02}")).collect();
        let many: Vec<(&str, Option<u32>)> = names.iter().map(|n| (n.as_str(), None)).collect();
        let sorted: Vec<&str> = names.iter().rev().map(String::as_str).collect();
        let seven = &many[..7]; // "Reason 24" down to "Reason 18"
        let sorted_seven: Vec<&str> = seven.iter().rev().map(|&(n, _)| n).collect();
        type Case<'a> = (
            &'a [(&'a str, Option<u32>)],
            Option<(usize, usize)>,
            Vec<&'a str>,
        );
        let cases: Vec<Case> = vec![
            (&[], None, vec![]),
            (&[("b", Some(1)), ("a", Some(0))], None, vec!["a", "b"]),
            (
                &[("b", Some(3)), ("c", Some(0)), ("a", Some(3))],
                None,
                vec!["c", "a", "b"],
            ),
            (
                &[("z", None), ("b", Some(7)), ("a", None)],
                None,
                vec!["b", "a", "z"],
            ),
            (&[("a", None), ("b", Some(u32::MAX))], None, vec!["b", "a"]),
            (
                &[("alpha", None), ("beta", None), ("Alpha", None)],
                None,
                vec!["Alpha", "alpha", "beta"],
            ),
            (
                &[("Zulu", Some(1)), ("apple", Some(1)), ("Banana", Some(1))],
                None,
                vec!["apple", "Banana", "Zulu"],
            ),
            (
                &[("Éclair", None), ("eclair", None), ("Zed", None)],
                None,
                vec!["eclair", "Zed", "Éclair"],
            ),
            (&many, None, sorted[..20].to_vec()),
            (&many, Some((1, 4)), sorted[..5].to_vec()),
            (&many, Some((2, 4)), sorted[5..10].to_vec()),
            (&many, Some((4, 4)), sorted[15..20].to_vec()),
            (&many, Some((5, 4)), vec![]),
            (&many, Some((0, 4)), vec![]),
            (&many, Some((usize::MAX, 4)), vec![]),
            (seven, Some((1, 2)), sorted_seven[..5].to_vec()),
            (seven, Some((2, 2)), sorted_seven[5..].to_vec()),
            (&[], Some((1, 0)), vec![]),
        ];
        for (input, at, expected) in cases {
            check(input, at, &expected);
        }
    }

    #[test]
    fn validation_and_selection() {
        let reason = |id: &str, name: &str, description: &str| Reason {
            id: ReasonId::parse(id).unwrap(),
            name: name.to_owned(),
            description: description.to_owned(),
            sequence: None,
            queue: None,
        };
        let long_name = "é".repeat(MAX_NAME_CHARS);
        let long_description = "é".repeat(MAX_DESCRIPTION_CHARS);
        let cases: Vec<(Reason, Result<(), ReasonError>)> = vec![
            (reason("r1", "Billing", ""), Ok(())),
            (reason("r1", &long_name, &long_description), Ok(())),
            (reason("r1", "", ""), Err(ReasonError::EmptyName)),
            (reason("r1", " \t\n", ""), Err(ReasonError::EmptyName)),
            (
                reason("r1", &format!("{long_name}x"), ""),
                Err(ReasonError::NameTooLong),
            ),
            (
                reason("r1", "Billing", &format!("{long_description}x")),
                Err(ReasonError::DescriptionTooLong),
            ),
        ];
        for (r, expected) in &cases {
            assert_eq!(r.validate(), *expected, "{r:?}");
        }

        // Equal names fall back to the id, whatever the input order.
        let twins = [reason("b", "Same", ""), reason("a", "Same", "")];
        let ids: Vec<&str> = display_order(&twins)
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b"]);

        let offered: Vec<Reason> = (0..21)
            .map(|i| reason(&format!("r{i:02}"), &format!("N{i:02}"), ""))
            .collect();
        let id = |s: &str| ReasonId::parse(s).unwrap();
        assert_eq!(check_selection(&[], None), Ok(None));
        assert_eq!(
            check_selection(&offered, None),
            Err(ReasonError::SelectionRequired)
        );
        assert_eq!(
            check_selection(&offered, Some(&id("r03"))),
            Ok(Some(&offered[3]))
        );
        assert_eq!(
            check_selection(&offered, Some(&id("r20"))),
            Err(ReasonError::UnknownReason(id("r20")))
        );
        assert_eq!(
            check_selection(&[], Some(&id("r00"))),
            Err(ReasonError::UnknownReason(id("r00")))
        );

        let json = r#"{"id":"r1","name":"Billing","sequence":2,"queue":"q_billing"}"#;
        let parsed: Reason = serde_json::from_str(json).unwrap();
        assert_eq!(
            (parsed.sequence, parsed.description.as_str()),
            (Some(2), "")
        );
        assert_eq!(
            parsed.queue.as_ref().map(QueueId::as_str),
            Some("q_billing")
        );
        let back: Reason = serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(back, parsed);
    }
}
