//! The stored (serialized) forms of summaries and survey answers: what the Redis engine keeps
//! and what the archive writes as a row's body. [`ConversationSummary`] does not serialize its
//! org (REST answers never show it), so it is stored through [`StoredSummary`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::conversation::Status;
use crate::engine::{ConversationSummary, SurveyRecord};
use crate::ids::{AgentId, ConversationId, CustomerId, OrgId, QueueId, ReasonId};

/// The stored form of a [`ConversationSummary`] (which does not serialize its org).
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredSummary {
    pub(crate) org: OrgId,
    pub(crate) id: ConversationId,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) customer: Option<CustomerId>,
    pub(crate) customer_name: String,
    #[serde(default)]
    pub(crate) customer_email: Option<String>,
    #[serde(default)]
    pub(crate) queue: Option<QueueId>,
    #[serde(default)]
    pub(crate) reason: Option<ReasonId>,
    #[serde(default)]
    pub(crate) case_id: Option<String>,
    pub(crate) channel: String,
    #[serde(default)]
    pub(crate) owner: Option<AgentId>,
    #[serde(default)]
    pub(crate) agents: Vec<AgentId>,
    pub(crate) created_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) waiting_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) priority: i32,
    #[serde(default)]
    pub(crate) ended_at: Option<DateTime<Utc>>,
    pub(crate) last_seq: u64,
    pub(crate) messages: u64,
    #[serde(default)]
    pub(crate) disposition: Option<String>,
    #[serde(default)]
    pub(crate) survey_rating: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bot: Option<crate::engine::BotPhase>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tickets: Vec<String>,
}

impl From<&ConversationSummary> for StoredSummary {
    fn from(s: &ConversationSummary) -> Self {
        Self {
            org: s.org.clone(),
            id: s.id.clone(),
            status: s.status.as_str().to_string(),
            customer: s.customer.clone(),
            customer_name: s.customer_name.clone(),
            customer_email: s.customer_email.clone(),
            queue: s.queue.clone(),
            reason: s.reason.clone(),
            case_id: s.case_id.clone(),
            channel: s.channel.clone(),
            owner: s.owner.clone(),
            agents: s.agents.clone(),
            created_at: s.created_at,
            waiting_since: s.waiting_since,
            priority: s.priority,
            ended_at: s.ended_at,
            last_seq: s.last_seq,
            messages: s.messages,
            disposition: s.disposition.clone(),
            survey_rating: s.survey_rating,
            bot: s.bot.clone(),
            tickets: s.tickets.clone(),
        }
    }
}

impl StoredSummary {
    pub(crate) fn into_summary(self) -> Option<ConversationSummary> {
        Some(ConversationSummary {
            status: Status::parse(&self.status)?,
            id: self.id,
            org: self.org,
            customer: self.customer,
            customer_name: self.customer_name,
            customer_email: self.customer_email,
            queue: self.queue,
            reason: self.reason,
            case_id: self.case_id,
            channel: self.channel,
            owner: self.owner,
            agents: self.agents,
            created_at: self.created_at,
            waiting_since: self.waiting_since,
            priority: self.priority,
            ended_at: self.ended_at,
            last_seq: self.last_seq,
            messages: self.messages,
            disposition: self.disposition,
            survey_rating: self.survey_rating,
            bot: self.bot,
            tickets: self.tickets,
        })
    }
}

pub(crate) fn parse_summary(json: &str) -> Option<ConversationSummary> {
    match serde_json::from_str::<StoredSummary>(json) {
        Ok(s) => {
            let id = s.id.clone();
            let parsed = s.into_summary();
            if parsed.is_none() {
                tracing::error!(conversation = %id, "Stored summary has an unknown status; ignored.");
            }
            parsed
        }
        Err(err) => {
            tracing::error!(%err, "Stored summary does not parse; ignored.");
            None
        }
    }
}

/// The stored form of a [`SurveyRecord`].
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredSurvey {
    pub(crate) id: String,
    pub(crate) org: OrgId,
    pub(crate) conversation: ConversationId,
    pub(crate) customer: CustomerId,
    #[serde(default)]
    pub(crate) agent: Option<AgentId>,
    pub(crate) survey_type: String,
    pub(crate) rating: u8,
    #[serde(default)]
    pub(crate) comment: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

/// `SurveyRecord::survey_type` is a `&'static str`: the known types map back to themselves.
fn survey_type(s: &str) -> &'static str {
    match s {
        "NPS" => "NPS",
        "CSAT" => "CSAT",
        "CES" => "CES",
        _ => "other",
    }
}

impl From<SurveyRecord> for StoredSurvey {
    fn from(survey: SurveyRecord) -> Self {
        Self {
            id: survey.id,
            org: survey.org,
            conversation: survey.conversation,
            customer: survey.customer,
            agent: survey.agent,
            survey_type: survey.survey_type.to_string(),
            rating: survey.rating,
            comment: survey.comment,
            created_at: survey.created_at,
        }
    }
}

impl StoredSurvey {
    pub(crate) fn into_record(self) -> SurveyRecord {
        SurveyRecord {
            id: self.id,
            org: self.org,
            conversation: self.conversation,
            customer: self.customer,
            agent: self.agent,
            survey_type: survey_type(&self.survey_type),
            rating: self.rating,
            comment: self.comment,
            created_at: self.created_at,
        }
    }
}
