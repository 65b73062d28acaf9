//! The memory engine: everything in this process's memory. The embedded default — `cargo run`
//! needs nothing else — and the reference behaviour the Redis engine is tested against.
//!
//! Logs live in sharded maps so that appends to different conversations from different actor
//! threads rarely contend. Nothing survives a restart; each process start is a new log epoch.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::Utc;
use parking_lot::Mutex;

use super::*;

const SHARDS: usize = 64;

#[derive(Default)]
struct ConvLog {
    events: Vec<Arc<LogEvent>>,
    /// dedup key → seq of the event it produced.
    dedup: DedupMap,
}

/// Conversation summaries with the indexes the hot lookups need: a customer's conversations
/// (every `start` and customer `hello`) and an agent's (agent activation), so neither scans
/// the whole org.
#[derive(Default)]
struct Summaries {
    rows: HashMap<OrgId, HashMap<ConversationId, ConversationSummary>>,
    by_customer: HashMap<(OrgId, CustomerId), Vec<ConversationId>>,
    by_agent: HashMap<(OrgId, AgentId), Vec<ConversationId>>,
}

/// Removes `id` from the index entry under `key`, and the entry once it is empty.
fn unindex<K: std::hash::Hash + Eq>(
    index: &mut HashMap<K, Vec<ConversationId>>,
    key: K,
    id: &ConversationId,
) {
    if let std::collections::hash_map::Entry::Occupied(mut e) = index.entry(key) {
        e.get_mut().retain(|x| x != id);
        if e.get().is_empty() {
            e.remove();
        }
    }
}

impl Summaries {
    fn put(&mut self, summary: ConversationSummary) {
        let org = summary.org.clone();
        let rows = self.rows.entry(org.clone()).or_default();
        let previous = rows.get(&summary.id);
        if let (None, Some(customer)) = (previous, &summary.customer) {
            self.by_customer
                .entry((org.clone(), customer.clone()))
                .or_default()
                .push(summary.id.clone());
        }
        for agent in &summary.agents {
            if !previous.is_some_and(|p| p.agents.contains(agent)) {
                self.by_agent
                    .entry((org.clone(), agent.clone()))
                    .or_default()
                    .push(summary.id.clone());
            }
        }
        rows.insert(summary.id.clone(), summary);
    }

    /// Forgets a conversation's row and its index entries.
    fn remove(&mut self, conv: &ConvKey) {
        let Some(old) = self
            .rows
            .get_mut(&conv.org)
            .and_then(|m| m.remove(&conv.id))
        else {
            return;
        };
        // An index entry left empty goes too: every customer is a new key, so empty ones would
        // add up with every finished chat.
        if let Some(customer) = &old.customer {
            unindex(
                &mut self.by_customer,
                (conv.org.clone(), customer.clone()),
                &conv.id,
            );
        }
        for agent in &old.agents {
            unindex(
                &mut self.by_agent,
                (conv.org.clone(), agent.clone()),
                &conv.id,
            );
        }
    }

    fn find(&self, org: &OrgId, filter: &ConversationFilter) -> Vec<ConversationSummary> {
        let Some(rows) = self.rows.get(org) else {
            return Vec::new();
        };
        let candidates: Box<dyn Iterator<Item = &ConversationSummary>> =
            if let Some(c) = &filter.customer {
                let ids = self.by_customer.get(&(org.clone(), c.clone()));
                Box::new(ids.into_iter().flatten().filter_map(|id| rows.get(id)))
            } else if let Some(a) = &filter.agent {
                let ids = self.by_agent.get(&(org.clone(), a.clone()));
                Box::new(ids.into_iter().flatten().filter_map(|id| rows.get(id)))
            } else {
                Box::new(rows.values())
            };
        candidates.filter(|s| filter.matches(s)).cloned().collect()
    }
}

