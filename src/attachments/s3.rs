//! An S3-compatible object store (AWS S3, MinIO, Ceph, moto...), addressed path-style
//! (`{endpoint}/{bucket}/{key}`) and signed with AWS Signature V4. Every node of a cluster
//! reaches the same bucket, so every node serves every file. Uploads are spooled to local disk
//! first (S3 needs the length up front) and then streamed to the store.

use std::path::PathBuf;
use std::time::Duration;

use actix_web::body::SizedStream;
use futures_util::{StreamExt, TryStreamExt};

use super::{check_key, file_stream, sigv4, Blob, BlobError, BlobFuture, BlobStore, Spool};
use crate::config::S3Settings;

pub struct S3Store {
    settings: S3Settings,
    /// Where uploads are spooled before they are sent.
    spool_dir: PathBuf,
}

impl S3Store {
    pub fn new(settings: S3Settings, spool_dir: PathBuf) -> Self {
        Self {
            settings,
            spool_dir,
        }
    }

    /// `host[:port]` of the endpoint: what the `Host` header carries and the signature covers.
    fn host(&self) -> &str {
        let e = self.settings.endpoint.trim_end_matches('/');
        e.split_once("://").map_or(e, |(_, rest)| rest)
    }

    /// A signed request for `path` (`/bucket` or `/bucket/key`).
    fn request(&self, method: &str, path: &str) -> Result<awc::ClientRequest, BlobError> {
        let req = sigv4::Request {
            method,
            host: self.host(),
            path,
            payload_sha256: sigv4::UNSIGNED_PAYLOAD,
        };
        let signed = sigv4::sign(
            &req,
            &self.settings.region,
            &self.settings.access_key,
            self.settings.secret_key.expose(),
            chrono::Utc::now(),
        );
        let method = awc::http::Method::from_bytes(method.as_bytes())
            .map_err(|e| BlobError::Io(e.to_string()))?;
        // One client per request: awc's client is not `Send`, and the store is shared by
        // every thread. Requests are few (one per upload or download) next to the file I/O.
        let client = awc::Client::builder()
            .timeout(Duration::from_millis(self.settings.timeout_ms))
            .finish();
        let url = format!("{}{path}", self.settings.endpoint.trim_end_matches('/'));
        Ok(client
            .request(method, url)
            .insert_header(("x-amz-date", signed.amz_date))
            .insert_header(("x-amz-content-sha256", sigv4::UNSIGNED_PAYLOAD))
            .insert_header(("authorization", signed.authorization)))
    }

    fn object_path(&self, key: &str) -> Result<String, BlobError> {
        check_key(key)?;
        Ok(format!("/{}/{key}", self.settings.bucket))
    }

    /// Creates the bucket (for tests and first-time setup; a bucket that exists is fine).
    pub async fn create_bucket(&self) -> Result<(), BlobError> {
        let path = format!("/{}", self.settings.bucket);
        let resp = self
            .request("PUT", &path)?
            .send()
            .await
            .map_err(|e| BlobError::Io(e.to_string()))?;
        match resp.status().as_u16() {
            200..=299 | 409 => Ok(()),
            status => Err(failed(status, resp).await),
        }
    }
}

async fn failed<S>(status: u16, mut resp: awc::ClientResponse<S>) -> BlobError
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = resp.body().limit(4096).await.unwrap_or_default();
    BlobError::Status {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

impl BlobStore for S3Store {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn spool(&self) -> BlobFuture<'_, Spool> {
        Box::pin(Spool::create_in(&self.spool_dir))
    }

    fn put<'a>(&'a self, key: &'a str, mut spool: Spool) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            let path = self.object_path(key)?;
            let size = spool.size();
            let file = spool.open().await?;
            let body = SizedStream::new(
                size,
                file_stream(file).map_err(actix_web::error::ErrorInternalServerError),
            );
            let resp = self
                .request("PUT", &path)?
                .send_body(body)
                .await
                .map_err(|e| BlobError::Io(e.to_string()))?;
            match resp.status().as_u16() {
                200..=299 => Ok(()),
                status => Err(failed(status, resp).await),
            }
            // The spool removes itself when dropped here.
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Option<Blob>> {
        Box::pin(async move {
            let path = self.object_path(key)?;
            let resp = self
                .request("GET", &path)?
                .send()
                .await
                .map_err(|e| BlobError::Io(e.to_string()))?;
            match resp.status().as_u16() {
                200 => {
                    let size = resp
                        .headers()
                        .get("content-length")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| BlobError::Io("object without a length".into()))?;
                    let body = resp.map_err(|e| BlobError::Io(e.to_string())).boxed_local();
                    Ok(Some(Blob { size, body }))
                }
                404 => Ok(None),
                status => Err(failed(status, resp).await),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            let path = self.object_path(key)?;
            let resp = self
                .request("DELETE", &path)?
                .send()
                .await
                .map_err(|e| BlobError::Io(e.to_string()))?;
            match resp.status().as_u16() {
                200..=299 | 404 => Ok(()),
                status => Err(failed(status, resp).await),
            }
        })
    }
}
