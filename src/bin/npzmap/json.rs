//! JSON forms of dtypes (mirroring numpy's `dtype.descr` with tuples as
//! arrays) and of errors.

use npzmap::DType;
use serde_json::{Value, json};

/// `"<f8"` for plain dtypes; for structured ones a list of
/// `[name, descr]` / `[name, descr, [shape...]]`, with `[title, name]` in
/// place of the name for titled fields.
pub fn descr(d: &DType) -> Value {
    match d {
        DType::Scalar(s) => Value::String(s.to_string()),
        DType::Record { fields, .. } => Value::Array(
            fields
                .iter()
                .map(|f| {
                    let name = match &f.title {
                        Some(t) => json!([t, f.name]),
                        None => json!(f.name),
                    };
                    if f.shape.is_empty() {
                        json!([name, descr(&f.dtype)])
                    } else {
                        json!([name, descr(&f.dtype), f.shape])
                    }
                })
                .collect(),
        ),
        DType::Subarray { base, shape } => json!([descr(base), shape]),
    }
}

/// Writes `s` as a JSON string, escaped exactly as serde_json does (`"`, `\\`,
/// control characters; everything else, non-ASCII included, as is), without
/// building a value.
pub fn write_str<W: std::io::Write + ?Sized>(w: &mut W, s: &str) -> std::io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    w.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `run..i` ends on a char boundary.
        w.write_all(&bytes[run..i])?;
        if short.is_empty() {
            let hex = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ];
            w.write_all(&hex)?;
        } else {
            w.write_all(short)?;
        }
        run = i + 1;
    }
    w.write_all(&bytes[run..])?;
    w.write_all(b"\"")
}

/// `{"kind": VARIANT, "message": TEXT}` for an error: the variant name of
/// [`npzmap::Error`] (e.g. `"CrcMismatch"`), stable for scripts to match.
pub fn error(e: &npzmap::Error) -> Value {
    json!({"kind": error_kind(e), "message": e.to_string()})
}

/// The variant name of an error (from its `Debug` form).
pub fn error_kind(e: &npzmap::Error) -> String {
    format!("{e:?}")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_numpy_descr() {
        let d = DType::parse("[(('T', 'a'), '<i4'), ('b', [('c', '<f8')]), ('e', '<f4', (2, 2))]")
            .unwrap();
        assert_eq!(
            descr(&d).to_string(),
            r#"[[["T","a"],"<i4"],["b",[["c","<f8"]]],["e","<f4",[2,2]]]"#
        );
        assert_eq!(descr(&DType::parse("<M8[ns]").unwrap()), json!("<M8[ns]"));
    }

    #[test]
    fn write_str_escapes_as_serde_json_does() {
        let mut every: String = (0u32..0x80).filter_map(char::from_u32).collect();
        every.push_str("é\u{7f}\u{80}\u{2028}\u{fffd}日本🦀\"\\end");
        for s in [
            every.as_str(),
            "",
            "plain",
            "\\",
            "\"",
            "\u{0}",
            "a\nb\u{1f}c",
        ] {
            let mut ours = Vec::new();
            write_str(&mut ours, s).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn error_kind_is_the_variant_name() {
        let e = npzmap::Error::invalid_argument("x");
        assert_eq!(error_kind(&e), "InvalidArgument");
        assert_eq!(error(&e)["message"], json!(e.to_string()));
    }
}
