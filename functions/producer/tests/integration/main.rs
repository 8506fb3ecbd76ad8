//! The producer's integration tests: one test binary, one module per
//! subject, so the AWS SDK is linked once rather than once per file. Run one
//! subject with `cargo test -p producer --test integration <module>::`.
//!
//! * [`sample_events`]: the sample events in `events/producer/`, against an
//!   in-memory sink and the transformer's reader.
//! * [`delivery_with_mocked_sdks`]: the real SDK clients answered by
//!   `aws-smithy-mocks`: partial failures, throttling, limits, deadline.

mod delivery_with_mocked_sdks;
mod sample_events;
