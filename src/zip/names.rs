//! Member name decoding, as Python's `zipfile` does it: UTF-8 when general
//! purpose flag bit 11 is set, IBM code page 437 otherwise.

use super::spec::FLAG_UTF8;
use std::borrow::Cow;

/// Code page 437, bytes 0x80..=0xFF (the lower half is ASCII).
const CP437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', //
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', //
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', //
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', //
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', //
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', //
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}',
];

/// Decodes a raw member name. ASCII names (the common case) are borrowed.
/// UTF-8-flagged names that are not valid UTF-8 are decoded lossily
/// (Python's zipfile would refuse them; a replacement character keeps the
/// rest of the archive readable).
pub fn decode_name(raw: &[u8], flags: u16) -> Cow<'_, str> {
    if raw.is_ascii() {
        // ASCII is valid UTF-8 and identical in cp437.
        return Cow::Borrowed(std::str::from_utf8(raw).unwrap_or_default());
    }
    if flags & FLAG_UTF8 != 0 {
        String::from_utf8_lossy(raw)
    } else {
        Cow::Owned(
            raw.iter()
                .map(|&b| {
                    // Below 0x80 (no entry in the table): ASCII.
                    b.checked_sub(0x80)
                        .and_then(|i| CP437_HIGH.get(usize::from(i)))
                        .copied()
                        .unwrap_or(char::from(b))
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_python_zipfile() {
        assert_eq!(decode_name(b"a.npy", 0), "a.npy");
        assert!(matches!(decode_name(b"a.npy", 0), Cow::Borrowed(_)));
        assert_eq!(decode_name("é.npy".as_bytes(), FLAG_UTF8), "é.npy");
        // b'\x82.npy'.decode('cp437') == 'é.npy'
        assert_eq!(decode_name(b"\x82.npy", 0), "é.npy");
        assert_eq!(decode_name(b"\xff\x80", 0), "\u{a0}Ç");
        assert_eq!(decode_name(b"\xff", FLAG_UTF8), "\u{fffd}");
    }
}
