//! What one receiver has seen of one conversation: the last seq (to spot gaps and disorder) and
//! the messages delivered (to spot duplicates). A new follow (`joined`, or a resume the server
//! could not recover) starts a new tracker because the server replays from the beginning.

use std::collections::HashSet;

#[derive(Debug, Default)]
pub struct ConvTracker {
    last_seq: u64,
    epoch: Option<String>,
    messages: HashSet<u64>,
}

/// Whether an event broke the stream's promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Check {
    /// `seq` did not increase.
    pub out_of_order: bool,
    /// `prev` was not the last seq this receiver saw: something in between never arrived.
    pub gap: bool,
}

impl ConvTracker {
    pub fn event(&mut self, seq: u64, prev: u64, epoch: &str) -> Check {
        if self.epoch.as_deref() != Some(epoch) {
            self.epoch = Some(epoch.to_string());
        }
        if seq <= self.last_seq {
            return Check {
                out_of_order: true,
                gap: false,
            };
        }
        let gap = prev != self.last_seq;
        self.last_seq = seq;
        Check {
            out_of_order: false,
            gap,
        }
    }

    /// A message (by ledger number) arrived; false if this receiver already had it.
    pub fn message(&mut self, num: u64) -> bool {
        self.messages.insert(num)
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn epoch(&self) -> Option<&str> {
        self.epoch.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_disorder_and_duplicates() {
        let mut t = ConvTracker::default();
        assert_eq!(t.event(1, 0, "e"), Check::default());
        assert_eq!(t.event(2, 1, "e"), Check::default());
        assert_eq!(
            t.event(4, 3, "e"),
            Check {
                out_of_order: false,
                gap: true
            }
        );
        assert_eq!(
            t.event(3, 2, "e"),
            Check {
                out_of_order: true,
                gap: false
            }
        );
        assert_eq!(
            t.event(4, 3, "e"),
            Check {
                out_of_order: true,
                gap: false
            }
        );
        assert_eq!(t.last_seq(), 4);
        assert!(t.message(10));
        assert!(!t.message(10));
        // Customers: `prev` is the last public seq, so a jump in seq is no gap.
        let mut c = ConvTracker::default();
        assert_eq!(c.event(2, 0, "e"), Check::default());
        assert_eq!(c.event(7, 2, "e"), Check::default());
    }
}
