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

/// Every object under `prefix`, gunzipped when its key ends in `.gz`.
pub async fn objects(s3: &Client, bucket: &str, prefix: &str) -> Result<Vec<Object>, LakeError> {
    let err = |key: &str, message: String| LakeError {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message,
    };
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
            .map_err(|e| err(prefix, chat_pipeline::sink::describe_chain(&e)))?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        match page.next_continuation_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| err(&key, chat_pipeline::sink::describe_chain(&e)))?
            .body
            .collect()
            .await
            .map_err(|e| err(&key, e.to_string()))?
            .into_bytes()
            .to_vec();
        let bytes = if key.ends_with(".gz") {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .map_err(|e| err(&key, format!("not gzip: {e}")))?;
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

/// Writes every object (compressed as stored) under `dir`, mirroring keys.
pub async fn download_all(s3: &Client, bucket: &str, dir: &Path) -> Result<usize, LakeError> {
    let err = |key: &str, message: String| LakeError {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message,
    };
    let listing = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| err("", chat_pipeline::sink::describe_chain(&e)))?;
    let mut n = 0;
    for o in listing.contents() {
        let Some(key) = o.key() else { continue };
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| err(key, chat_pipeline::sink::describe_chain(&e)))?
            .body
            .collect()
            .await
            .map_err(|e| err(key, e.to_string()))?
            .into_bytes();
        let path = dir.join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err(key, e.to_string()))?;
        }
        std::fs::write(&path, &body).map_err(|e| err(key, e.to_string()))?;
        n += 1;
    }
    Ok(n)
}
