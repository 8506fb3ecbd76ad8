//! Reading back what landed in the (emulated) S3 bucket: keys under a prefix,
//! objects decompressed, records split into lines, and a local copy of
//! everything for people to open.

use std::io::Read;
use std::path::{Path, PathBuf};

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
    let bytes = gunzipped(&key, body).map_err(|message| LakeError::new(bucket, &key, message))?;
    Ok(Object { key, bytes })
}

/// `body` gunzipped when `key` ends in `.gz`, else as it is.
fn gunzipped(key: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
    if !key.ends_with(".gz") {
        return Ok(body);
    }
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut plain)
        .map_err(|e| format!("not gzip: {e}"))?;
    Ok(plain)
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

/// Reading a local copy of the lake failed.
#[derive(Debug, thiserror::Error)]
#[error("reading {path}: {message}")]
pub struct LocalLakeError {
    path: String,
    message: String,
}

impl LocalLakeError {
    fn new(path: &Path, message: String) -> Self {
        LocalLakeError {
            path: path.display().to_string(),
            message,
        }
    }
}

/// Every object under `lake/prefix` in a local copy of the lake (as `make
/// demo` and `download_all` write it), gunzipped when its name ends in
/// `.gz`, keyed by its path relative to the lake (its key in the bucket),
/// sorted by key; none when that folder does not exist.
pub fn local_objects(lake: &Path, prefix: &str) -> Result<Vec<Object>, LocalLakeError> {
    let mut files = Vec::new();
    collect_files(&lake.join(prefix), &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let raw = std::fs::read(&path).map_err(|e| LocalLakeError::new(&path, e.to_string()))?;
            let key = path.strip_prefix(lake).unwrap_or(&path).display().to_string();
            let bytes = gunzipped(&key, raw).map_err(|message| LocalLakeError::new(&path, message))?;
            Ok(Object { key, bytes })
        })
        .collect()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LocalLakeError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LocalLakeError::new(dir, e.to_string())),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The newline-delimited records of an object.
pub fn lines(object: &Object) -> impl Iterator<Item = &[u8]> {
    object.bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

/// Writes every object (compressed as stored) under `dir`, mirroring keys;
/// returns how many.
pub async fn download_all(s3: &Client, bucket: &str, dir: &Path) -> Result<usize, LakeError> {
    download(s3, bucket, dir, |_, _, _, _| Ok(())).await
}

/// [`download_all`], fetching each object once: returns every object read
/// (gunzipped, sorted by key) and tells `progress` (done, of) after each.
pub async fn download_and_read(
    s3: &Client,
    bucket: &str,
    dir: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Object>, LakeError> {
    let mut out = Vec::new();
    download(s3, bucket, dir, |key, body, done, of| {
        out.push(decompressed(bucket, key, body)?);
        progress(done, of);
        Ok(())
    })
    .await?;
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Fetches every object of the bucket, writes it under `dir` as stored, and
/// hands it to `each` with how many are done of how many; returns how many.
async fn download(
    s3: &Client,
    bucket: &str,
    dir: &Path,
    mut each: impl FnMut(String, Vec<u8>, usize, usize) -> Result<(), LakeError>,
) -> Result<usize, LakeError> {
    let keys = list_keys(s3, bucket, "").await?;
    let total = keys.len();
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
        each(key, body, done + 1, total)?;
    }
    Ok(total)
}
