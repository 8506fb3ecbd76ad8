//! # testkit
//!
//! What the tests, the benchmarks and the tools generate, kept out of the
//! functions: no function depends on this crate, so a binary built for
//! Lambda (`cargo lambda build`, `sam build`, or `make demo`'s debug build
//! next to the tools) never compiles it.
//!
//! * [`synthetic`]: Firehose transformation events of any size, in either
//!   input format and from either source type, deterministic by index.
//!
//! The test doubles for the outside systems (in-memory sinks, mocked SDK
//! clients) stay in `chat_pipeline::test_util`, behind its `test-util`
//! feature, because the shared crate's own unit tests use them; only
//! `[dev-dependencies]` turn that feature on, and Cargo's feature resolver
//! (resolver 2 and later) keeps features asked for by dev-dependencies out
//! of every build that is not a test, benchmark or example.

pub mod synthetic;
