//! The wire: server frames as the generator reads them (only the fields it uses) and the
//! client frames it writes. Shapes follow `src/protocol/{client,server,events}.rs`.

use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Incoming {
    Ack {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        data: Option<Value>,
    },
    Error {
        #[serde(default)]
        id: Option<String>,
        code: String,
        #[serde(default)]
        message: String,
    },
    Event {
        conversation: String,
        seq: u64,
        prev: u64,
        #[serde(default)]
        epoch: String,
        /// Boxed: an event has many optional fields, and most frames are events anyway.
        event: Box<Event>,
    },
    Signal(Signal),
    Goodbye {
        reason: String,
        #[serde(default)]
        retry_after_ms: Option<u64>,
    },
}

#[derive(Debug, Deserialize)]
pub struct Signal {
    pub signal: String,
    #[serde(default)]
    pub conversation: Option<String>,
    #[serde(default)]
    pub customer_name: Option<String>,
    #[serde(default)]
    pub recovered: Option<bool>,
    #[serde(default)]
    pub outcome: Option<String>,
    /// `invitation`: the role offered.
    #[serde(default)]
    pub role: Option<String>,
    /// `presence`: chats the agent owns, and its limit.
    #[serde(default)]
    pub assigned: Option<u32>,
    #[serde(default)]
    pub max_chats: Option<u32>,
}

/// A log event, flattened: `kind` says which of the optional fields are there.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub kind: String,
    pub author: Author,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub client_msg_id: Option<String>,
    /// Participant role for `participant_joined` / `participant_left` (and `invited`).
    #[serde(default)]
    pub role: Option<String>,
    /// `"public"` or `"agents"`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// `participant_joined` / `participant_left` / `role_changed`: the agent.
    #[serde(default)]
    pub participant: Option<String>,
    /// `invited`, `invite_ended`, `ownership_changed`, `transfer_accepted`: an agent;
    /// `role_changed`: a role.
    #[serde(default)]
    pub to: Option<String>,
    /// `ownership_changed`, `transfer_accepted`: an agent; `role_changed`: a role.
    #[serde(default)]
    pub from: Option<String>,
    /// `invite_ended`.
    #[serde(default)]
    pub outcome: Option<String>,
    /// `handed_over`: `bot`, `customer` or `timeout`.
    #[serde(default)]
    pub by: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Author {
    pub role: String,
    #[serde(default)]
    pub id: Option<String>,
}

/// A conversation this client has seen up to `last_seq`, for `hello`'s `resume` list.
pub fn resume_point(conversation: &str, last_seq: u64, epoch: Option<&str>) -> Value {
    let mut v = json!({ "conversation": conversation, "last_seq": last_seq });
    if let Some(e) = epoch {
        v["epoch"] = json!(e);
    }
    v
}

pub fn hello(id: &str, token: &str, resume: &[Value]) -> String {
    json!({ "type": "hello", "id": id, "token": token, "resume": resume }).to_string()
}

/// The client commands the generator issues; `frame()` gives the JSON without the request id.
pub fn start(reason: &str) -> Value {
    json!({ "type": "start", "reason": reason })
}

pub fn send(conversation: &str, client_msg_id: &str, text: &str) -> Value {
    json!({ "type": "send", "conversation": conversation, "client_msg_id": client_msg_id, "text": text })
}

pub fn end(conversation: &str) -> Value {
    json!({ "type": "end", "conversation": conversation })
}

pub fn survey(conversation: &str, rating: u8) -> Value {
    json!({ "type": "survey", "conversation": conversation, "rating": rating, "comment": "load test" })
}

pub fn status_available() -> Value {
    json!({ "type": "status", "presence": "available" })
}

/// `accept` / `reject` / `transfer_accept` / `wrap_up` … : a command naming one conversation.
pub fn on_conversation(kind: &str, conversation: &str) -> Value {
    json!({ "type": kind, "conversation": conversation })
}

pub fn wrap_up(conversation: &str, disposition: Option<&str>) -> Value {
    let mut v = on_conversation("wrap_up", conversation);
    if let Some(d) = disposition {
        v["disposition"] = json!(d);
    }
    v
}

