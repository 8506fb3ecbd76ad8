//! # chat-pipeline
//!
//! The library both Lambda functions are built on. Records flow through it
//! like this:
//!
//! ```text
//! producer:    event::ChatEvent --serde--> sink::SinkRecord --batching--> delivery --> sink::{Kinesis,Firehose,Stdout}Sink
//! transformer: bytes --input::parse_input_event--> input::InputEvent --> output::OutputRecord + output::PartitionKeys
//!              overflow past the 6 MB response --> delivery --> sink::{Kinesis,Firehose}Sink (re-ingestion)
//! ```
//!
//! Where to look:
//!
//! * [`model`]: **generated** from `schema/output-v1.schema.json` by `make
//!   generate`: the event types, the input fields, the plain columns and the
//!   output line's writer. Change the schema, not this file.
//! * [`event`]: the event types' parsing and the producer's event (input
//!   schema v1).
//! * [`input`]: reading an event as producers send it, with field-level errors.
//! * [`json`]: JSON at the byte level, shared by the fast readers and the
//!   hand-written writer: a cursor, string escaping, loosely read values.
//! * [`output`]: the output record's hand-written parts (output schema v1)
//!   and the partition keys.
//! * [`timestamp`]: parsing and formatting event times.
//! * [`destination`]: **how a record reaches Kinesis, Firehose or stdout,
//!   from either function**: [`destination::Destination`] names the place,
//!   [`destination::SinkProvider`] turns it into a sink
//!   ([`destination::AwsSinks`]: real clients, built once per container).
//! * [`sink`]: the [`sink::RecordSink`] trait and its Kinesis, Firehose and
//!   stdout implementations, each with its service limits.
//! * `test_util` (feature `test-util`): in-memory sinks and mocked SDK
//!   clients for tests and benchmarks.
//! * [`batching`]: splitting records into requests within those limits.
//! * [`retry`] and [`delivery`]: backoff with full jitter, resending only what
//!   failed, bounded by attempts and the Lambda deadline; every record is
//!   accounted for in a [`delivery::DeliveryReport`].
//! * [`aws`]: SDK clients built lazily, once per container.
//! * [`allocator`]: the functions' allocator (mimalloc) and its tuning.
//! * [`settings`]: environment variables read at cold start, with errors that
//!   name the variable.
//! * [`metrics`] and [`logging`]: CloudWatch Embedded Metric Format lines and
//!   JSON logs.
//! * [`bootstrap`]: `--help` and `--version` of the function binaries.

pub mod allocator;
pub mod aws;
pub mod batching;
pub mod bootstrap;
pub mod delivery;
pub mod destination;
pub mod event;
pub mod input;
pub mod json;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod output;
pub mod packing;
pub mod retry;
pub mod settings;
pub mod sink;
#[cfg(feature = "test-util")]
pub mod test_util;
pub mod timestamp;
