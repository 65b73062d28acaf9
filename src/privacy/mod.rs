//! Retention and privacy (issue 14): one job per node that runs the pending customer erasures
//! ([`erasure`]) at once when one is requested and every `archive.sweep_ms`, and each org's
//! retention ([`retention`]) every `retention.sweep_ms`. Both delete attachment files through the node's blob
//! store, whose futures stay on the calling thread, so the job runs on the actix thread that
//! started the node.
//!
//! **Architecture Invariant:** everything here is scoped by org and idempotent: a run cut short
//! (a crash, an archive outage) is finished by the next one, and several nodes running the job
//! against one PostgreSQL archive only repeat each other's work.

pub mod erasure;
pub mod retention;

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::ids::ConvKey;
use crate::node::Node;

/// The job's node-local state: its wake-up and how often each erasure has failed here.
#[derive(Default)]
pub struct Privacy {
    wake: tokio::sync::Notify,
    failures: Mutex<HashMap<String, u32>>,
}

impl Privacy {
    /// An erasure was requested: run the pending ones now rather than at the next sweep.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Starts the job on the current actix thread. `node` is the node's handle (anything that
/// dereferences to the [`Node`]).
pub fn start<N: Deref<Target = Node> + 'static>(node: Arc<N>) {
    actix::spawn(async move {
        let every = |ms: u64| {
            let mut i = tokio::time::interval(Duration::from_millis(ms.max(1)));
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        };
        let mut sweep = every(node.settings.retention.sweep_ms);
        // A pending erasure waits for the archiver: it is looked at again as often as that.
        let mut recheck = every(node.settings.archive.sweep_ms);
        loop {
            let retention = tokio::select! {
                () = node.privacy.wake.notified() => false,
                _ = recheck.tick() => false,
                _ = sweep.tick() => true,
            };
            erasure::run_pending(&node).await;
            if retention {
                retention::sweep(&node).await;
            }
        }
    });
}

/// Deletes the conversation's attachment files (those the engine knows and those the archive
/// recorded) and the engine's records of them. Returns how many files there were.
pub(crate) async fn purge_files(node: &Node, key: &ConvKey) -> Result<u64, String> {
    let hot = node
        .engine
        .conversation_attachments(key)
        .await
        .map_err(|e| e.to_string())?;
    let cold = node
        .archive()
        .attachments(key)
        .await
        .map_err(|e| e.to_string())?;
    let mut all: BTreeMap<_, _> = hot
        .into_iter()
        .chain(cold)
        .map(|r| (r.id.clone(), r))
        .collect();
    // Files sent in messages of a conversation archived before the archive kept attachment
    // records (migration 0004) are found through the engine's records, while it has them.
    let events = crate::archive::read_all(node.archive().as_ref(), key, 1000)
        .await
        .map_err(|e| e.to_string())?;
    let sent: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            crate::protocol::EventKind::Message { attachments, .. } => Some(attachments),
            _ => None,
        })
        .flatten()
        .map(|a| a.id.clone())
        .filter(|id| !all.contains_key(id))
        .collect();
    for id in sent {
        let found = node
            .engine
            .attachment(&key.org, &id)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(r) = found.filter(|r| r.conversation == key.id) {
            all.insert(r.id.clone(), r);
        }
    }
    for record in all.values() {
        node.blobs
            .delete(&record.key)
            .await
            .map_err(|e| e.to_string())?;
        node.engine
            .delete_attachment(&key.org, &record.id)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(all.len() as u64)
}
