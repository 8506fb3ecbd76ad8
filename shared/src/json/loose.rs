//! Any JSON value, read through serde and kept only as far as a lenient
//! field reader needs it: its kind, and strings borrowed from the text when
//! they hold no escapes. The event reader ([`crate::input`]) and the
//! transformer's envelope reader read their fields this way, then check each
//! one themselves, so an error can name the field and what it expected.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Any JSON value, kept only as far as validation needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Loose<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl fmt::Display for Loose<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loose::Null => f.write_str("null"),
            Loose::Bool(b) => write!(f, "boolean {b}"),
            Loose::Int(i) => write!(f, "integer {i}"),
            Loose::Float(x) => write!(f, "number {x}"),
            Loose::Str(s) => {
                let cut = floor_char_boundary(s, 64);
                if cut < s.len() {
                    write!(f, "string {:?}...", &s[..cut])
                } else {
                    write!(f, "string {s:?}")
                }
            }
            Loose::Array => f.write_str("an array"),
            Loose::Object => f.write_str("an object"),
        }
    }
}

/// The largest index `<= max` that is a char boundary of `s`.
pub fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Reads an object key as the caller's field type, matched by name with
/// `from_key` and never copied: how both lenient readers walk an object.
#[derive(Clone, Copy, Debug)]
pub struct KeySeed<F>(pub fn(&str) -> F);

impl<'de, F> DeserializeSeed<'de> for KeySeed<F> {
    type Value = F;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<F, D::Error> {
        d.deserialize_str(KeyVisitor(self.0))
    }
}

struct KeyVisitor<F>(fn(&str) -> F);

impl<F> Visitor<'_> for KeyVisitor<F> {
    type Value = F;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E>(self, v: &str) -> Result<F, E> {
        Ok((self.0)(v))
    }
}

/// Reads one value as a [`Loose`].
#[derive(Clone, Copy, Debug)]
pub struct LooseSeed;

impl<'de> DeserializeSeed<'de> for LooseSeed {
    type Value = Loose<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Loose<'de>, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_none<E>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Loose<'de>, E> {
        Ok(Loose::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Loose<'de>, E> {
        Ok(Loose::Int(i128::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Loose<'de>, E> {
        Ok(Loose::Int(i128::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Loose<'de>, E> {
        Ok(Loose::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Object)
    }
}