/// See the module docs.
pub struct MemoryEngine {
    epoch: Arc<str>,
    /// A `parking_lot::Mutex` per shard, not a Tokio one: no await happens while it is held.
    logs: Vec<Mutex<HashMap<ConvKey, ConvLog>>>,
    summaries: Mutex<Summaries>,
    surveys: Mutex<HashMap<OrgId, Vec<SurveyRecord>>>,
    attachments: Mutex<HashMap<(OrgId, AttachmentId), AttachmentRecord>>,
    orgs: Mutex<HashMap<OrgId, Arc<OrgConfig>>>,
    /// Per-agent documents by (org, agent, kind).
    agent_docs: Mutex<HashMap<(OrgId, AgentId, &'static str), String>>,
    /// The archiver's markers: the last seq of each conversation written to the archive.
    archived: Mutex<HashMap<ConvKey, u64>>,
    /// Archived conversations to forget, by deadline (FIFO: one grace period for all). Purged
    /// on the next read after the deadline, so no read sees one past it.
    expiring: Mutex<std::collections::VecDeque<(std::time::Instant, ConvKey)>>,
    /// Conversations forgotten at once while this engine held them (erasure): an activation
    /// still running may not write them back (the Redis engine fences it instead). Ids are
    /// never reused; only conversations that were here are kept, so it grows with erasures only.
    forgotten: Mutex<std::collections::HashSet<ConvKey>>,
}

impl Default for MemoryEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryEngine {
    pub fn new() -> Self {
        let raw = uuid::Uuid::new_v4().simple().to_string();
        Self {
            epoch: Arc::from(format!("m{}", &raw[..12])),
            logs: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            summaries: Mutex::new(Summaries::default()),
            surveys: Mutex::new(HashMap::new()),
            attachments: Mutex::new(HashMap::new()),
            orgs: Mutex::new(HashMap::new()),
            archived: Mutex::new(HashMap::new()),
            expiring: Mutex::new(std::collections::VecDeque::new()),
            agent_docs: Mutex::new(HashMap::new()),
            forgotten: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Forgets every archived conversation whose grace period is over: log, dedup keys,
    /// summary, index entries and marker.
    fn purge_expired(&self) {
        let now = std::time::Instant::now();
        let due: Vec<ConvKey> = {
            let mut expiring = self.expiring.lock();
            let mut due = Vec::new();
            while expiring.front().is_some_and(|(at, _)| *at <= now) {
                if let Some((_, key)) = expiring.pop_front() {
                    due.push(key);
                }
            }
            due
        };
        for key in due {
            let _ = self.drop_hot(&key);
        }
    }

    /// Forgets a conversation's log, dedup keys, summary, index entries and marker (the
    /// hot-grace drop, and the first part of forgetting it at once).
    /// Returns whether the engine had its log.
    fn drop_hot(&self, key: &ConvKey) -> bool {
        let had = self.shard(key).lock().remove(key).is_some();
        self.summaries.lock().remove(key);
        self.archived.lock().remove(key);
        // The archive has its survey answer: the hot list keeps the live conversations' only.
        if let Some(list) = self.surveys.lock().get_mut(&key.org) {
            list.retain(|s| s.conversation != key.id);
        }
        had
    }

    fn shard(&self, conv: &ConvKey) -> &Mutex<HashMap<ConvKey, ConvLog>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        conv.hash(&mut h);
        // The modulo keeps the index in range, so indexing cannot panic.
        &self.logs[(h.finish() as usize) % SHARDS]
    }

    /// Appends synchronously; the trait method wraps this in a ready future.
    pub fn append_now(&self, conv: &ConvKey, events: Vec<NewEvent>) -> Vec<Appended> {
        let mut shard = self.shard(conv).lock();
        let log = shard.entry(conv.clone()).or_default();
        let now = Utc::now();
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            if let Some(key) = &e.dedup_key {
                if let Some(seq) = log.dedup.get(key) {
                    // seq n is stored at index n - 1; seqs start at 1.
                    if let Some(existing) = log.events.get((seq - 1) as usize) {
                        out.push(Appended {
                            event: existing.clone(),
                            epoch: self.epoch.clone(),
                            duplicate: true,
                        });
                        continue;
                    }
                }
            }
            let seq = log.events.len() as u64 + 1;
            let event = Arc::new(LogEvent {
                seq,
                at: now,
                visibility: e.kind.visibility(),
                author: e.author,
                kind: e.kind,
                redacted: false,
            });
            if let Some(key) = e.dedup_key {
                log.dedup.insert(key, seq);
            }
            log.events.push(event.clone());
            out.push(Appended {
                event,
                epoch: self.epoch.clone(),
                duplicate: false,
            });
        }
        out
    }

    pub fn read_now(&self, conv: &ConvKey, after_seq: u64, limit: usize) -> Option<LogSlice> {
        let shard = self.shard(conv).lock();
        let log = shard.get(conv)?;
        let start = (after_seq as usize).min(log.events.len());
        let end = start.saturating_add(limit).min(log.events.len());
        Some(LogSlice {
            epoch: self.epoch.clone(),
            events: log.events[start..end].to_vec(),
            last_seq: log.events.len() as u64,
        })
    }
}

fn ready<T: Send + 'static>(v: T) -> EngineFuture<T> {
    Box::pin(std::future::ready(Ok(v)))
}

