//! # pipeline-tests
//!
//! Only tests live here, in one test binary (`tests/integration/`, a module
//! per subject): the pipeline end to end on the emulator
//! (`end_to_end.rs`, `lake_queries.rs`), the functions' real binaries through
//! the Runtime API (`runtime_path.rs`), and the agreement of template.yaml and
//! schema/ with the code (`template_agreement.rs`, `schema_agreement.rs`).
//! The harnesses they use are the `harness` crate's.
