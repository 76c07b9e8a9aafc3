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
    fn error_kind_is_the_variant_name() {
        let e = npzmap::Error::invalid_argument("x");
        assert_eq!(error_kind(&e), "InvalidArgument");
        assert_eq!(error(&e)["message"], json!(e.to_string()));
    }
}
