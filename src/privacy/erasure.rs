//! Customer erasure: `request` records the request in the archive (so it survives a restart)
//! and wakes the job; `run_pending` carries out every pending one. A customer's chat that is
//! still live (not yet done and archived) is not touched: the erasure stays `pending` and
//! finishes on a later run, once the chat ended and was archived. Then every conversation of
//! the customer in the org goes — attachment files, hot data (log, summary, index entries,
//! dedup keys, survey answers, attachment records), every archive row — and so do the org's
//! blocklist entries naming the customer's id or one of the emails of its conversations. The
//! audit record keeps counts and the customer id's SHA-256, never the id or anything else.

use std::collections::BTreeSet;

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::archive::privacy::{ErasureRecord, ErasureStatus, Removed};
use crate::archive::ArchiveError;
use crate::domain::conversation::Status;
use crate::domain::privacy::blocks_customer;
use crate::engine::{ConversationFilter, ConversationSummary};
use crate::ids::{ConvKey, ConversationId, CustomerId, OrgId};
use crate::node::Node;

/// Pending requests one run takes.
const BATCH: usize = 50;
/// Most of one customer's conversations the engine lists at once (live and recently ended).
const HOT_LIMIT: usize = 10_000;
/// Archived conversations read per page.
const PAGE: usize = 500;
/// How long a node's claim on a request holds, in `archive.sweep_ms`: a run releases it when it
/// leaves the request pending; another node takes it over after that when the first died.
const CLAIM_SWEEPS: i64 = 20;
/// Runs that may fail (the archive or the store unreachable) before a request is `failed`.
const MAX_FAILURES: u32 = 5;

/// The hex SHA-256 of `org:customer`: what the audit record keeps of the customer.
pub fn customer_sha256(org: &OrgId, customer: &CustomerId) -> String {
    crate::attachments::hex(&Sha256::digest(format!("{org}:{customer}").as_bytes()))
}

/// Records a new erasure request (before it is answered) and wakes the job.
pub async fn request(
    node: &Node,
    org: &OrgId,
    customer: &CustomerId,
    requested_by: &str,
) -> Result<ErasureRecord, ArchiveError> {
    let record = ErasureRecord {
        id: format!("er{}", &uuid::Uuid::new_v4().simple().to_string()[..20]),
        org: org.clone(),
        customer: Some(customer.clone()),
        customer_sha256: customer_sha256(org, customer),
        requested_by: requested_by.to_string(),
        requested_at: Utc::now(),
        status: ErasureStatus::Pending,
        finished_at: None,
        removed: Removed::default(),
        error: None,
    };
    node.archive().put_erasure(record.clone()).await?;
    node.privacy.wake();
    Ok(record)
}

/// Runs every pending request (oldest first, at most a batch).
pub async fn run_pending(node: &Node) {
    let pending = match node.archive().pending_erasures(BATCH).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "Erasures: could not list the pending requests.");
            return;
        }
    };
    for mut record in pending {
        match node
            .archive()
            .claim_erasure(&record.org, &record.id, node.instance(), claim_until(node))
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "Erasures: could not claim a request.");
                return;
            }
        }
        let outcome = match &record.customer {
            Some(customer) => erase(node, &record.org, customer).await,
            None => Ok(Some(record.removed)),
        };
        match outcome {
            Ok(None) => {
                // Still waiting for a live chat: stored unchanged, which releases the claim.
                if let Err(e) = node.archive().put_erasure(record).await {
                    tracing::warn!(error = %e, "Erasures: could not release a claim.");
                }
                continue;
            }
            Ok(Some(removed)) => {
                // The systems around the contact center forget the customer too.
                if let Some(customer) = &record.customer {
                    node.webhooks.offer_org_event(
                        &record.org,
                        "customer.erased",
                        &format!("erasure.{}", record.id),
                        serde_json::json!({ "customer": customer, "erasure": record.id }),
                    );
                }
                record.status = ErasureStatus::Done;
                record.removed = removed;
                record.error = None;
                node.metrics.erasures_done.inc();
            }
            Err(e) => {
                node.metrics.erasure_failures.inc();
                tracing::warn!(org = %record.org, erasure = %record.id, error = %e, "Erasure failed; the next run retries.");
                let failures = {
                    let mut all = node.privacy.failures.lock();
                    let n = all.entry(record.id.clone()).or_default();
                    *n += 1;
                    *n
                };
                record.error = Some(e);
                if failures < MAX_FAILURES {
                    if let Err(e) = node.archive().put_erasure(record).await {
                        tracing::warn!(error = %e, "Erasures: could not record a failure.");
                    }
                    continue;
                }
                record.status = ErasureStatus::Failed;
            }
        }
        record.customer = None;
        record.finished_at = Some(Utc::now());
        node.privacy.failures.lock().remove(&record.id);
        if let Err(e) = node.archive().put_erasure(record).await {
            tracing::warn!(error = %e, "Erasures: could not record an outcome; the next run repeats it.");
        }
    }
}

