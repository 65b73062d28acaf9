//! Conversation summaries (with their indexes), survey answers and org documents.
//!
//! A summary lives under its conversation's hash tag (`sb:{org:c:ID}:sum`); the per-org
//! indexes are ZSETs of conversation ids scored by `created_at` (ms) under the org's tag, one
//! per lookup the runtime makes often: by customer, agent, case id, status, queue, and queue +
//! status ("waiting in queue Q"). `put_summary` reads the previous summary and moves the
//! conversation between index sets in one pipeline. Summaries have a single writer (the
//! conversation's actor); an index entry that is stale anyway is harmless, because every
//! candidate is re-checked with [`ConversationFilter::matches`] against the summary itself.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use redis::Value;

use super::conn::{array, text};
use super::keys::{self, ConvKeys, OrgIndex};
use super::Shared;
use crate::domain::org::OrgConfig;
use crate::engine::stored::{parse_summary, StoredSummary, StoredSurvey};
use crate::engine::{
    AttachmentRecord, ConversationFilter, ConversationSummary, EngineError, SurveyRecord,
};
use crate::ids::{AttachmentId, ConvKey, ConversationId, OrgId, QueueId};

/// An archived conversation leaves hot storage: its keys (log, seq, dedup, generation,
/// summary, fencing epoch, actor state) get a `PEXPIRE` of the grace period — Redis forgets
/// them even if no node is left to remember — and its index entries go at once (the archive
/// lists it from now on), as does the archiver's marker. With a zero `after` the keys are
/// deleted at once (`Engine::forget_conversation`).
pub(super) async fn expire_conversation(
    shared: &Shared,
    conv: &ConvKey,
    after: std::time::Duration,
) -> Result<(), EngineError> {
    let keys = conv_keys(&conv.org, &conv.id);
    let old: Option<String> = shared.conns.cmd(redis::cmd("GET").arg(&keys.sum)).await?;
    let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX).max(1);
    let actor = super::keys::ActorKeys::new(&crate::engine::ActorRef::Conversation(conv.clone()));
    let mut pipe = redis::pipe();
    for key in [
        &keys.log,
        &keys.seq,
        &keys.dedup,
        &keys.gen,
        &keys.sum,
        &keys.epoch,
        &keys.atts,
        &actor.state,
    ] {
        if after.is_zero() {
            pipe.cmd("DEL").arg(key).ignore();
        } else {
            pipe.cmd("PEXPIRE").arg(key).arg(ms).ignore();
        }
    }
    if let Some(old) = old.as_deref().and_then(parse_summary) {
        for index in index_keys(&old) {
            pipe.cmd("ZREM").arg(index).arg(conv.id.as_str()).ignore();
        }
    }
    pipe.cmd("HDEL")
        .arg(OrgIndex::new(&conv.org).archived())
        .arg(conv.id.as_str())
        .ignore();
    // The archive has its survey answer too: the org's hot list of answers keeps live ones.
    pipe.cmd("HDEL")
        .arg(OrgIndex::new(&conv.org).survey_by_conversation())
        .arg(conv.id.as_str())
        .ignore();
    shared.conns.pipe::<()>(&pipe).await
}

/// Every index set a summary belongs to.
fn index_keys(s: &ConversationSummary) -> HashSet<String> {
    let idx = OrgIndex::new(&s.org);
    let status = s.status.as_str();
    let mut out = HashSet::new();
    out.insert(idx.all());
    if let Some(c) = &s.customer {
        out.insert(idx.customer(c));
    }
    out.insert(idx.status(status));
    for a in &s.agents {
        out.insert(idx.agent(a));
    }
    if let Some(c) = &s.case_id {
        out.insert(idx.case(c));
    }
    if let Some(q) = &s.queue {
        out.insert(idx.queue(q));
        out.insert(idx.queue_status(q, status));
    }
    out
}

fn conv_keys(org: &OrgId, id: &ConversationId) -> ConvKeys {
    ConvKeys::new(&ConvKey {
        org: org.clone(),
        id: id.clone(),
    })
}

pub(super) async fn put_summary(
    shared: &Shared,
    summary: ConversationSummary,
) -> Result<(), EngineError> {
    let keys = conv_keys(&summary.org, &summary.id);
    let json = serde_json::to_string(&StoredSummary::from(&summary))
        .map_err(|e| EngineError::Other(format!("serializing a summary: {e}")))?;
    let old: Option<String> = shared.conns.cmd(redis::cmd("GET").arg(&keys.sum)).await?;
    let old = old.as_deref().and_then(parse_summary);
    let new_keys = index_keys(&summary);
    let id = summary.id.as_str();
    let mut pipe = redis::pipe();
    if let Some(old) = &old {
        for stale in index_keys(old).difference(&new_keys) {
            pipe.cmd("ZREM").arg(stale).arg(id).ignore();
        }
    }
    pipe.cmd("SET").arg(&keys.sum).arg(json).ignore();
    let score = summary.created_at.timestamp_millis();
    for key in &new_keys {
        pipe.cmd("ZADD").arg(key).arg(score).arg(id).ignore();
    }
    shared.conns.pipe::<()>(&pipe).await
}

