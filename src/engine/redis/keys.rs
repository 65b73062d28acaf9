//! The key schema and pub/sub channel names (docs/REDIS.md lists them all).
//!
//! Every key starts with `sb:`. All keys of one actor share a hash tag (`{org:c:ID}`,
//! `{org:a:ID}`, `{org:q:ID}`), so each Lua script touches a single slot on Redis Cluster; the
//! per-org indexes share `{org}`. Ids cannot contain `:`, `{` or `}` (see `crate::ids`), so
//! every key and channel name parses back unambiguously.

use crate::engine::{ActorRef, Topic};
use crate::ids::{
    AgentId, AgentKey, AttachmentId, ConvKey, ConversationId, CustomerId, OrgId, QueueId,
};

/// Membership: ZSET instance → last heartbeat (Redis clock, ms).
pub(super) const NODES: &str = "sb:nodes";
/// Org documents: HASH org id → OrgConfig JSON.
pub(super) const ORGS: &str = "sb:orgs";

const CH_PREFIX: &str = "sb:ch:";
const CH_ALL: &str = "sb:ch:all";
const CH_INST: &str = "sb:ch:inst:{";

/// The hash tag of an actor: `{org:c:ID}`, `{org:a:ID}` or `{org:q:ID}`.
pub(super) fn actor_tag(actor: &ActorRef) -> String {
    match actor {
        ActorRef::Conversation(k) => conv_tag(k),
        ActorRef::Agent(k) => format!("{{{}:a:{}}}", k.org, k.id),
        ActorRef::Queue(k) => format!("{{{}:q:{}}}", k.org, k.id),
    }
}

pub(super) fn conv_tag(conv: &ConvKey) -> String {
    format!("{{{}:c:{}}}", conv.org, conv.id)
}

/// The keys every actor has: its lease, fencing epoch and persisted state.
pub(super) struct ActorKeys {
    pub lease: String,
    pub epoch: String,
    pub state: String,
}

impl ActorKeys {
    pub fn new(actor: &ActorRef) -> Self {
        let tag = actor_tag(actor);
        Self {
            lease: format!("sb:{tag}:lease"),
            epoch: format!("sb:{tag}:epoch"),
            state: format!("sb:{tag}:state"),
        }
    }
}

/// The keys of a conversation's log and summary (same tag as its lease and epoch).
pub(super) struct ConvKeys {
    pub epoch: String,
    pub seq: String,
    pub log: String,
    pub dedup: String,
    pub gen: String,
    pub sum: String,
    /// SET of the ids of the attachments uploaded to it.
    pub atts: String,
}

impl ConvKeys {
    pub fn new(conv: &ConvKey) -> Self {
        let tag = conv_tag(conv);
        Self {
            epoch: format!("sb:{tag}:epoch"),
            seq: format!("sb:{tag}:seq"),
            log: format!("sb:{tag}:log"),
            dedup: format!("sb:{tag}:dedup"),
            gen: format!("sb:{tag}:gen"),
            sum: format!("sb:{tag}:sum"),
            atts: format!("sb:{tag}:atts"),
        }
    }
}

/// The per-org indexes of conversation summaries: ZSETs of conversation ids scored by
/// `created_at` in ms.
pub(super) struct OrgIndex<'a> {
    org: &'a OrgId,
}

