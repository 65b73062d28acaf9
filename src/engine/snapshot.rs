//! Ordered, latest-wins snapshot writes for one writer (actor state, conversation summaries).

use std::time::Duration;

use super::{ActorRef, EngineError, EngineFuture, SharedCluster};
use crate::protocol::CommandError;

/// Writes snapshots of one writer's data in order, one write at a time, always the latest
/// (snapshots overtaken while a write was in flight are skipped). Used for actor state (fenced)
/// and conversation summaries, so that an older snapshot can never land after a newer one.
/// A write refused by the fencing epoch calls `on_fenced` and stops the writer; other failures
/// are retried until a newer snapshot replaces the one that failed.
pub struct SnapshotWriter<T> {
    latest: tokio::sync::watch::Sender<Option<(u64, T)>>,
    written: tokio::sync::watch::Receiver<u64>,
    version: u64,
}

/// An actor's persisted state, written with its fencing epoch.
pub type StateWriter = SnapshotWriter<String>;

impl StateWriter {
    pub fn for_actor(
        bus: SharedCluster,
        actor: ActorRef,
        epoch: u64,
        on_fenced: impl FnOnce() + Send + 'static,
    ) -> Self {
        let what = format!("{actor:?}");
        SnapshotWriter::spawn(
            what,
            move |state: String| bus.put_state(&actor, epoch, state),
            on_fenced,
        )
    }
}

impl<T: Clone + Send + Sync + 'static> SnapshotWriter<T> {
    pub fn spawn(
        what: String,
        write: impl Fn(T) -> EngineFuture<()> + 'static,
        on_fenced: impl FnOnce() + 'static,
    ) -> Self {
        let (latest, mut rx) = tokio::sync::watch::channel::<Option<(u64, T)>>(None);
        let (done, written) = tokio::sync::watch::channel(0u64);
        actix::spawn(async move {
            while rx.changed().await.is_ok() {
                let Some((version, snapshot)) = rx.borrow_and_update().clone() else {
                    continue;
                };
                loop {
                    match write(snapshot.clone()).await {
                        Ok(()) => {
                            done.send_replace(version);
                            break;
                        }
                        Err(EngineError::Fenced { .. }) => {
                            tracing::warn!(%what, "Write fenced: another node owns this actor.");
                            on_fenced();
                            return;
                        }
                        Err(err) => {
                            tracing::warn!(%what, %err, "Could not write a snapshot; retrying.");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            if rx.has_changed().unwrap_or(false) {
                                break;
                            }
                        }
                    }
                }
            }
        });
        Self {
            latest,
            written,
            version: 0,
        }
    }

    /// Queues a snapshot; returns its version.
    pub fn save(&mut self, snapshot: T) -> u64 {
        self.version += 1;
        self.latest.send_replace(Some((self.version, snapshot)));
        self.version
    }

    /// Resolves once `version` (or a later snapshot) is stored, or fails after `within`.
    pub fn saved(
        &self,
        version: u64,
        within: Duration,
    ) -> impl std::future::Future<Output = Result<(), CommandError>> + 'static {
        let mut rx = self.written.clone();
        async move {
            match tokio::time::timeout(within, rx.wait_for(|w| *w >= version)).await {
                Ok(Ok(_)) => Ok(()),
                _ => Err(CommandError::unavailable(
                    "could not store the change; retry",
                )),
            }
        }
    }
}
