//! The archive's own runtime: one thread with a current-thread tokio runtime that opens and
//! drives every database connection.
//!
//! The node calls the archive from many runtimes (each actix arbiter and HTTP worker runs its
//! own). A connection's socket belongs to the runtime that opened it, so every query is
//! spawned onto this one and its result awaited from wherever the caller is.

use std::future::Future;

use super::ArchiveError;

pub(super) struct DbRuntime {
    handle: tokio::runtime::Handle,
    /// Dropping it ends the runtime's thread (the archive is gone).
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl DbRuntime {
    pub fn start(name: &str) -> Result<Self, ArchiveError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ArchiveError::Other(format!("starting the archive runtime: {e}")))?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("archive-{name}"))
            .spawn(move || {
                rt.block_on(async move {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| ArchiveError::Other(format!("starting the archive thread: {e}")))?;
        Ok(Self {
            handle,
            _stop: stop,
        })
    }

    /// Runs `f` on the archive's runtime and waits for its result from any runtime.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = Result<T, ArchiveError>> + Send + 'static
    where
        T: Send + 'static,
        F: Future<Output = Result<T, ArchiveError>> + Send + 'static,
    {
        let task = self.handle.spawn(f);
        async move {
            task.await
                .map_err(|e| ArchiveError::Unavailable(format!("archive task failed: {e}")))?
        }
    }
}
