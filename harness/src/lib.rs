//! # harness
//!
//! The pipeline on this machine: stand-ins for what Lambda and Firehose do
//! around the functions, the emulator for the rest of AWS, and readers of
//! what lands. The tools are built on it (`make demo` runs `demo`; `make
//! measure` runs `lambda-probe`), and so are the integration tests in
//! `tests/`:
//!
//! * [`runtime_api`]: a stand-in for the Lambda Runtime API that runs a
//!   function's real binary, for cold-start and memory measurements and for
//!   tests through the real runtime path.
//! * [`binaries`]: building the function binaries from tests.
//! * [`template`]: reading template.yaml, for agreement tests and the local
//!   Firehose stand-in.
//! * [`host`]: this machine: the repository root, tool lookup, free ports,
//!   waiting for a server to listen.
//! * [`emulator`]: moto's server on a free port, started and stopped by us.
//! * [`resources`]: the stream, bucket and delivery streams in the emulator.
//! * [`pipeline`]: one local pipeline, set up once ([`pipeline::LocalPipeline`]:
//!   the emulator, template.yaml's delivery settings, the resources): the
//!   demo, replay and every test that needs the pipeline start here.
//! * [`local_firehose`]: Firehose's Lambda processing step, which the
//!   emulator lacks: Kinesis -> transformer -> partitioned GZIP objects in S3,
//!   a file per phase.
//! * [`lake`]: reading back what landed in S3.
//! * [`progress`]: a line every few seconds from a long local step.
//! * [`lake_sql`]: SQL over a local copy of the lake (DuckDB, as `make query`).
//! * [`lambda_watch`]: `cargo lambda watch` and its Invoke API.
//! * [`scenario`]: what the demo and the end-to-end tests do alike.
//! * [`demo`]: `make demo`'s steps and, apart, the lines it prints.
//! * [`ledger`]: every event accounted for: the count at each stage of a
//!   run, and the check that they reconcile.
//! * [`verdict`]: what the transformer's own code says of one record (its
//!   event id, or why it fails), outside an invocation.
//! * [`replay`]: re-sending Firehose's error records through the pipeline,
//!   from a local lake or from S3.

pub mod binaries;
pub mod demo;
pub mod emulator;
pub mod host;
pub mod lake;
pub mod lake_sql;
pub mod lambda_watch;
pub mod ledger;
pub mod load;
pub mod local_firehose;
pub mod pipeline;
pub mod progress;
pub mod replay;
pub mod resources;
pub mod runtime_api;
pub mod scenario;
pub mod template;
pub mod verdict;