impl Engine for MemoryEngine {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn append(
        &self,
        conv: &ConvKey,
        _fence: Fence,
        _prev_public: u64,
        events: Vec<NewEvent>,
    ) -> EngineFuture<Vec<Appended>> {
        if self.forgotten.lock().contains(conv) {
            return Box::pin(std::future::ready(Err(EngineError::Other(
                "the conversation was erased".into(),
            ))));
        }
        ready(self.append_now(conv, events))
    }

    fn read_log(
        &self,
        conv: &ConvKey,
        after_seq: u64,
        limit: usize,
    ) -> EngineFuture<Option<LogSlice>> {
        self.purge_expired();
        ready(self.read_now(conv, after_seq, limit))
    }

    fn put_summary(&self, summary: ConversationSummary) -> EngineFuture<()> {
        let key = ConvKey {
            org: summary.org.clone(),
            id: summary.id.clone(),
        };
        if self.forgotten.lock().contains(&key) {
            return ready(());
        }
        self.summaries.lock().put(summary);
        ready(())
    }

    fn summary(&self, conv: &ConvKey) -> EngineFuture<Option<ConversationSummary>> {
        self.purge_expired();
        let found = self
            .summaries
            .lock()
            .rows
            .get(&conv.org)
            .and_then(|m| m.get(&conv.id))
            .cloned();
        ready(found)
    }

    fn find_conversations(
        &self,
        org: &OrgId,
        filter: ConversationFilter,
    ) -> EngineFuture<Vec<ConversationSummary>> {
        self.purge_expired();
        let mut found = self.summaries.lock().find(org, &filter);
        found.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        found.truncate(filter.limit.max(1));
        ready(found)
    }

    fn put_survey(&self, survey: SurveyRecord) -> EngineFuture<()> {
        self.surveys
            .lock()
            .entry(survey.org.clone())
            .or_default()
            .push(survey);
        ready(())
    }

    fn surveys(&self, org: &OrgId) -> EngineFuture<Vec<SurveyRecord>> {
        ready(self.surveys.lock().get(org).cloned().unwrap_or_default())
    }

    fn mark_archived(&self, conv: &ConvKey, seq: u64) -> EngineFuture<()> {
        let mut marks = self.archived.lock();
        let mark = marks.entry(conv.clone()).or_default();
        *mark = (*mark).max(seq);
        ready(())
    }

    fn expire_conversation(&self, conv: &ConvKey, after: std::time::Duration) -> EngineFuture<()> {
        self.purge_expired();
        let at = std::time::Instant::now() + after;
        // A conversation expired twice (archived again after a late survey) is purged at the
        // first deadline; the second finds nothing.
        self.expiring.lock().push_back((at, conv.clone()));
        ready(())
    }

    fn forget_conversation(&self, conv: &ConvKey) -> EngineFuture<()> {
        if self.drop_hot(conv) {
            self.forgotten.lock().insert(conv.clone());
        }
        self.expiring.lock().retain(|(_, k)| k != conv);
        self.attachments
            .lock()
            .retain(|(org, _), r| !(org == &conv.org && r.conversation == conv.id));
        ready(())
    }

    fn archived_marks(&self, org: &OrgId, ids: Vec<ConversationId>) -> EngineFuture<Vec<u64>> {
        let marks = self.archived.lock();
        ready(
            ids.into_iter()
                .map(|id| {
                    let key = ConvKey {
                        org: org.clone(),
                        id,
                    };
                    marks.get(&key).copied().unwrap_or(0)
                })
                .collect(),
        )
    }

    fn agent_doc(
        &self,
        org: &OrgId,
        agent: &AgentId,
        kind: &'static str,
    ) -> EngineFuture<Option<String>> {
        let key = (org.clone(), agent.clone(), kind);
        ready(self.agent_docs.lock().get(&key).cloned())
    }

    fn put_agent_doc(
        &self,
        org: &OrgId,
        agent: &AgentId,
        kind: &'static str,
        json: String,
    ) -> EngineFuture<()> {
        let key = (org.clone(), agent.clone(), kind);
        self.agent_docs.lock().insert(key, json);
        ready(())
    }

    fn put_attachment(&self, record: AttachmentRecord) -> EngineFuture<()> {
        self.attachments
            .lock()
            .insert((record.org.clone(), record.id.clone()), record);
        ready(())
    }

    fn attachment(&self, org: &OrgId, id: &AttachmentId) -> EngineFuture<Option<AttachmentRecord>> {
        ready(
            self.attachments
                .lock()
                .get(&(org.clone(), id.clone()))
                .cloned(),
        )
    }

