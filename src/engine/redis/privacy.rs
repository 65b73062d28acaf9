//! Forgetting a conversation at once (customer erasure, retention) and the attachment lookups
//! that need: everything the hot-grace drop removes (`store::expire_conversation` with a zero
//! delay deletes instead of expiring), plus its lease, its attachment records and its entries
//! in the org's survey list.

use super::keys::{ActorKeys, ConvKeys, OrgIndex};
use super::Shared;
use crate::engine::stored::StoredSurvey;
use crate::engine::{ActorRef, AttachmentRecord, EngineError};
use crate::ids::{AttachmentId, ConvKey, OrgId};

pub(super) async fn conversation_attachments(
    shared: &Shared,
    conv: &ConvKey,
) -> Result<Vec<AttachmentRecord>, EngineError> {
    let mut ids: Vec<String> = shared
        .conns
        .cmd(redis::cmd("SMEMBERS").arg(ConvKeys::new(conv).atts))
        .await?;
    ids.sort();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Ok(id) = AttachmentId::parse(&id) else {
            continue;
        };
        if let Some(r) = super::store::attachment(shared, &conv.org, &id).await? {
            out.push(r);
        }
    }
    Ok(out)
}

pub(super) async fn delete_attachment(
    shared: &Shared,
    org: &OrgId,
    id: &AttachmentId,
) -> Result<(), EngineError> {
    let record = super::store::attachment(shared, org, id).await?;
    let mut pipe = redis::pipe();
    pipe.cmd("DEL")
        .arg(OrgIndex::new(org).attachment(id))
        .ignore();
    if let Some(r) = record {
        let conv = ConvKey {
            org: org.clone(),
            id: r.conversation,
        };
        pipe.cmd("SREM")
            .arg(ConvKeys::new(&conv).atts)
            .arg(id.as_str())
            .ignore();
    }
    shared.conns.pipe::<()>(&pipe).await
}

pub(super) async fn forget_conversation(
    shared: &Shared,
    conv: &ConvKey,
) -> Result<(), EngineError> {
    let attachments = conversation_attachments(shared, conv).await?;
    super::store::expire_conversation(shared, conv, std::time::Duration::ZERO).await?;
    let idx = OrgIndex::new(&conv.org);
    let mut pipe = redis::pipe();
    // Its actor's lease and fencing epoch go too: an activation still running loses its lease
    // on the next renewal and stops.
    pipe.cmd("DEL")
        .arg(ActorKeys::new(&ActorRef::Conversation(conv.clone())).lease)
        .ignore();
    for a in &attachments {
        pipe.cmd("DEL").arg(idx.attachment(&a.id)).ignore();
    }
    let surveys: Vec<String> = shared
        .conns
        .cmd(redis::cmd("LRANGE").arg(idx.surveys()).arg(0).arg(-1))
        .await?;
    for json in surveys {
        let ours = serde_json::from_str::<StoredSurvey>(&json)
            .map(|s| s.conversation == conv.id)
            .unwrap_or(false);
        if ours {
            pipe.cmd("LREM")
                .arg(idx.surveys())
                .arg(0)
                .arg(json)
                .ignore();
        }
    }
    shared.conns.pipe::<()>(&pipe).await
}
