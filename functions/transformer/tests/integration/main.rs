//! The transformer's integration tests: one test binary, one module per
//! subject, so the AWS SDK and the test doubles are linked once rather than
//! once per file. Run one subject with
//! `cargo test -p transformer --test integration <module>::`.
//!
//! * [`sample_events`]: golden responses to the sample events in `events/`.
//! * [`invalid_invocations`]: payloads that are not Firehose events.
//! * [`overflow_and_reingestion`]: the 6 MB response budget, with mocked SDKs.
//! * [`properties`]: the Firehose contract over arbitrary record bytes.
//! * [`fast_path_matches_serde`]: the borrowed fast path against serde.
//! * [`generators`], [`support`]: proptest strategies and shared helpers.

mod fast_path_matches_serde;
mod generators;
mod invalid_invocations;
mod overflow_and_reingestion;
mod properties;
mod sample_events;
mod support;
