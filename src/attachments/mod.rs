//! Where uploaded files live (DESIGN §11): one [`BlobStore`] trait with two implementations —
//! [`local::LocalStore`] (a directory; the embedded default, one node) and [`s3::S3Store`]
//! (an S3-compatible object store, so every node of a cluster serves every file) — plus the
//! [`spool::Spool`] an upload is streamed into first and the optional scanning webhook
//! ([`scan`]). What a file may be is decided in `domain::attachment`; who may read it, by the
//! conversation actor.
//!
//! Files are stored under random keys ([`new_key`]), never under the name a user gave.

pub mod local;
pub mod s3;
pub mod scan;
mod sigv4;
pub mod spool;

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web::Bytes;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::LocalBoxStream;

use crate::config::{AttachmentsSettings, BlobStoreKind};
pub use spool::Spool;

/// A failed store operation. Its text goes to the log; clients get `unavailable`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BlobError {
    #[error("blob store I/O: {0}")]
    Io(String),
    #[error("blob store answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("bad blob key {0:?}")]
    BadKey(String),
}

impl From<std::io::Error> for BlobError {
    fn from(e: std::io::Error) -> Self {
        BlobError::Io(e.to_string())
    }
}

/// Store futures run on the calling actix thread (the HTTP client is thread-local), so they
/// need not be `Send`.
pub type BlobFuture<'a, T> = LocalBoxFuture<'a, Result<T, BlobError>>;
pub type BlobStream = LocalBoxStream<'static, Result<Bytes, BlobError>>;

/// A stored file being read: its size and its bytes, chunk by chunk.
pub struct Blob {
    pub size: u64,
    pub body: BlobStream,
}

/// Storage for uploaded files. Nothing is ever held whole in memory: uploads are streamed into a
/// [`Spool`] (a temporary file) and handed over with [`BlobStore::put`]; reads stream.
pub trait BlobStore: Send + Sync + 'static {
    /// "local" or "s3", for logs.
    fn kind(&self) -> &'static str;
    /// A fresh temporary file to stream an upload into.
    fn spool(&self) -> BlobFuture<'_, Spool>;
    /// Stores a finished spool under `key` (consuming it: the temporary file is gone after).
    fn put<'a>(&'a self, key: &'a str, spool: Spool) -> BlobFuture<'a, ()>;
    /// The file under `key`, streamed; `None` when there is none.
    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Option<Blob>>;
    /// Removes the file under `key`; removing a missing file is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BlobFuture<'a, ()>;
}

pub type SharedBlobStore = Arc<dyn BlobStore>;

/// The store the settings name.
pub fn from_settings(settings: &AttachmentsSettings) -> SharedBlobStore {
    let dir = PathBuf::from(&settings.dir);
    match settings.store {
        BlobStoreKind::Local => Arc::new(local::LocalStore::new(dir)),
        BlobStoreKind::S3 => Arc::new(s3::S3Store::new(settings.s3.clone(), dir)),
    }
}

/// A new random storage key (32 hex digits).
pub fn new_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Keys are ours: hex only, so that no key can name a path outside the store.
pub(crate) fn check_key(key: &str) -> Result<(), BlobError> {
    if !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(BlobError::BadKey(key.to_string()))
    }
}

/// Lower-case hex of bytes (hashes, signatures).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Reads a file in chunks as a stream (the file is closed when the stream is dropped).
pub(crate) fn file_stream(file: tokio::fs::File) -> BlobStream {
    use tokio::io::AsyncReadExt;
    const CHUNK: usize = 64 * 1024;
    Box::pin(futures_util::stream::unfold(
        Some(file),
        |file| async move {
            let mut file = file?;
            let mut buf = vec![0u8; CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some(file)))
                }
                Err(e) => Some((Err(BlobError::from(e)), None)),
            }
        },
    ))
}
