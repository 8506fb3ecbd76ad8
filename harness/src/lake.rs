//! Reading back what landed in the (emulated) S3 bucket: keys under a prefix,
//! objects decompressed, records split into lines, and a local copy of
//! everything for people to open.

use std::io::Read;
use std::path::Path;

use aws_sdk_s3::Client;

/// An object and its (decompressed) bytes.
#[derive(Clone, Debug)]
pub struct Object {
    pub key: String,
    pub bytes: Vec<u8>,
}

/// Reading the bucket failed.
#[derive(Debug, thiserror::Error)]
#[error("reading s3://{bucket}/{key}: {message}")]
pub struct LakeError {
    bucket: String,
    key: String,
    message: String,
}

impl LakeError {
    fn new(bucket: &str, key: &str, message: String) -> Self {
        LakeError {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message,
        }
    }
}

/// Every key under `prefix` (all of them: `ListObjectsV2` returns at most
/// 1,000 per page, so this follows the continuation tokens).
pub async fn list_keys(s3: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, LakeError> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| LakeError::new(bucket, prefix, chat_pipeline::sink::describe_chain(&e)))?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        match page.next_continuation_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    Ok(keys)
}

/// One object's bytes, as stored.
async fn get(s3: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, LakeError> {
    let err = |message: String| LakeError::new(bucket, key, message);
    Ok(s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| err(chat_pipeline::sink::describe_chain(&e)))?
        .body
        .collect()
        .await
        .map_err(|e| err(e.to_string()))?
        .into_bytes()
        .to_vec())
}

/// Every object under `prefix`, gunzipped when its key ends in `.gz`.
pub async fn objects(s3: &Client, bucket: &str, prefix: &str) -> Result<Vec<Object>, LakeError> {
    let keys = list_keys(s3, bucket, prefix).await?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let body = get(s3, bucket, &key).await?;
        let bytes = if key.ends_with(".gz") {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .map_err(|e| LakeError::new(bucket, &key, format!("not gzip: {e}")))?;
            plain
        } else {
            body
        };
        out.push(Object { key, bytes });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// The newline-delimited records of an object.
pub fn lines(object: &Object) -> impl Iterator<Item = &[u8]> {
    object.bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

/// Writes every object (compressed as stored) under `dir`, mirroring keys;
/// returns how many.
pub async fn download_all(s3: &Client, bucket: &str, dir: &Path) -> Result<usize, LakeError> {
    let keys = list_keys(s3, bucket, "").await?;
    for key in &keys {
        let body = get(s3, bucket, key).await?;
        let path = dir.join(key);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &body)
        };
        write().map_err(|e| LakeError::new(bucket, key, format!("writing {}: {e}", path.display())))?;
    }
    Ok(keys.len())
}
