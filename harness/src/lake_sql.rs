//! SQL over a local copy of the lake, through `chat_tools.lake` (DuckDB in
//! the project's `.venv-query`, installed by `make setup`): the stack's raw
//! table, its curated Iceberg table and views that `make query`, `make curate`
//! and `make demo` use, so the end-to-end tests end in the answers a user gets.

use std::path::{Path, PathBuf};

use crate::host::repo;

/// Running a query failed; the message says why and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LakeSqlError {
    #[error("the query tool's Python ({0}) was not found: run `make setup` (it installs DuckDB into .venv-query)")]
    Missing(PathBuf),
    #[error("running {0}: {1}")]
    Spawn(PathBuf, std::io::Error),
    #[error("lake_sql.py failed on {sql:?}: {stderr}")]
    Failed { sql: String, stderr: String },
    #[error("lake_sql.py printed something that is not its JSON answer: {0}")]
    Output(#[from] serde_json::Error),
}

/// A query's answer.
#[derive(Debug, serde::Deserialize)]
pub struct Answer {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Files DuckDB opened to answer (from its profile).
    pub files_read: u64,
    /// Bytes DuckDB read from them (from its profile).
    pub bytes_read: u64,
}

impl Answer {
    /// The single value of a one-row, one-column answer, as an integer.
    pub fn count(&self) -> Option<i64> {
        match self.rows.as_slice() {
            [row] => row.first().and_then(serde_json::Value::as_i64),
            _ => None,
        }
    }
}

/// Runs `sql` over the lake copied to `lake` (the bucket's keys mirrored).
pub fn query(lake: &Path, sql: &str) -> Result<Answer, LakeSqlError> {
    let out = run(lake, &["query", "--json", "--sql", sql], sql)?;
    Ok(serde_json::from_slice(&out)?)
}

/// How a curation run is asked to go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurationRun {
    /// The hourly run.
    Regular,
    /// The daily run: late events, compaction, snapshot expiry too.
    Maintenance,
    /// A regular run that fails on purpose after its insert committed,
    /// before it records its watermark (the retried run must insert nothing twice).
    FailAfterInsert,
    /// A regular run that fails after writing its data files, before the commit.
    FailBeforeCommit,
}

/// Runs the stack's curation workflow over the lake (`make curate`); the
/// tool's report. A run asked to fail returns `Failed`.
pub fn curate(lake: &Path, how: CurationRun) -> Result<String, LakeSqlError> {
    let args: &[&str] = match how {
        CurationRun::Regular => &["curate"],
        CurationRun::Maintenance => &["curate", "--maintenance"],
        CurationRun::FailAfterInsert => &["curate", "--fail-at", "after-insert"],
        CurationRun::FailBeforeCommit => &["curate", "--fail-at", "before-commit"],
    };
    let out = run(lake, args, "curate")?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn run(lake: &Path, args: &[&str], what: &str) -> Result<Vec<u8>, LakeSqlError> {
    let python = repo().join(".venv-query/bin/python");
    if !python.exists() {
        return Err(LakeSqlError::Missing(python));
    }
    let out = crate::host::python_module(&python, "lake")
        .arg("--lake")
        .arg(lake)
        .args(args)
        .output()
        .map_err(|e| LakeSqlError::Spawn(python.clone(), e))?;
    if !out.status.success() {
        return Err(LakeSqlError::Failed {
            sql: what.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}