/// Until when a claim taken now holds.
fn claim_until(node: &Node) -> chrono::DateTime<Utc> {
    let ms = i64::try_from(node.settings.archive.sweep_ms)
        .unwrap_or(i64::MAX)
        .saturating_mul(CLAIM_SWEEPS);
    chrono::TimeDelta::try_milliseconds(ms)
        .and_then(|d| Utc::now().checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
}

/// Whether the engine's copy of a conversation may go: it ended and the archive holds all of
/// it (or it failed, and is never archived).
fn settled(s: &ConversationSummary, mark: u64) -> bool {
    s.status == Status::Failed || (s.status == Status::Done && mark >= s.last_seq)
}

/// Erases everything of `customer` in `org`; `None` while one of its chats is still live.
async fn erase(node: &Node, org: &OrgId, customer: &CustomerId) -> Result<Option<Removed>, String> {
    let filter = |limit| ConversationFilter {
        customer: Some(customer.clone()),
        limit,
        ..ConversationFilter::default()
    };
    let hot = node
        .engine
        .find_conversations(org, filter(HOT_LIMIT))
        .await
        .map_err(|e| e.to_string())?;
    let marks = node
        .engine
        .archived_marks(org, hot.iter().map(|s| s.id.clone()).collect())
        .await
        .map_err(|e| e.to_string())?;
    if hot.iter().zip(&marks).any(|(s, m)| !settled(s, *m)) {
        tracing::info!(%org, "Erasure waits for the customer's live chat to end and be archived.");
        return Ok(None);
    }
    let mut emails: BTreeSet<String> = BTreeSet::new();
    let mut removed = Removed::default();
    let mut seen: BTreeSet<ConversationId> = BTreeSet::new();
    for s in &hot {
        emails.extend(s.customer_email.clone());
        seen.insert(s.id.clone());
        removed.add(erase_conversation(node, org, s).await?);
    }
    // The archive's copies, a page at a time (each page is gone once erased).
    loop {
        let page = node
            .archive()
            .find(org, filter(PAGE))
            .await
            .map_err(|e| e.to_string())?;
        if page.is_empty() {
            break;
        }
        for s in &page {
            emails.extend(s.customer_email.clone());
            let first = seen.insert(s.id.clone());
            let mut r = erase_conversation(node, org, s).await?;
            if !first {
                r.conversations = 0;
            }
            removed.add(r);
        }
    }
    removed.blocklist_entries = unblock(node, org, customer, &emails).await?;
    Ok(Some(removed))
}

/// One conversation: its files, then its hot data, then its archive rows.
async fn erase_conversation(
    node: &Node,
    org: &OrgId,
    s: &ConversationSummary,
) -> Result<Removed, String> {
    let key = ConvKey {
        org: org.clone(),
        id: s.id.clone(),
    };
    let files = super::purge_files(node, &key).await?;
    let hot_surveys = node
        .engine
        .surveys(org)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .filter(|x| x.conversation == s.id)
        .count() as u64;
    node.engine
        .forget_conversation(&key)
        .await
        .map_err(|e| e.to_string())?;
    let mut r = node
        .archive()
        .delete(&key)
        .await
        .map_err(|e| e.to_string())?;
    r.conversations = 1;
    r.events = r.events.max(s.last_seq);
    r.attachments = files;
    r.surveys = r.surveys.max(hot_surveys);
    tracing::info!(%org, conversation = %key.id, "Erasure removed a conversation.");
    Ok(r)
}

/// Removes the org's blocklist entries for the customer id or one of its emails.
async fn unblock(
    node: &Node,
    org: &OrgId,
    customer: &CustomerId,
    emails: &BTreeSet<String>,
) -> Result<u64, String> {
    let matches = |b: &crate::domain::org::BlockEntry| blocks_customer(b, customer, emails);
    let Some(current) = node.orgs.get(org) else {
        return Ok(0);
    };
    if !current.blocklist.iter().any(&matches) {
        return Ok(0);
    }
    node.orgs
        .update(org, |o| {
            let before = o.blocklist.len();
            o.blocklist.retain(|b| !matches(b));
            Ok((before - o.blocklist.len()) as u64)
        })
        .await
        .map_err(|e| e.message)
}
