//! `make demo`, as a library: the steps that run the pipeline on this machine
//! ([`steps`]: each does its work and returns what happened) apart from the
//! lines the demo prints about them ([`report`]: text from those results,
//! tested on its own). `src/bin/demo.rs` is the glue: it parses the command
//! line, runs the steps in order and prints each report.
//!
//! The steps: start the emulator and the resources (a
//! [`crate::pipeline::LocalPipeline`]), serve both functions under `cargo
//! lambda watch`, invoke the producer once per schedule tick, put malformed
//! records straight into the stream, drive everything through the
//! transformer with the Firehose stand-in, read the lake back and copy it to
//! a local directory, and reconcile every stage's count
//! ([`crate::ledger`]).

pub mod report;
pub mod steps;

use crate::lake::{LakeError, LocalLakeError};
use crate::lambda_watch::WatchError;
use crate::ledger::Gap;
use crate::local_firehose::StandInError;
use crate::pipeline::PipelineError;
use crate::scenario::PutRawError;
use chat_pipeline::timestamp::TimeError;

/// Why the demo stopped; each step's own error, with its context.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("{0} (see {1})")]
    Watch(WatchError, String),
    #[error("the producer's answer: {0}")]
    Answer(#[from] serde_json::Error),
    #[error(transparent)]
    Time(#[from] TimeError),
    #[error(transparent)]
    PutRaw(#[from] PutRawError),
    #[error(transparent)]
    Firehose(#[from] StandInError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    LocalLake(#[from] LocalLakeError),
    #[error(
        "tick {tick}: the producer generated {generated} events, but the demo expects {expected} ids \
         (its copy of the producer's configuration differs from the function's)"
    )]
    ExpectedIds {
        tick: String,
        generated: u64,
        expected: usize,
    },
    #[error("writing the ledger {path}: {message}")]
    Ledger { path: String, message: String },
    #[error("the counts do not reconcile: {0}")]
    Unreconciled(Gap),
    #[error("interrupted")]
    Interrupted,
}