pub fn transfer_to_queue(conversation: &str, queue: &str) -> Value {
    json!({ "type": "transfer", "conversation": conversation, "to_queue": queue })
}

pub fn transfer_to_agent(conversation: &str, agent: &str) -> Value {
    json!({ "type": "transfer", "conversation": conversation, "to_agent": agent })
}

/// `role`: `"conference"` or `"consult"`.
pub fn invite(conversation: &str, role: &str, agent: &str) -> Value {
    json!({ "type": "invite", "conversation": conversation, "role": role, "to_agent": agent })
}

/// An invitation to a queue: the server offers it to an available agent of that queue.
pub fn invite_to_queue(conversation: &str, role: &str, queue: &str) -> Value {
    json!({ "type": "invite", "conversation": conversation, "role": role, "to_queue": queue })
}

/// `to`: `"transfer"` (the consultant owns the chat) or `"conference"`.
pub fn consult_convert(conversation: &str, agent: &str, to: &str) -> Value {
    json!({ "type": "consult_convert", "conversation": conversation, "agent": agent, "to": to })
}

/// A supervisor's `monitor`: `mode` is `observe`, `coach` or `barge`.
pub fn monitor(conversation: &str, mode: &str) -> Value {
    json!({ "type": "monitor", "conversation": conversation, "mode": mode })
}

/// A message in the conversation's internal discussion (agents only).
pub fn internal(conversation: &str, client_msg_id: &str, text: &str) -> Value {
    json!({ "type": "internal", "conversation": conversation, "client_msg_id": client_msg_id, "text": text })
}

pub fn remove(conversation: &str, agent: &str) -> Value {
    json!({ "type": "remove", "conversation": conversation, "agent": agent })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_server_frames() {
        let f: Incoming = serde_json::from_str(
            r#"{"type":"signal","signal":"offer","conversation":"c_1","queue":"general","expires_in_ms":30000,"customer_name":"Load C3"}"#,
        )
        .expect("offer");
        assert!(
            matches!(f, Incoming::Signal(Signal { ref signal, customer_name: Some(ref n), .. }) if signal == "offer" && n == "Load C3")
        );
        let f: Incoming = serde_json::from_str(
            r#"{"type":"event","conversation":"c_1","seq":5,"prev":4,"epoch":"e1","event":{"seq":5,"at":"2024-01-01T00:00:00Z","author":{"role":"customer","id":"v_1"},"visibility":"public","kind":"message","text":"hi","client_msg_id":"c1"}}"#,
        )
        .expect("event");
        assert!(
            matches!(f, Incoming::Event { seq: 5, prev: 4, ref event, .. } if event.kind == "message" && event.client_msg_id.as_deref() == Some("c1"))
        );
        let f: Incoming = serde_json::from_str(r#"{"type":"ack","id":"3"}"#).expect("ack");
        assert!(matches!(f, Incoming::Ack { id: Some(ref i), data: None } if i == "3"));
        let f: Incoming = serde_json::from_str(
            r#"{"type":"error","id":"4","code":"rate_limited","message":"slow down"}"#,
        )
        .expect("error");
        assert!(matches!(f, Incoming::Error { ref code, .. } if code == "rate_limited"));
        let f: Incoming = serde_json::from_str(
            r#"{"type":"signal","signal":"presence","presence":"available","assigned":2,"max_chats":3}"#,
        )
        .expect("presence");
        assert!(matches!(
            f,
            Incoming::Signal(Signal {
                assigned: Some(2),
                max_chats: Some(3),
                ..
            })
        ));
        let f: Incoming = serde_json::from_str(
            r#"{"type":"event","conversation":"c_1","seq":9,"prev":8,"epoch":"e1","event":{"seq":9,"author":{"role":"agent","id":"al"},"visibility":"agents","kind":"invite_ended","to":"bo","role":"consult","outcome":"expired"}}"#,
        )
        .expect("invite_ended");
        assert!(
            matches!(f, Incoming::Event { ref event, .. } if event.to.as_deref() == Some("bo") && event.outcome.as_deref() == Some("expired") && event.author.id.as_deref() == Some("al"))
        );
    }
}
