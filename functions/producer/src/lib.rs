//! # producer
//!
//! The pipeline's source: invoked on an EventBridge schedule, it simulates
//! users of a chat application and writes their events into a Kinesis data
//! stream or a Firehose delivery stream, in batches, resending only what was
//! refused, and never reporting success for an event that was not accepted.
//!
//! Where to look:
//!
//! * [`trigger`]: reading the invocation (a scheduled event, a Scheduler
//!   payload, or a direct invocation with overrides) into a seed and window.
//! * [`generator`]: the simulated sessions, deterministic in the seed.
//! * [`handler`]: one invocation: generate, serialize, deliver, summarize.
//! * [`config`]: environment variables, checked at cold start.
//! * [`runtime`]: what `main.rs` starts: the Lambda runtime around the handler.
//!
//! The event model, sinks, batching and retry are in the shared
//! `chat_pipeline` crate.

pub mod config;
pub mod generator;
pub mod handler;
pub mod runtime;
pub mod trigger;

pub use config::Config;
pub use handler::{Producer, handle};

/// What `producer --help` says: what the binary is, and how to run it.
pub const ABOUT: &str = "\
The chat pipeline's producer Lambda (the `bootstrap` of the producer
function): on each schedule tick it simulates chat users and writes their
events to Kinesis or Firehose. It serves the Lambda Runtime API named by
AWS_LAMBDA_RUNTIME_API, so run it through a runtime rather than by hand:

  make watch                  serve it (and the transformer) on port 9000
  make invoke-producer EVENT=events/producer/override.json

With no SINK set it prints its events on stdout (under `make watch`: in that
terminal). Configuration: SINK, STREAM_NAME, DELIVERY_STREAM_NAME,
EVENTS_PER_INVOCATION, USERS, ...: every variable, its default and range in
docs/producer.md. Sample events: events/producer/.";