pub(super) async fn summary(
    shared: &Shared,
    conv: &ConvKey,
) -> Result<Option<ConversationSummary>, EngineError> {
    let keys = ConvKeys::new(conv);
    let json: Option<String> = shared.conns.cmd(redis::cmd("GET").arg(&keys.sum)).await?;
    Ok(json
        .as_deref()
        .and_then(parse_summary)
        .filter(|s| s.org == conv.org && s.id == conv.id))
}

/// One index set being read newest first.
struct Source {
    key: String,
    offset: usize,
    buf: VecDeque<(String, f64)>,
    done: bool,
}

/// Newest first (ties by id), like the memory engine: walks the most selective index set(s)
/// newest first, checks each candidate's summary against the filter, and stops once it has
/// `limit` matches and has passed every candidate created in the same millisecond as the last.
pub(super) async fn find(
    shared: &Shared,
    org: &OrgId,
    filter: ConversationFilter,
) -> Result<Vec<ConversationSummary>, EngineError> {
    let limit = filter.limit.max(1);
    let idx = OrgIndex::new(org);
    let status = filter.status.map(|s| s.as_str());
    let keys: Vec<String> = if let Some(c) = &filter.customer {
        vec![idx.customer(c)]
    } else if let Some(c) = &filter.case_id {
        vec![idx.case(c)]
    } else if let Some(a) = &filter.agent {
        vec![idx.agent(a)]
    } else if let Some(qs) = &filter.queues {
        let unique: HashSet<&QueueId> = qs.iter().collect();
        unique
            .into_iter()
            .map(|q| match status {
                Some(st) => idx.queue_status(q, st),
                None => idx.queue(q),
            })
            .collect()
    } else if let Some(st) = status {
        vec![idx.status(st)]
    } else {
        vec![idx.all()]
    };
    let page = (limit + limit / 2).clamp(16, 1000);
    let mut sources: Vec<Source> = keys
        .into_iter()
        .map(|key| Source {
            key,
            offset: 0,
            buf: VecDeque::new(),
            done: false,
        })
        .collect();
    let mut seen = HashSet::new();
    let mut found: Vec<ConversationSummary> = Vec::new();
    let mut boundary: Option<f64> = None;
    let from_ms = filter.created_from.map(|f| f.timestamp_millis() as f64);
    'outer: loop {
        refill(shared, &mut sources, page).await?;
        let mut chunk: Vec<(String, f64)> = Vec::with_capacity(page);
        while chunk.len() < page {
            if sources.iter().any(|s| s.buf.is_empty() && !s.done) {
                break;
            }
            let best = sources
                .iter_mut()
                .filter(|s| !s.buf.is_empty())
                .max_by(|a, b| {
                    let (ia, sa) = &a.buf[0];
                    let (ib, sb) = &b.buf[0];
                    sa.total_cmp(sb).then_with(|| ib.cmp(ia))
                });
            let Some(best) = best else { break };
            let Some((id, score)) = best.buf.pop_front() else {
                break;
            };
            if seen.insert(id.clone()) {
                chunk.push((id, score));
            }
        }
        if chunk.is_empty() {
            if sources.iter().all(|s| s.done && s.buf.is_empty()) {
                break;
            }
            continue;
        }
        let mut pipe = redis::pipe();
        for (id, _) in &chunk {
            match ConversationId::parse(id) {
                Ok(cid) => pipe.cmd("GET").arg(conv_keys(org, &cid).sum),
                // Not an id this engine writes: a GET of nothing keeps the replies aligned.
                Err(_) => pipe.cmd("GET").arg("sb:-"),
            };
        }
        let rows: Vec<Option<String>> = shared.conns.pipe(&pipe).await?;
        for ((_, score), row) in chunk.iter().zip(rows) {
            // Scores are creation times in ms, newest first: past the page's last one, or
            // older than the range's start, nothing further can match.
            if boundary.is_some_and(|b| *score < b) || from_ms.is_some_and(|f| *score < f) {
                break 'outer;
            }
            let Some(s) = row.as_deref().and_then(parse_summary) else {
                continue;
            };
            if &s.org != org || !filter.matches(&s) {
                continue;
            }
            found.push(s);
            if found.len() == limit && boundary.is_none() {
                boundary = Some(*score);
            }
        }
    }
    found.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    found.truncate(limit);
    Ok(found)
}

