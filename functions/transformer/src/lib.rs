//! # transformer
//!
//! Amazon Data Firehose's data-transformation Lambda for the chat pipeline.
//! Firehose invokes it with a batch of base64 records; it answers each record
//! `Ok` (reshaped into one newline-terminated JSON line, output schema v1, with
//! dynamic-partitioning keys), `Dropped` (filtered type, retry duplicate, or
//! re-ingested) or `ProcessingFailed` (data returned unchanged, so Firehose
//! writes it under the error prefix).
//!
//! Where to look:
//!
//! * [`firehose`]: the request and response shapes of the Firehose contract,
//!   and the exact serialized size of a response; [`envelope_scan`] reads
//!   the usual request shape without serde.
//! * [`record`]: one record: decode, validate, reshape, or say why not.
//! * [`handler`]: one invocation: every record answered once, in order, the
//!   response kept under 6 MB, overflow re-ingested; and why the batch is
//!   taken from lambda_runtime as raw bytes.
//! * [`response`]: the answers, and the response JSON written once from
//!   them.
//! * [`reingest`]: where overflow records go (a
//!   [`chat_pipeline::destination::Destination`]) and what is put back.
//! * [`config`]: environment variables, checked at cold start.
//! * [`raw_body`]: the runtime layer that hands the handler the request body
//!   without lambda_runtime's copy.
//! * `synthetic` (feature `test-util`): generated events for benchmarks and
//!   tests.
//!
//! The event model, sinks, batching and retry are in the shared
//! `chat_pipeline` crate.

pub mod config;
pub mod envelope_scan;
pub mod firehose;
pub mod handler;
pub mod raw_body;
pub mod record;
pub mod reingest;
pub mod response;
#[cfg(feature = "test-util")]
pub mod synthetic;

pub use config::Config;
pub use handler::{Transformer, handle, process, respond};
