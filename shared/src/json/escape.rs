//! Which bytes a JSON string must escape, and writing strings escaped
//! exactly as serde_json escapes them (the transformer's output lines and
//! response are written by hand and must equal what serde_json would write:
//! property tests in `output` and the transformer hold them to it).

/// True when `bytes` hold a byte below 0x20 (a control character, which a
/// JSON string may not hold raw). Branch-free over 16-byte blocks, a few
/// vector instructions each: the strings checked are mostly base64 payloads
/// of hundreds of bytes. Kept apart from [`needs_escape`], which also looks
/// for `"` and `\`: the readers call it on a span `memchr2` has already
/// cleared of both.
#[inline]
pub(crate) fn has_control_byte(bytes: &[u8]) -> bool {
    let any = |block: &[u8]| block.iter().fold(false, |acc, &b| acc | (b < 0x20));
    let mut blocks = bytes.chunks_exact(16);
    let mut found = false;
    for block in &mut blocks {
        found |= any(block);
    }
    found | any(blocks.remainder())
}

/// True when `bytes` hold a character JSON strings must escape (a control
/// character, `"` or `\`). Branch-free over 16-byte blocks, which compile to
/// a few vector instructions each: the strings checked here are short (ids,
/// keys), where a plain loop spends its time in set-up and the scalar tail.
pub fn needs_escape(bytes: &[u8]) -> bool {
    fn any_special(block: &[u8]) -> bool {
        block
            .iter()
            .fold(false, |acc, &b| acc | (b < 0x20) | (b == b'"') | (b == b'\\'))
    }
    let mut blocks = bytes.chunks_exact(16);
    let mut found = false;
    for block in &mut blocks {
        found |= any_special(block);
    }
    found | any_special(blocks.remainder())
}

/// How `serde_json` writes each control character inside a string.
const CONTROL_ESCAPES: [&str; 32] = [
    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007", "\\b", "\\t", "\\n",
    "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015",
    "\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
];

/// `s` as a JSON string, quotes included, escaped as `serde_json` escapes
/// it, handed to `emit` piece by piece (most strings: three pieces).
pub fn json_str_pieces(s: &str, mut emit: impl FnMut(&str)) {
    emit("\"");
    if !needs_escape(s.as_bytes()) {
        emit(s);
    } else {
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let escaped = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                0x00..=0x1f => CONTROL_ESCAPES[usize::from(b)],
                _ => continue,
            };
            // `i` is at an ASCII byte, so both cuts are character boundaries.
            emit(&s[start..i]);
            emit(escaped);
            start = i + 1;
        }
        emit(&s[start..]);
    }
    emit("\"");
}

/// Appends `s` as a JSON string, escaping as `serde_json` does.
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    json_str_pieces(s, |piece| out.extend_from_slice(piece.as_bytes()));
}

/// `write_json_str` for a `String`.
pub fn push_json_str(out: &mut String, s: &str) {
    json_str_pieces(s, |piece| out.push_str(piece));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_check_finds_a_special_byte_at_any_position_of_any_length() {
        for len in 0..50 {
            let plain = vec![b'a'; len];
            assert!(!needs_escape(&plain), "{len}");
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut s = plain.clone();
                    s[at] = special;
                    assert!(needs_escape(&s), "{len} {at} {special}");
                }
                let mut s = plain.clone();
                s[at] = 0x20;
                assert!(!needs_escape(&s));
            }
        }
    }

    #[test]
    fn control_bytes_are_found_at_any_position_of_any_length() {
        for len in 0..40 {
            let plain = vec![b'A'; len];
            assert!(!has_control_byte(&plain), "{len}");
            for at in 0..len {
                let mut s = plain.clone();
                s[at] = 0x1f;
                assert!(has_control_byte(&s), "{len} {at}");
                s[at] = b'"';
                assert!(!has_control_byte(&s), "a quote is not a control byte");
            }
        }
    }
}