impl<'a> OrgIndex<'a> {
    pub fn new(org: &'a OrgId) -> Self {
        Self { org }
    }
    pub fn all(&self) -> String {
        format!("sb:{{{}}}:convs", self.org)
    }
    pub fn customer(&self, c: &CustomerId) -> String {
        format!("sb:{{{}}}:cust:{c}", self.org)
    }
    pub fn agent(&self, a: &AgentId) -> String {
        format!("sb:{{{}}}:agent:{a}", self.org)
    }
    pub fn case(&self, case: &str) -> String {
        format!("sb:{{{}}}:case:{case}", self.org)
    }
    pub fn status(&self, status: &str) -> String {
        format!("sb:{{{}}}:status:{status}", self.org)
    }
    pub fn queue(&self, q: &QueueId) -> String {
        format!("sb:{{{}}}:queue:{q}", self.org)
    }
    pub fn queue_status(&self, q: &QueueId, status: &str) -> String {
        format!("sb:{{{}}}:queue:{q}:status:{status}", self.org)
    }
    /// A per-agent JSON document (`kind`: `canned`, …): a STRING.
    pub fn agent_doc(&self, a: &AgentId, kind: &str) -> String {
        format!("sb:{{{}}}:agentdoc:{a}:{kind}", self.org)
    }
    /// Survey answers: a LIST of JSON records, oldest first.
    /// Survey answers written before they were kept by conversation: a list, read and
    /// trimmed, never written.
    pub fn surveys(&self) -> String {
        format!("sb:{{{}}}:surveys", self.org)
    }
    /// Survey answers by conversation id (one per conversation): a hash whose field goes when
    /// the conversation leaves hot storage.
    pub fn survey_by_conversation(&self) -> String {
        format!("sb:{{{}}}:survey", self.org)
    }
    /// An attachment's metadata: a JSON string.
    pub fn attachment(&self, id: &AttachmentId) -> String {
        format!("sb:{{{}}}:att:{id}", self.org)
    }

    /// Hash: conversation id → the last seq written to the archive.
    pub fn archived(&self) -> String {
        format!("sb:{{{}}}:archived", self.org)
    }
}

/// The set of actors an instance claimed and has not released.
pub(super) fn owned(instance: &str) -> String {
    format!("sb:inst:{{{instance}}}:owned")
}

/// The short-lived lock that elects one reaper of a gone instance.
pub(super) fn reap(instance: &str) -> String {
    format!("sb:reap:{{{instance}}}")
}

pub(super) fn channel(topic: &Topic) -> String {
    match topic {
        Topic::Instance(i) => format!("{CH_INST}{i}}}"),
        Topic::Broadcast => CH_ALL.to_string(),
        Topic::Conversation(k) => format!("{CH_PREFIX}{}", conv_tag(k)),
        Topic::Agent(k) => format!("{CH_PREFIX}{{{}:a:{}}}", k.org, k.id),
        Topic::Customers(org) => format!("{CH_PREFIX}{{{org}:u:all}}"),
    }
}

/// The topic a channel name stands for; `None` for a name this engine does not produce.
pub(super) fn topic(channel: &str) -> Option<Topic> {
    if channel == CH_ALL {
        return Some(Topic::Broadcast);
    }
    if let Some(rest) = channel.strip_prefix(CH_INST) {
        return rest
            .strip_suffix('}')
            .map(|i| Topic::Instance(i.to_string()));
    }
    let inner = channel.strip_prefix("sb:ch:{")?.strip_suffix('}')?;
    let mut parts = inner.split(':');
    let (org, kind, id) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let org = OrgId::parse(org).ok()?;
    match kind {
        "c" => Some(Topic::Conversation(ConvKey {
            org,
            id: ConversationId::parse(id).ok()?,
        })),
        "a" => Some(Topic::Agent(AgentKey {
            org,
            id: AgentId::parse(id).ok()?,
        })),
        "u" if id == "all" => Some(Topic::Customers(org)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip_and_keys_share_a_tag() {
        let org = OrgId::parse("demo").expect("id");
        let conv = ConvKey {
            org: org.clone(),
            id: ConversationId::parse("c123").expect("id"),
        };
        let agent = AgentKey {
            org,
            id: AgentId::parse("al@x.com").expect("id"),
        };
        for t in [
            Topic::Broadcast,
            Topic::Instance("node-1-0a1b2c3d".into()),
            Topic::Conversation(conv.clone()),
            Topic::Agent(agent),
            Topic::Customers(OrgId::parse("demo").expect("id")),
        ] {
            assert_eq!(topic(&channel(&t)), Some(t));
        }
        assert_eq!(topic("sb:ch:{demo:x:1}"), None);
        assert_eq!(topic("other"), None);
        let k = ConvKeys::new(&conv);
        assert_eq!(k.log, "sb:{demo:c:c123}:log");
        let a = ActorKeys::new(&ActorRef::Conversation(conv));
        assert_eq!(a.lease, "sb:{demo:c:c123}:lease");
        assert_eq!(a.epoch, k.epoch);
    }
}
