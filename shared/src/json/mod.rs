//! JSON at the byte level, for the two hot readers of the pipeline (the
//! transformer's request envelope, `transformer::firehose::scan`, and each
//! record's event, [`crate::input`]) and its one hand-written writer
//! ([`crate::output`]): one home for what they all need, so each construct
//! is read and checked one way.
//!
//! * [`cursor`]: a position in a JSON text: whitespace, punctuation,
//!   strings without escapes (borrowed), integer literals; each accepts only
//!   what RFC 8259 allows, and gives up (`None`) on anything it does not
//!   read itself, for serde_json to read.
//! * [`escape`]: which bytes a JSON string must escape, and writing strings
//!   escaped exactly as serde_json escapes them.
//! * [`loose`]: any JSON value, read through serde, kept only as far as a
//!   lenient field reader needs it (strings borrowed): how both readers read
//!   fields they then check themselves.

pub mod cursor;
pub mod escape;
pub mod loose;

pub use cursor::{Cursor, IntegerLiteral};
pub(crate) use escape::write_json_str;
pub use escape::{json_str_pieces, needs_escape, push_json_str};
pub use loose::{KeySeed, Loose, LooseSeed, floor_char_boundary};
