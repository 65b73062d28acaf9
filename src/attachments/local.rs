//! The local-filesystem store: one file per key in a directory (the embedded default; one node
//! only — another node cannot read this machine's disk).

use std::path::PathBuf;

use super::{check_key, file_stream, Blob, BlobError, BlobFuture, BlobStore, Spool};

pub struct LocalStore {
    dir: PathBuf,
}

impl LocalStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        check_key(key)?;
        Ok(self.dir.join(key))
    }
}

impl BlobStore for LocalStore {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn spool(&self) -> BlobFuture<'_, Spool> {
        Box::pin(Spool::create_in(&self.dir))
    }

    fn put<'a>(&'a self, key: &'a str, spool: Spool) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key)?;
            spool.rename_to(&path).await
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Option<Blob>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let size = file.metadata().await?.len();
            Ok(Some(Blob {
                size,
                body: file_stream(file),
            }))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    #[actix_rt::test]
    async fn put_get_delete_round_trip_and_a_dropped_spool_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("sb-blobs-{}", uuid::Uuid::new_v4()));
        let store = LocalStore::new(dir.clone());
        let mut spool = store.spool().await.expect("spool");
        spool.write(b"hello ").await.expect("write");
        spool.write(b"world").await.expect("write");
        let key = crate::attachments::new_key();
        store.put(&key, spool).await.expect("put");
        let blob = store.get(&key).await.expect("get").expect("stored");
        assert_eq!(blob.size, 11);
        let chunks: Vec<_> = blob.body.try_collect().await.expect("read");
        assert_eq!(chunks.concat(), b"hello world");

        let mut refused = store.spool().await.expect("spool");
        refused.write(b"junk").await.expect("write");
        drop(refused);
        let tmp: Vec<_> = std::fs::read_dir(dir.join(".tmp")).expect("tmp").collect();
        assert!(tmp.is_empty(), "a dropped spool removes its file");

        store.delete(&key).await.expect("delete");
        assert!(store.get(&key).await.expect("get").is_none());
        store
            .delete(&key)
            .await
            .expect("deleting a missing file is fine");
        assert!(matches!(
            store.get("../etc/passwd").await.map(|_| ()),
            Err(BlobError::BadKey(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