/// Reads the next page of every source whose buffer ran dry, in one round trip.
async fn refill(shared: &Shared, sources: &mut [Source], page: usize) -> Result<(), EngineError> {
    let need: Vec<usize> = (0..sources.len())
        .filter(|&i| sources[i].buf.is_empty() && !sources[i].done)
        .collect();
    if need.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for &i in &need {
        let s = &sources[i];
        pipe.cmd("ZREVRANGE")
            .arg(&s.key)
            .arg(s.offset)
            .arg(s.offset + page - 1)
            .arg("WITHSCORES");
    }
    let replies: Vec<Value> = shared.conns.pipe(&pipe).await?;
    for (&i, reply) in need.iter().zip(replies) {
        let items = scored(reply);
        let s = &mut sources[i];
        s.offset += items.len();
        s.done = items.len() < page;
        s.buf.extend(items);
    }
    Ok(())
}

/// A `WITHSCORES` reply: flat `[member, score, ...]` (RESP2) or pairs (RESP3).
fn scored(v: Value) -> Vec<(String, f64)> {
    let items = array(v).unwrap_or_default();
    let score = |v: &Value| match v {
        Value::Double(d) => Some(*d),
        other => text(other)?.parse::<f64>().ok(),
    };
    if items.iter().all(|i| matches!(i, Value::Array(_))) {
        items
            .into_iter()
            .filter_map(|pair| {
                let pair = array(pair)?;
                Some((text(pair.first()?)?, score(pair.get(1)?)?))
            })
            .collect()
    } else {
        items
            .chunks(2)
            .filter_map(|kv| Some((text(&kv[0])?, score(kv.get(1)?)?)))
            .collect()
    }
}

pub(super) async fn put_attachment(
    shared: &Shared,
    record: AttachmentRecord,
) -> Result<(), EngineError> {
    let json = serde_json::to_string(&record)
        .map_err(|e| EngineError::Other(format!("serializing an attachment: {e}")))?;
    let key = OrgIndex::new(&record.org).attachment(&record.id);
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg(key).arg(json).ignore();
    pipe.cmd("SADD")
        .arg(conv_keys(&record.org, &record.conversation).atts)
        .arg(record.id.as_str())
        .ignore();
    shared.conns.pipe::<()>(&pipe).await
}

pub(super) async fn attachment(
    shared: &Shared,
    org: &OrgId,
    id: &AttachmentId,
) -> Result<Option<AttachmentRecord>, EngineError> {
    let json: Option<String> = shared
        .conns
        .cmd(redis::cmd("GET").arg(OrgIndex::new(org).attachment(id)))
        .await?;
    json.map(|j| {
        serde_json::from_str(&j)
            .map_err(|e| EngineError::Other(format!("reading an attachment: {e}")))
    })
    .transpose()
}

pub(super) async fn put_survey(shared: &Shared, survey: SurveyRecord) -> Result<(), EngineError> {
    let stored = StoredSurvey::from(survey);
    let json = serde_json::to_string(&stored)
        .map_err(|e| EngineError::Other(format!("serializing a survey: {e}")))?;
    let key = OrgIndex::new(&stored.org).survey_by_conversation();
    shared
        .conns
        .cmd::<()>(
            redis::cmd("HSET")
                .arg(key)
                .arg(stored.conversation.as_str())
                .arg(json),
        )
        .await
}

pub(super) async fn surveys(
    shared: &Shared,
    org: &OrgId,
) -> Result<Vec<SurveyRecord>, EngineError> {
    let idx = OrgIndex::new(org);
    let mut pipe = redis::pipe();
    pipe.cmd("HVALS").arg(idx.survey_by_conversation());
    pipe.cmd("LRANGE").arg(idx.surveys()).arg(0).arg(-1);
    let (by_conversation, legacy): (Vec<String>, Vec<String>) = shared.conns.pipe(&pipe).await?;
    let mut out: Vec<SurveyRecord> = legacy
        .iter()
        .chain(&by_conversation)
        .filter_map(|json| match serde_json::from_str::<StoredSurvey>(json) {
            Ok(s) => Some(s.into_record()),
            Err(err) => {
                tracing::error!(%org, %err, "Stored survey does not parse; skipped.");
                None
            }
        })
        .collect();
    // Oldest first, each answer once (one written before and after the change of key).
    out.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    out.dedup_by(|later, first| later.id == first.id);
    Ok(out)
}

pub(super) async fn put_org(shared: &Shared, org: Arc<OrgConfig>) -> Result<(), EngineError> {
    let json = serde_json::to_string(&*org)
        .map_err(|e| EngineError::Other(format!("serializing org {}: {e}", org.id)))?;
    shared
        .conns
        .cmd::<()>(
            redis::cmd("HSET")
                .arg(keys::ORGS)
                .arg(org.id.as_str())
                .arg(json),
        )
        .await
}

pub(super) async fn load_orgs(shared: &Shared) -> Result<Vec<Arc<OrgConfig>>, EngineError> {
    let rows: Vec<String> = shared
        .conns
        .cmd(redis::cmd("HVALS").arg(keys::ORGS))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|json| match serde_json::from_str::<OrgConfig>(json) {
            Ok(o) => Some(Arc::new(o)),
            Err(err) => {
                tracing::error!(%err, "Stored org does not parse; skipped.");
                None
            }
        })
        .collect())
}
