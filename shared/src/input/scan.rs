//! The fast path of reading an event: a flat JSON object of unescaped
//! strings, small integers, `null`, `true` and `false`, which is what
//! producers send, read with [`Cursor`] and no serde.

use std::borrow::Cow;

use crate::json::{Cursor, Loose};
use crate::model::{Field, RawEvent};

/// The fast path: a flat JSON object whose values are unescaped strings,
/// integers of up to 18 digits, `null`, `true` or `false`, which is what
/// producers send. Anything else (escapes, nesting, floats, long integers,
/// syntax errors, trailing data) returns `None` and goes through serde_json,
/// which then also produces the error. For every input it accepts, the result
/// is the one serde_json would give (a property test checks this).
pub(super) fn scan_flat_object(text: &str) -> Option<RawEvent<'_>> {
    let mut c = Cursor::new(text);
    c.expect(b'{')?;
    let mut raw = RawEvent::default();
    if c.eat(b'}') {
        return c.at_end().then_some(raw);
    }
    loop {
        let key = c.string()?;
        c.expect(b':')?;
        let value = scalar(&mut c)?;
        raw.set(Field::from_key(key), value);
        if c.eat(b'}') {
            return c.at_end().then_some(raw);
        }
        c.expect(b',')?;
    }
}

/// A value the fast path reads: an unescaped string (borrowed), `null`,
/// `true`, `false`, or an integer of up to 18 digits.
fn scalar<'a>(c: &mut Cursor<'a>) -> Option<Loose<'a>> {
    c.skip_ws();
    match c.peek()? {
        b'"' => c.string().map(|s| Loose::Str(Cow::Borrowed(s))),
        b'n' => c.eat_literal("null").then_some(Loose::Null),
        b't' => c.eat_literal("true").then_some(Loose::Bool(true)),
        b'f' => c.eat_literal("false").then_some(Loose::Bool(false)),
        b'-' | b'0'..=b'9' => {
            let literal = c.integer()?;
            // Long numbers are serde_json's (it reads them as u64, i64 or
            // f64 by size), and so is `-0`, which it reads as the float -0.0.
            if literal.digits > 18 || (literal.negative && literal.magnitude == 0) {
                return None;
            }
            let magnitude = i128::from(literal.magnitude);
            Some(Loose::Int(if literal.negative { -magnitude } else { magnitude }))
        }
        _ => None,
    }
}
