//! Reading back what landed in the (emulated) S3 bucket: keys under a prefix,
//! objects decompressed, records split into lines, and a local copy of
//! everything for people to open.

use std::collections::HashSet;
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
        out.push(decompressed(bucket, key, body)?);
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// An object as read: gunzipped when its key ends in `.gz`.
fn decompressed(bucket: &str, key: String, body: Vec<u8>) -> Result<Object, LakeError> {
    let bytes = if key.ends_with(".gz") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .map_err(|e| LakeError::new(bucket, &key, format!("not gzip: {e}")))?;
        plain
    } else {
        body
    };
    Ok(Object { key, bytes })
}

/// The `event_id` of an output line, if it has one.
pub fn event_id(line: &[u8]) -> Option<&str> {
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        #[serde(borrow)]
        event_id: Option<&'a str>,
    }
    serde_json::from_slice::<Line<'_>>(line).ok()?.event_id
}

/// The event ids of every line of every `.gz` object under `dir` in a local
/// copy of the lake (none when it does not exist).
pub fn local_event_ids(dir: &Path) -> Result<HashSet<String>, LakeError> {
    let mut ids = HashSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "gz") {
                let local = |message: String| LakeError::new("local", &path.display().to_string(), message);
                let body = std::fs::read(&path).map_err(|e| local(e.to_string()))?;
                let object = decompressed("local", path.display().to_string(), body)?;
                ids.extend(lines(&object).filter_map(event_id).map(str::to_owned));
            }
        }
    }
    Ok(ids)
}

/// The newline-delimited records of an object.
pub fn lines(object: &Object) -> impl Iterator<Item = &[u8]> {
    object.bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

/// Writes every object (compressed as stored) under `dir`, mirroring keys;
/// returns how many.
pub async fn download_all(s3: &Client, bucket: &str, dir: &Path) -> Result<usize, LakeError> {
    Ok(download_and_read(s3, bucket, dir, |_, _| {}).await?.len())
}

/// [`download_all`], fetching each object once: returns every object read
/// (gunzipped, sorted by key) and tells `progress` (done, of) after each.
pub async fn download_and_read(
    s3: &Client,
    bucket: &str,
    dir: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Object>, LakeError> {
    let keys = list_keys(s3, bucket, "").await?;
    let total = keys.len();
    let mut out = Vec::with_capacity(total);
    for (done, key) in keys.into_iter().enumerate() {
        let body = get(s3, bucket, &key).await?;
        let path = dir.join(&key);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &body)
        };
        write().map_err(|e| LakeError::new(bucket, &key, format!("writing {}: {e}", path.display())))?;
        out.push(decompressed(bucket, key, body)?);
        progress(done + 1, total);
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}
