//! In-memory sink for tests: keeps what it accepted and plays back scripted
//! failures (whole-request errors, or per-record refusals), so delivery and
//! handler logic can be exercised without AWS.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::{BatchLimits, BatchReply, RecordOutcome, RecordSink, SinkError, SinkRecord};

/// What the next request should experience.
#[derive(Clone, Debug)]
pub enum ScriptedReply {
    /// The request fails as a whole.
    RequestError(SinkError),
    /// The records at these positions of the request are refused with `code`.
    RefusePositions(Vec<usize>, String),
    /// Every record of the request is refused with `code`.
    RefuseAll(String),
}

/// Accepts records into memory.
#[derive(Debug)]
pub struct MemorySink {
    limits: BatchLimits,
    accepted: Mutex<Vec<SinkRecord>>,
    script: Mutex<VecDeque<ScriptedReply>>,
    requests: Mutex<Vec<usize>>,
}

impl MemorySink {
    pub fn new(limits: BatchLimits) -> Self {
        MemorySink {
            limits,
            accepted: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Replies to play, one per request, before behaving normally.
    pub fn with_script(self, replies: impl IntoIterator<Item = ScriptedReply>) -> Self {
        lock(&self.script).extend(replies);
        self
    }

    /// Records accepted so far, in acceptance order.
    pub fn accepted(&self) -> Vec<SinkRecord> {
        lock(&self.accepted).clone()
    }

    /// The size (in records) of each request received, in order.
    pub fn request_sizes(&self) -> Vec<usize> {
        lock(&self.requests).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Shared by a test and the code under test.
impl RecordSink for std::sync::Arc<MemorySink> {
    fn describe(&self) -> String {
        self.as_ref().describe()
    }

    fn limits(&self) -> BatchLimits {
        self.as_ref().limits()
    }

    async fn put_batch(&self, records: &[&SinkRecord]) -> Result<BatchReply, SinkError> {
        self.as_ref().put_batch(records).await
    }
}

impl RecordSink for MemorySink {
    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn limits(&self) -> BatchLimits {
        self.limits
    }

    async fn put_batch(&self, records: &[&SinkRecord]) -> Result<BatchReply, SinkError> {
        lock(&self.requests).push(records.len());
        let scripted = lock(&self.script).pop_front();
        let mut reply: BatchReply = vec![RecordOutcome::Accepted; records.len()];
        match scripted {
            None => {}
            Some(ScriptedReply::RequestError(e)) => return Err(e),
            Some(ScriptedReply::RefuseAll(code)) => reply.fill(RecordOutcome::Refused { code }),
            Some(ScriptedReply::RefusePositions(positions, code)) => {
                for p in positions {
                    if let Some(slot) = reply.get_mut(p) {
                        *slot = RecordOutcome::Refused { code: code.clone() };
                    }
                }
            }
        }
        let mut accepted = lock(&self.accepted);
        for (r, outcome) in records.iter().zip(&reply) {
            if *outcome == RecordOutcome::Accepted {
                accepted.push((*r).clone());
            }
        }
        Ok(reply)
    }
}
