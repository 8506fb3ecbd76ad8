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
//!
//! The event model, sinks, batching and retry are in the shared
//! `chat_pipeline` crate.

pub mod config;
pub mod generator;
pub mod handler;
pub mod trigger;

pub use config::Config;
pub use handler::{Producer, handle};
