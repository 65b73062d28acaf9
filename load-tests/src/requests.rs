//! Requests a client has sent and not yet seen answered, by request id. The frame text is kept
//! so that a request can be sent again, unchanged, after a reconnect or a `rate_limited` reply.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Pending<R> {
    pub req: R,
    pub id: String,
    pub frame: String,
    /// When it was first sent (for send → ack latency).
    pub first_sent: Instant,
    /// When it was last sent (for timeouts).
    pub last_sent: Instant,
    pub tries: u32,
}

pub struct Requests<R> {
    next: u64,
    map: HashMap<String, Pending<R>>,
}

impl<R> Default for Requests<R> {
    fn default() -> Self {
        Self {
            next: 0,
            map: HashMap::new(),
        }
    }
}

impl<R> Requests<R> {
    /// Registers a request and returns its frame text (the command with an `id` added).
    pub fn issue(&mut self, req: R, mut command: Value) -> String {
        self.next += 1;
        let id = format!("r{}", self.next);
        command["id"] = Value::String(id.clone());
        let frame = command.to_string();
        let now = Instant::now();
        self.map.insert(
            id.clone(),
            Pending {
                req,
                id,
                frame: frame.clone(),
                first_sent: now,
                last_sent: now,
                tries: 1,
            },
        );
        frame
    }

    pub fn take(&mut self, id: Option<&str>) -> Option<Pending<R>> {
        self.map.remove(id?)
    }

    /// Puts a request back to be sent again; returns its frame text.
    pub fn retry(&mut self, mut p: Pending<R>) -> String {
        p.tries += 1;
        p.last_sent = Instant::now();
        let frame = p.frame.clone();
        self.map.insert(p.id.clone(), p);
        frame
    }

    /// Requests sent longer ago than `timeout`, removed.
    pub fn expired(&mut self, timeout: Duration) -> Vec<Pending<R>> {
        let now = Instant::now();
        let ids: Vec<String> = self
            .map
            .values()
            .filter(|p| now.duration_since(p.last_sent) >= timeout)
            .map(|p| p.id.clone())
            .collect();
        ids.iter().filter_map(|id| self.map.remove(id)).collect()
    }

    /// Every pending request's frame (to send again on a new connection), oldest first.
    pub fn resend_all(&mut self) -> Vec<(String, &R)> {
        let now = Instant::now();
        let mut all: Vec<&mut Pending<R>> = self.map.values_mut().collect();
        all.sort_by_key(|p| p.first_sent);
        all.into_iter()
            .map(|p| {
                p.last_sent = now;
                p.tries += 1;
                (p.frame.clone(), &p.req)
            })
            .collect()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_take_retry() {
        let mut r = Requests::default();
        let f = r.issue("a", serde_json::json!({"type": "ping"}));
        assert!(f.contains(r#""id":"r1""#));
        let p = r.take(Some("r1")).expect("pending");
        assert!(r.is_empty());
        assert_eq!(r.retry(p), f);
        assert_eq!(r.resend_all().len(), 1);
        assert_eq!(r.expired(Duration::from_secs(60)).len(), 0);
        assert_eq!(r.expired(Duration::ZERO).len(), 1);
    }
}
