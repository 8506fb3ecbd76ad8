//! A position in a JSON text, and the constructs the fast readers read
//! without serde. Each method reads one construct at the position, checks it
//! as RFC 8259 does, moves past it and returns it; `None` means "not the
//! usual shape" (an escape, a fraction, a construct it does not read), and
//! the caller leaves the whole text to serde_json, which reads it or words
//! the error.

use super::escape::has_control_byte;

/// A position in `text`.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

/// An integer literal as written: sign, magnitude, and how many digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntegerLiteral {
    pub negative: bool,
    pub magnitude: u64,
    pub digits: usize,
}

impl<'a> Cursor<'a> {
    /// At the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Cursor { text, at: 0 }
    }

    /// The byte offset.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.at == self.text.len()
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte, if any, without moving.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace (space, tab, newline, carriage return).
    #[inline]
    pub(crate) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// Skips whitespace, then consumes `b` if it comes next.
    #[inline]
    pub fn eat(&mut self, b: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// [`Cursor::eat`], as an `Option` for `?`.
    #[inline]
    pub fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    /// Skips whitespace, then consumes `word` (`null`, `true`, `false`) if it
    /// comes next.
    pub(crate) fn eat_literal(&mut self, word: &str) -> bool {
        self.skip_ws();
        if self.bytes()[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            true
        } else {
            false
        }
    }

    /// A string without escapes, borrowed from the text: `None` for an
    /// escape (a `\` before the closing quote), which serde_json unescapes,
    /// and for a raw control character, which JSON forbids (RFC 8259,
    /// section 7). The end is found with `memchr2`, many bytes per cycle.
    #[inline]
    pub fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let rest = &self.bytes()[self.at..];
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[len] != b'"' || has_control_byte(&rest[..len]) {
            return None;
        }
        // Both ends are at ASCII quotes, so on character boundaries.
        let s = self.text.get(self.at..self.at + len)?;
        self.at += len + 1;
        Some(s)
    }

    /// An integer literal: an optional `-`, digits without a leading zero,
    /// and no fraction or exponent after them (those are left to serde_json),
    /// whose magnitude fits in `u64`.
    #[inline]
    pub fn integer(&mut self) -> Option<IntegerLiteral> {
        self.skip_ws();
        let negative = self.peek() == Some(b'-');
        let start = self.at + usize::from(negative);
        let mut at = start;
        let mut magnitude: u64 = 0;
        while let Some(&b) = self.bytes().get(at) {
            if !b.is_ascii_digit() {
                break;
            }
            magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            at += 1;
        }
        let digits = at - start;
        if digits == 0 || (digits > 1 && self.bytes()[start] == b'0') {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = self.bytes().get(at) {
            return None;
        }
        self.at = at;
        Some(IntegerLiteral {
            negative,
            magnitude,
            digits,
        })
    }

    /// A non-negative integer that fits in `u64`.
    #[inline]
    pub fn unsigned(&mut self) -> Option<u64> {
        let literal = self.integer()?;
        (!literal.negative).then_some(literal.magnitude)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_borrowed_unless_escaped_or_controlled() {
        let mut c = Cursor::new(r#"  "abc" "a\"b" "#);
        assert_eq!(c.string(), Some("abc"));
        assert_eq!(c.string(), None, "an escape is serde_json's");
        assert_eq!(Cursor::new("\"a\tb\"").string(), None, "a raw tab is not JSON");
        assert_eq!(Cursor::new("\"é😀\"").string(), Some("é😀"));
        assert_eq!(Cursor::new("\"open").string(), None);
    }

    #[test]
    fn integers_as_json_writes_them() {
        let lit = |s: &str| Cursor::new(s).integer();
        assert_eq!(
            lit("42"),
            Some(IntegerLiteral {
                negative: false,
                magnitude: 42,
                digits: 2
            })
        );
        assert_eq!(
            lit("-7 "),
            Some(IntegerLiteral {
                negative: true,
                magnitude: 7,
                digits: 1
            })
        );
        assert_eq!(
            lit("0"),
            Some(IntegerLiteral {
                negative: false,
                magnitude: 0,
                digits: 1
            })
        );
        for refused in ["007", "1.5", "1e3", "2E1", "-", "x", "18446744073709551616"] {
            assert_eq!(lit(refused), None, "{refused}");
        }
        assert_eq!(lit("18446744073709551615").map(|l| l.magnitude), Some(u64::MAX));
        assert_eq!(Cursor::new("-1").unsigned(), None);
    }

    #[test]
    fn punctuation_and_literals_skip_whitespace() {
        let mut c = Cursor::new(" { \n\t\"k\" : null , true}  ");
        assert!(c.eat(b'{'));
        assert_eq!(c.string(), Some("k"));
        assert!(c.eat(b':'));
        assert!(c.eat_literal("null"));
        assert!(c.eat(b','));
        assert!(!c.eat_literal("false"));
        assert!(c.eat_literal("true"));
        assert!(c.eat(b'}'));
        assert!(c.at_end());
    }
}