    fn conversation_attachments(&self, conv: &ConvKey) -> EngineFuture<Vec<AttachmentRecord>> {
        let mut found: Vec<AttachmentRecord> = self
            .attachments
            .lock()
            .iter()
            .filter(|((org, _), r)| org == &conv.org && r.conversation == conv.id)
            .map(|(_, r)| r.clone())
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        ready(found)
    }

    fn delete_attachment(&self, org: &OrgId, id: &AttachmentId) -> EngineFuture<()> {
        self.attachments.lock().remove(&(org.clone(), id.clone()));
        ready(())
    }

    fn put_org(&self, org: Arc<OrgConfig>) -> EngineFuture<()> {
        self.orgs.lock().insert(org.id.clone(), org);
        ready(())
    }

    fn load_orgs(&self) -> EngineFuture<Vec<Arc<OrgConfig>>> {
        ready(self.orgs.lock().values().cloned().collect())
    }

    fn check_ready(&self) -> EngineFuture<()> {
        ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_message as msg;

    fn key() -> ConvKey {
        ConvKey {
            org: OrgId::parse("o").expect("id"),
            id: ConversationId::parse("c").expect("id"),
        }
    }

    #[test]
    fn seqs_are_consecutive_and_duplicates_return_the_original() {
        let e = MemoryEngine::new();
        let k = key();
        let a = e.append_now(&k, vec![msg("one", Some("m1")), msg("two", Some("m2"))]);
        assert_eq!(
            a.iter().map(|x| x.event.seq).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let again = e.append_now(&k, vec![msg("one (retry)", Some("m1")), msg("three", None)]);
        assert!(again[0].duplicate);
        assert_eq!(again[0].event.seq, 1);
        assert!(matches!(&again[0].event.kind, EventKind::Message { text, .. } if text == "one"));
        assert_eq!(again[1].event.seq, 3);
        let slice = e.read_now(&k, 1, 10).expect("log exists");
        assert_eq!(
            slice.events.iter().map(|x| x.seq).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(slice.last_seq, 3);
        assert!(e
            .read_now(&k, 99, 10)
            .expect("log exists")
            .events
            .is_empty());
    }

    fn summary(id: &str, customer: &str, agents: &[&str]) -> ConversationSummary {
        ConversationSummary {
            id: ConversationId::parse(id).expect("id"),
            org: OrgId::parse("o").expect("id"),
            status: crate::domain::conversation::Status::Assigned,
            customer: Some(CustomerId::parse(customer).expect("id")),
            customer_name: "C".into(),
            customer_email: None,
            queue: None,
            reason: None,
            case_id: None,
            channel: "chat".into(),
            owner: None,
            agents: agents
                .iter()
                .map(|a| AgentId::parse(a).expect("id"))
                .collect(),
            created_at: Utc::now(),
            waiting_since: None,
            priority: 0,
            ended_at: None,
            last_seq: 1,
            messages: 0,
            disposition: None,
            survey_rating: None,
            bot: None,
            tickets: Vec::new(),
        }
    }

    #[test]
    fn lookups_by_customer_and_agent_use_the_indexes_without_duplicates() {
        let e = MemoryEngine::new();
        let org = OrgId::parse("o").expect("id");
        e.summaries.lock().put(summary("c1", "ann", &[]));
        e.summaries.lock().put(summary("c1", "ann", &["al"]));
        e.summaries.lock().put(summary("c1", "ann", &["al", "bo"]));
        e.summaries.lock().put(summary("c2", "ann", &["bo"]));
        e.summaries.lock().put(summary("c3", "ben", &["al"]));
        let find = |filter: ConversationFilter| {
            let mut ids: Vec<String> = e
                .summaries
                .lock()
                .find(&org, &filter)
                .into_iter()
                .map(|s| s.id.to_string())
                .collect();
            ids.sort();
            ids
        };
        let by_customer = |c: &str| ConversationFilter {
            customer: Some(CustomerId::parse(c).expect("id")),
            limit: 10,
            ..Default::default()
        };
        let by_agent = |a: &str| ConversationFilter {
            agent: Some(AgentId::parse(a).expect("id")),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(find(by_customer("ann")), ["c1", "c2"]);
        assert_eq!(find(by_customer("ben")), ["c3"]);
        assert_eq!(find(by_agent("al")), ["c1", "c3"]);
        assert_eq!(find(by_agent("bo")), ["c1", "c2"]);
        assert!(find(by_customer("nobody")).is_empty());
    }
}
