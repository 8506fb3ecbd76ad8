//! Stdout sink: newline-delimited records on standard output, so the producer
//! runs with no AWS account at all (`cargo lambda invoke producer`).

use std::io::Write;

use super::{BatchLimits, BatchReply, RecordOutcome, RecordSink, SinkError, SinkRecord};

/// Prints each record on its own line.
#[derive(Debug, Clone, Default)]
pub struct StdoutSink;

impl RecordSink for StdoutSink {
    fn describe(&self) -> String {
        "stdout".to_owned()
    }

    /// Batches like Kinesis, so a dry run shows realistic batch counts.
    fn limits(&self) -> BatchLimits {
        BatchLimits::KINESIS
    }

    async fn put_batch(&self, records: &[&SinkRecord]) -> Result<BatchReply, SinkError> {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
        let io_err = |e: std::io::Error| SinkError::fatal("StdoutWrite", e.to_string());
        for r in records {
            out.write_all(&r.data).map_err(io_err)?;
            if r.data.last() != Some(&b'\n') {
                out.write_all(b"\n").map_err(io_err)?;
            }
        }
        out.flush().map_err(io_err)?;
        Ok(vec![RecordOutcome::Accepted; records.len()])
    }
}
