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

async fn sweep_org(
    node: &Node,
    org: &OrgId,
    retention: crate::domain::privacy::Retention,
) -> Result<(), String> {
    let now = Utc::now();
    let batch = node.settings.retention.batch.max(1);
    let archive = node.archive();
    // Deletion first: nothing is redacted that is about to go anyway.
    if let Some(cutoff) = retention.metadata_cutoff(now) {
        let due = archive
            .ended_before(org, cutoff, false, batch)
            .await
            .map_err(|e| e.to_string())?;
        for id in due {
            let key = ConvKey {
                org: org.clone(),
                id,
            };
            super::purge_files(node, &key).await?;
            node.engine
                .forget_conversation(&key)
                .await
                .map_err(|e| e.to_string())?;
            archive.delete(&key).await.map_err(|e| e.to_string())?;
            node.metrics.retention_deleted.inc();
            tracing::info!(%org, conversation = %key.id, "Retention deleted a conversation.");
        }
    }
    if let Some(cutoff) = retention.content_cutoff(now) {
        let due = archive
            .ended_before(org, cutoff, true, batch)
            .await
            .map_err(|e| e.to_string())?;
        for id in due {
            let key = ConvKey {
                org: org.clone(),
                id,
            };
            super::purge_files(node, &key).await?;
            // A copy still in hot storage would show the content: the archive holds it all.
            node.engine
                .forget_conversation(&key)
                .await
                .map_err(|e| e.to_string())?;
            let events = archive.redact(&key).await.map_err(|e| e.to_string())?;
            node.metrics.retention_redacted.inc();
            tracing::info!(%org, conversation = %key.id, events, "Retention redacted a conversation.");
        }
    }
    Ok(())
}
