//! The pipeline's integration tests: one test binary, one module per
//! subject, so the AWS SDK, the harness and the functions are linked once
//! rather than once per file. Run one subject with
//! `cargo test -p pipeline-tests --test integration <module>::`; the emulator
//! tests are `#[ignore]`d unless asked for (`-- --include-ignored`, as `make
//! test` does).
//!
//! * [`dashboard`]: the dashboard shows what the stack publishes, and every
//!   alarm with its threshold.
//! * [`template_agreement`], [`schema_agreement`]: template.yaml and the
//!   output schema agree with the code.
//! * [`runtime_path`]: the release-shaped binaries through the Runtime API
//!   stand-in.
//! * [`end_to_end`], [`lake_queries`]: the pipeline on the emulator, from
//!   the producer to S3 objects and to SQL answers.
//! * [`local_stream`]: the emulator's stream keeps every record under
//!   concurrent PutRecords calls.
//! * [`replay_from_s3`]: the replay command's AWS path, from the bucket back
//!   into the stream and the lake.
//! * [`workspace_shape`]: no build of a function compiles test code.

mod dashboard;
mod end_to_end;
mod lake_queries;
mod local_stream;
mod replay_from_s3;
mod runtime_path;
mod schema_agreement;
mod template_agreement;
mod workspace_shape;
