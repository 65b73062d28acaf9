//! The archive's own runtime: one thread with a current-thread tokio runtime that opens and
//! drives every database connection.
//!
//! The node calls the archive from many runtimes (each actix arbiter and HTTP worker runs its
//! own). A connection's socket belongs to the runtime that opened it, so every query is
//! spawned onto this one and its result awaited from wherever the caller is.
//!
//! The thread runs at a lower CPU priority (nice +[`NICE`]), and so do the threads it starts
//! (SQLite's connection workers inherit it): archiving is background work, and a burst of chats
//! ending together (thousands of events each to write) must not take the core from the live
//! sockets and conversations. When the node has idle CPU the archive gets all of it; when the
//! node is saturated it gets ~10 % and its backlog waits (nothing is lost: the engine keeps the
//! conversations until they are archived). Measured in `docs/PERFORMANCE.md`, "Issue 11, third
//! step".

use std::future::Future;

use super::ArchiveError;

pub(super) struct DbRuntime {
    handle: tokio::runtime::Handle,
    /// Dropping it ends the runtime's thread (the archive is gone).
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// How much lower the archive's threads run (added to the process's nice value, at most 19).
pub(super) const NICE: i32 = 10;

/// Lowers the calling thread's CPU priority by `by` (on Linux the nice value is per thread and
/// threads started later from it inherit it). Best effort: a failure is logged, not fatal.
fn lower_priority(by: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and get/setpriority take no pointers and act on this thread only.
        let tid = unsafe { libc::gettid() } as libc::id_t;
        let now = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) };
        let target = (now + by).min(19);
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, target) } != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "Could not lower the archive thread's priority.");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = by;
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
                lower_priority(NICE);
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        // SAFETY: as in lower_priority.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[tokio::test]
    async fn the_archive_and_the_threads_it_starts_run_at_a_lower_priority() {
        let base = nice_of_this_thread();
        let rt = DbRuntime::start("test").expect("start");
        let (own, child) = rt
            .run(async {
                let own = nice_of_this_thread();
                // SQLite's workers are threads started from here.
                let child = std::thread::spawn(nice_of_this_thread)
                    .join()
                    .map_err(|_| ArchiveError::Other("thread".into()))?;
                Ok((own, child))
            })
            .await
            .expect("run");
        assert_eq!(own, (base + NICE).min(19));
        assert_eq!(child, own);
        assert_eq!(
            nice_of_this_thread(),
            base,
            "the caller's thread is untouched"
        );
    }
}
