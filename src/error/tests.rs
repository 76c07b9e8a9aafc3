//! Unit tests of errors: context filling and messages.
use super::*;

#[test]
fn context_is_added_once_and_displayed() {
    let e = Error::BadMagic {
        at: Location::offset(3),
    }
    .at_path("a.npz")
    .at_member("x.npy")
    .at_offset(99)
    .at_member("y.npy");
    let at = e.location();
    assert_eq!(at.path.as_deref(), Some(Path::new("a.npz")));
    assert_eq!(at.member.as_deref(), Some("x.npy"));
    assert_eq!(at.offset, Some(3));
    let s = e.to_string();
    assert!(s.contains("file a.npz"), "{s}");
    assert!(s.contains("member \"x.npy\""), "{s}");
    assert!(s.contains("offset 3"), "{s}");
}

#[test]
fn messages_of_every_group_end_with_the_location() {
    let at = || Location {
        path: Some(PathBuf::from("a.npz")),
        member: Some("x.npy".into()),
        offset: Some(7),
    };
    let cases = [
        (
            Error::BadMagic { at: at() },
            "not an NPY file: missing \\x93NUMPY magic",
        ),
        (
            Error::DTypeMismatch {
                expected: "<f4".into(),
                found: "<f8".into(),
                at: at(),
            },
            "dtype mismatch: expected <f4, found <f8",
        ),
        (
            Error::View {
                problem: ViewProblem::ByteOrder,
                detail: "array is >f8".into(),
                at: at(),
            },
            "no zero-copy view: data is in non-native byte order: array is >f8",
        ),
        (
            Error::CrcMismatch {
                expected: 1,
                actual: 0xabc,
                at: at(),
            },
            "CRC-32 mismatch: archive says 00000001, data has 00000abc",
        ),
        (
            Error::NotFound {
                name: "w".into(),
                at: at(),
            },
            "no array named \"w\"",
        ),
        (
            Error::Io {
                op: "open",
                source: io::Error::other("boom"),
                at: at(),
            },
            "I/O error during open: boom",
        ),
    ];
    for (e, what) in cases {
        assert_eq!(
            e.to_string(),
            format!("{what} (file a.npz, member \"x.npy\", offset 7)")
        );
    }
    assert_eq!(
        Error::Closed {
            at: Location::none()
        }
        .to_string(),
        "writer is closed"
    );
}

#[test]
fn shift_offset_adds_base() {
    let e = Error::BadMagic {
        at: Location::offset(3),
    }
    .shift_offset(100);
    assert_eq!(e.location().offset, Some(103));
}
