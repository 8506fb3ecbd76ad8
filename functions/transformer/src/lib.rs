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
//! * [`firehose`]: **the Firehose contract in one folder**: the request
//!   Firehose sends and how it is read (`scan` without serde, `lenient`
//!   through serde), what is refused as a whole (`firehose::read_request`:
//!   not an event, empty or repeated record ids), and the response
//!   (`firehose::response`: the model, its exact size, the answers written
//!   once).
//! * [`handler`]: one invocation, read top down as its four phases: every
//!   record answered once, in order; and why the batch is taken from
//!   lambda_runtime as raw bytes.
//! * [`record`]: phase 1, one record: decode, validate, reshape, or say why
//!   not.
//! * `fit`: phase 2, how many answers fit the 6 MB response in full.
//! * `reingest`: phase 3, the records past that go back into their source:
//!   when, where (a [`chat_pipeline::destination::Destination`]), what is put
//!   back, and which the source took.
//! * [`config`]: environment variables, checked at cold start.
//! * [`runtime`]: what `main.rs` starts: the Lambda runtime around the
//!   handler, which gets each request body without lambda_runtime's copy.
//!
//! The event model, sinks, batching and retry are in the shared
//! `chat_pipeline` crate; generated events for tests and benchmarks in the
//! `testkit` crate, which the function never links.
//!
//! The public surface is what the function's runtime, the harness and the
//! workspace's tests use; `fit`, `reingest` and the request scanner are
//! private. Feature `test-util` adds what only tests need (the response in
//! serde's model, `firehose::parse_event`, the scanner alone): this
//! crate's tests and the workspace's `tests` turn it on as
//! dev-dependencies, so the function never contains it.

pub mod config;
pub mod firehose;
mod fit;
pub mod handler;
pub mod record;
mod reingest;
pub mod runtime;

pub use config::Config;

/// What `transformer --help` says: what the binary is, and how to run it.
pub const ABOUT: &str = "\
The chat pipeline's Firehose data-transformation Lambda (the `bootstrap` of
the transformer function). It serves the Lambda Runtime API named by
AWS_LAMBDA_RUNTIME_API, so run it through a runtime rather than by hand:

  make watch                    serve it (and the producer) on port 9000
  make invoke-transformer EVENT=events/transformer/direct-put.json

Configuration: DROP_EVENT_TYPES, REINGEST, MAX_ATTEMPTS: every variable,
its default and range in docs/transformer.md. Sample events and their
expected responses: events/transformer/.";
pub use handler::{Transformer, handle, process, respond};
