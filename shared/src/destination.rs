//! Where records go, and how a function gets a sink for it: the one answer
//! to "how does a record reach Kinesis?" for both functions.
//!
//! * [`Destination`] names a place: a Kinesis data stream, a Firehose
//!   delivery stream, or stdout. The producer derives it from its
//!   configuration (`SINK`, `STREAM_NAME`, `DELIVERY_STREAM_NAME`, or the
//!   invocation's `sink` override); the transformer from the Firehose event's
//!   source (its Kinesis stream, else its own delivery stream), to re-ingest
//!   overflow.
//! * [`SinkProvider`] turns a destination into a [`RecordSink`]. [`AwsSinks`]
//!   is the real one: SDK clients built lazily, once per container, shared by
//!   every invocation. Tests use `test_util::MemorySinks` (feature
//!   `test-util`), one in-memory sink standing in for every destination.
//! * [`crate::delivery::deliver`] then batches, sends and retries.
//!
//! A new destination (a warehouse, an Iceberg table) is a variant here, a
//! sink in [`crate::sink`], and an arm in [`AwsSinks::sink_for`].

use std::fmt;
use std::future::Future;

use crate::aws::LazyClients;
use crate::sink::{AnySink, FirehoseSink, KinesisSink, RecordSink, StdoutSink};

/// A place records can be delivered to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A Kinesis data stream (`PutRecords`).
    KinesisStream { name: String },
    /// A Firehose delivery stream (`PutRecordBatch`).
    DeliveryStream { name: String },
    /// Newline-delimited JSON on stdout (no AWS).
    Stdout,
}

/// A destination without its name: what `SINK` and the producer's `sink`
/// override choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationKind {
    Kinesis,
    Firehose,
    Stdout,
}

impl DestinationKind {
    /// The accepted spellings, for error messages.
    pub const NAMES: &'static str = "kinesis, firehose or stdout";

    /// Parses a kind, ignoring ASCII case.
    pub fn parse(s: &str) -> Option<DestinationKind> {
        match s.to_ascii_lowercase().as_str() {
            "kinesis" => Some(DestinationKind::Kinesis),
            "firehose" => Some(DestinationKind::Firehose),
            "stdout" => Some(DestinationKind::Stdout),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::Kinesis => "kinesis",
            DestinationKind::Firehose => "firehose",
            DestinationKind::Stdout => "stdout",
        }
    }
}

impl fmt::Display for DestinationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Turns a destination into a sink. Each function holds one, built in
/// `main` and borrowed by every invocation.
pub trait SinkProvider: Send + Sync {
    /// The sink this provider hands out.
    type Sink: RecordSink;

    fn sink_for(&self, destination: &Destination) -> impl Future<Output = Self::Sink> + Send;
}

/// The real destinations: Kinesis and Firehose through SDK clients built on
/// first use and then reused ([`LazyClients`]), stdout as is.
#[derive(Debug, Default)]
pub struct AwsSinks {
    clients: LazyClients,
}

impl AwsSinks {
    /// Sinks over `clients` (pre-built ones point at an emulator or a mock).
    pub fn new(clients: LazyClients) -> Self {
        AwsSinks { clients }
    }

    /// The clients, to ask whether any was built (tests of laziness).
    #[cfg(any(test, feature = "test-util"))]
    pub fn clients(&self) -> &LazyClients {
        &self.clients
    }
}

impl SinkProvider for AwsSinks {
    type Sink = AnySink;

    async fn sink_for(&self, destination: &Destination) -> AnySink {
        match destination {
            Destination::KinesisStream { name } => {
                AnySink::Kinesis(KinesisSink::new(self.clients.kinesis().await, name))
            }
            Destination::DeliveryStream { name } => {
                AnySink::Firehose(FirehoseSink::new(self.clients.firehose().await, name))
            }
            Destination::Stdout => AnySink::Stdout(StdoutSink),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_ignoring_case() {
        for kind in [
            DestinationKind::Kinesis,
            DestinationKind::Firehose,
            DestinationKind::Stdout,
        ] {
            assert_eq!(DestinationKind::parse(kind.as_str()), Some(kind));
            assert_eq!(DestinationKind::parse(&kind.as_str().to_uppercase()), Some(kind));
        }
        assert_eq!(DestinationKind::parse("s3"), None);
    }

    #[tokio::test]
    async fn each_destination_gets_its_sink() {
        let sinks = AwsSinks::new(LazyClients::with_clients(
            Some(crate::test_util::mock_kinesis(
                aws_smithy_mocks::RuleMode::MatchAny,
                &[],
            )),
            Some(crate::test_util::mock_firehose(
                aws_smithy_mocks::RuleMode::MatchAny,
                &[],
            )),
        ));
        let kinesis = Destination::KinesisStream { name: "chat".into() };
        let firehose = Destination::DeliveryStream { name: "d".into() };
        assert_eq!(sinks.sink_for(&kinesis).await.describe(), "kinesis:chat");
        assert_eq!(sinks.sink_for(&firehose).await.describe(), "firehose:d");
    }

    #[tokio::test]
    async fn stdout_needs_no_client() {
        let sinks = AwsSinks::default();
        let sink = sinks.sink_for(&Destination::Stdout).await;
        assert_eq!(sink.describe(), "stdout");
        assert!(!sinks.clients().any_built());
    }
}
