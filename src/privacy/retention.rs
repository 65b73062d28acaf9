//! Per-org retention: archived conversations that ended more than `content_days` ago lose
//! their content (texts redacted, attachment files deleted, survey comment removed; the events
//! stay, marked `redacted`), and those that ended more than `metadata_days` ago are deleted
//! from every archive table. Bounded: at most `retention.batch` conversations of each kind per
//! org and run; the next run takes the rest.

use chrono::Utc;

use crate::ids::{ConvKey, OrgId};
use crate::node::Node;

/// One run over every org.
pub async fn sweep(node: &Node) {
    let orgs = match node.engine.load_orgs().await {
        Ok(orgs) => orgs,
        Err(e) => {
            tracing::warn!(error = %e, "Retention could not list the orgs.");
            return;
        }
    };
    for org in orgs {
        if let Err(e) = sweep_org(node, &org.id, org.settings.retention).await {
            tracing::warn!(org = %org.id, error = %e, "Retention run failed; the next run retries.");
        }
    }
}

/// What a run does to a conversation past a cutoff.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Delete,
    Redact,
}

async fn sweep_org(
    node: &Node,
    org: &OrgId,
    retention: crate::domain::privacy::Retention,
) -> Result<(), String> {
    let now = Utc::now();
    // Deletion first: nothing is redacted that is about to go anyway.
    let steps = [
        (Step::Delete, retention.metadata_cutoff(now)),
        (Step::Redact, retention.content_cutoff(now)),
    ];
    for (step, cutoff) in steps {
        let Some(cutoff) = cutoff else { continue };
        let due = node
            .archive()
            .ended_before(
                org,
                cutoff,
                step == Step::Redact,
                node.settings.retention.batch.max(1),
            )
            .await
            .map_err(|e| e.to_string())?;
        for id in due {
            let key = ConvKey {
                org: org.clone(),
                id,
            };
            apply(node, &key, step).await?;
        }
    }
    Ok(())
}

/// Deletes the conversation's files and any hot copy (which would still show the content; the
/// archive holds it all), then deletes or redacts its archive rows.
async fn apply(node: &Node, key: &ConvKey, step: Step) -> Result<(), String> {
    super::purge_files(node, key).await?;
    node.engine
        .forget_conversation(key)
        .await
        .map_err(|e| e.to_string())?;
    let archive = node.archive();
    match step {
        Step::Delete => {
            archive.delete(key).await.map_err(|e| e.to_string())?;
            node.metrics.retention_deleted.inc();
            tracing::info!(org = %key.org, conversation = %key.id, "Retention deleted a conversation.");
        }
        Step::Redact => {
            let events = archive.redact(key).await.map_err(|e| e.to_string())?;
            node.metrics.retention_redacted.inc();
            tracing::info!(org = %key.org, conversation = %key.id, events, "Retention redacted a conversation.");
        }
    }
    Ok(())
}
