//! A temporary file an upload streams into, under the store's `.tmp/` directory. Dropped
//! without being stored, it removes itself, so a refused upload leaves nothing behind.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::BlobError;

pub struct Spool {
    path: PathBuf,
    /// `None` once closed (flushed) for handing over.
    file: Option<tokio::fs::File>,
    size: u64,
    /// Set when the file was moved or deleted on purpose: nothing left to clean up.
    consumed: bool,
}

impl Spool {
    /// A new empty spool file in `base/.tmp/` (created if missing).
    pub async fn create_in(base: &Path) -> Result<Self, BlobError> {
        let dir = base.join(".tmp");
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{}.part", super::new_key()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Self {
            path,
            file: Some(file),
            size: 0,
            consumed: false,
        })
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| BlobError::Io("spool already closed".into()))?;
        file.write_all(chunk).await?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Flushes to disk; the spool can then be read or moved.
    pub async fn close(&mut self) -> Result<(), BlobError> {
        if let Some(mut file) = self.file.take() {
            file.flush().await?;
            file.sync_all().await?;
        }
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the (closed) spool to `to`: the file appears whole or not at all.
    pub async fn rename_to(mut self, to: &Path) -> Result<(), BlobError> {
        self.close().await?;
        tokio::fs::rename(&self.path, to).await?;
        self.consumed = true;
        Ok(())
    }

    /// Opens the (closed) spool for reading.
    pub async fn open(&mut self) -> Result<tokio::fs::File, BlobError> {
        self.close().await?;
        Ok(tokio::fs::File::open(&self.path).await?)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.consumed {
            // Best effort: a leftover `.part` file is garbage, never served (keys have no dot).
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
