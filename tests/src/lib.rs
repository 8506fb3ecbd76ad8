//! # pipeline-tests
//!
//! What the integration tests and the local tools share:
//!
//! * [`runtime_api`]: a stand-in for the Lambda Runtime API that runs a
//!   function's real binary, for cold-start and memory measurements and for
//!   tests through the real runtime path.
//! * [`binaries`]: building the function binaries from tests.
//! * [`template`]: reading template.yaml, for agreement tests and the local
//!   Firehose stand-in.

pub mod binaries;
pub mod runtime_api;
pub mod template;
