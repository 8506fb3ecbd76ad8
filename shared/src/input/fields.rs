//! Serde's way into the event's fields: each known key's value read as a
//! [`crate::json::Loose`] value (any JSON, strings borrowed), unknown keys skipped, a
//! repeated key noted for validation to refuse. The fields themselves, by
//! name, are generated from the schema ([`crate::model`]'s `Field` and
//! `RawEvent`).

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};

use crate::json::{KeySeed, LooseSeed};
use crate::model::{Field, RawEvent};

pub(super) struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawEvent<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEvent<'de>, A::Error> {
        let mut raw = RawEvent::default();
        while let Some(field) = map.next_key_seed(KeySeed(Field::from_key))? {
            if let Field::Other = field {
                map.next_value::<IgnoredAny>()?;
            } else {
                raw.set(field, map.next_value_seed(LooseSeed)?);
            }
        }
        Ok(raw)
    }
}
