//! Unit tests of views.
use super::*;
use crate::dtype::DType;

fn header(descr: &str, shape: &[u64]) -> Header {
    Header::new(DType::parse(descr).unwrap(), shape.to_vec(), Order::C)
}

#[test]
fn as_slice_reports_which_condition_failed() {
    let buf = AlignedBuf::copy_from(&[0u8; 17]).unwrap();
    let h = header("<f8", &[2]);
    let v = ArrayView::from_bytes(&h, &buf.as_slice()[1..]).unwrap();
    assert!(matches!(
        v.as_slice::<f64>(),
        Err(Error::View {
            problem: ViewProblem::Unaligned,
            ..
        })
    ));
    assert_eq!(v.to_vec::<f64>().unwrap(), vec![0.0, 0.0]);
    let v = ArrayView::from_bytes(&h, &buf.as_slice()[..16]).unwrap();
    assert!(matches!(
        v.as_slice::<i64>(),
        Err(Error::DTypeMismatch { .. })
    ));
    let hb = header(">f8", &[2]);
    let v = ArrayView::from_bytes(&hb, &buf.as_slice()[..16]).unwrap();
    assert!(matches!(
        v.as_slice::<f64>(),
        Err(Error::View {
            problem: ViewProblem::ByteOrder,
            ..
        })
    ));
}

#[test]
fn dtype_mismatch_is_one_error_from_every_accessor() {
    let h = header("<f8", &[2]);
    let bytes = [0u8; 16];
    let v = ArrayView::from_bytes(&h, &bytes)
        .unwrap()
        .with_location(Location::path("a.npy"));
    let from_slice = v.as_slice::<i64>().unwrap_err();
    let from_vec = v.to_vec::<i64>().unwrap_err();
    let (
        Error::DTypeMismatch {
            expected: e1,
            found: f1,
            at: a1,
        },
        Error::DTypeMismatch {
            expected: e2,
            found: f2,
            at: a2,
        },
    ) = (&from_slice, &from_vec)
    else {
        panic!("{from_slice:?} / {from_vec:?}");
    };
    assert_eq!((e1, f1, a1), (e2, f2, a2));
    assert_eq!(f1, "<f8");
    assert_eq!(from_slice.to_string(), from_vec.to_string());
    assert!(from_slice.to_string().contains("file a.npy"));
    // A byte-swapped array of the right type is not a dtype mismatch.
    let hb = header(">f8", &[2]);
    let v = ArrayView::from_bytes(&hb, &bytes).unwrap();
    assert!(matches!(
        v.as_slice::<f64>(),
        Err(Error::View {
            problem: ViewProblem::ByteOrder,
            ..
        })
    ));
    assert_eq!(v.to_vec::<f64>().unwrap(), vec![0.0; 2]);
}

/// A user element whose bit patterns are checked (not every `u32` is a
/// `char`): an invalid one is named by element index.
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::NoUninit, bytemuck::CheckedBitPattern)]
#[repr(C)]
struct Letter(char);
impl Element for Letter {
    fn dtype() -> DType {
        <u32 as Element>::dtype()
    }
}

#[test]
fn invalid_user_values_are_named_by_element() {
    let data: [u32; 3] = ['a' as u32, 0xD800, 'c' as u32];
    let v = ArrayView::from_slice(&data, &[3], Order::C).unwrap();
    assert!(matches!(
        v.as_slice::<Letter>(),
        Err(Error::InvalidValue { index: 1, .. })
    ));
    assert!(matches!(
        v.to_vec::<Letter>(),
        Err(Error::InvalidValue { index: 1, .. })
    ));
    let ok: [u32; 2] = ['x' as u32, 'y' as u32];
    let v = ArrayView::from_slice(&ok, &[2], Order::C).unwrap();
    assert_eq!(
        v.to_vec::<Letter>().unwrap(),
        vec![Letter('x'), Letter('y')]
    );
}

#[test]
fn bytes_are_borrowed_or_shared_and_len_counts_elements() {
    let data = [1u16, 2, 3, 4, 5, 6];
    let v = ArrayView::from_slice(&data, &[2, 3], Order::C).unwrap();
    assert!(!v.bytes().is_shared());
    assert_eq!(v.bytes().len(), 12);
    assert_eq!(v.len(), 6);
    let owned: OwnedView = v.into_owned().unwrap();
    assert!(owned.bytes().is_shared());
    assert_eq!(owned.as_slice::<u16>().unwrap(), &data);
    // Zero-size items: no bytes, but the shape's elements.
    let h = header("|S0", &[3]);
    let v = ArrayView::from_bytes(&h, &[]).unwrap();
    assert_eq!((v.len(), v.is_empty(), v.bytes().len()), (3, false, 0));
    let buf = AlignedBuf::copy_from(&[7; 100]).unwrap();
    assert_eq!(buf.len(), 100);
    assert_eq!(buf.as_slice(), &[7; 100]);
}

#[test]
fn to_vec_swaps_big_endian() {
    let h = header(">i4", &[2]);
    let bytes = [0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe];
    let v = ArrayView::from_bytes(&h, &bytes).unwrap();
    assert_eq!(v.to_vec::<i32>().unwrap(), vec![1, -2]);
    assert!(matches!(
        v.to_vec::<u32>(),
        Err(Error::DTypeMismatch { .. })
    ));
}

#[test]
fn native_bytes_swap_mixed_records() {
    let h = header("[('a', '>u2'), ('b', '|u1'), ('c', '<u4')]", &[2]);
    let bytes = [0x01, 0x02, 9, 1, 0, 0, 0, 0x0a, 0x0b, 8, 2, 0, 0, 0];
    let v = ArrayView::from_bytes(&h, &bytes).unwrap();
    let n = v.to_native_bytes().unwrap();
    if cfg!(target_endian = "little") {
        assert_eq!(
            n.as_slice(),
            &[0x02, 0x01, 9, 1, 0, 0, 0, 0x0b, 0x0a, 8, 2, 0, 0, 0]
        );
    }
    let h = header(">c8", &[1]);
    let bytes = [0x3f, 0x80, 0, 0, 0x40, 0, 0, 0];
    let v = ArrayView::from_bytes(&h, &bytes).unwrap();
    let n = v.to_native_bytes().unwrap();
    let f: &[f32] = bytemuck::cast_slice(n.as_slice());
    assert_eq!(f, &[1.0, 2.0]);
}

#[test]
fn bools_are_validated() {
    let h = header("|b1", &[3]);
    let bytes = [1, 0, 2];
    let v = ArrayView::from_bytes(&h, &bytes).unwrap();
    assert!(matches!(
        v.as_slice::<bool>(),
        Err(Error::InvalidBool {
            index: 2,
            value: 2,
            ..
        })
    ));
    assert!(matches!(
        v.to_vec::<bool>(),
        Err(Error::InvalidBool { index: 2, .. })
    ));
    let ok = [1, 0, 1];
    let v = ArrayView::from_bytes(&h, &ok).unwrap();
    assert_eq!(v.as_slice::<bool>().unwrap(), &[true, false, true]);
}

#[test]
fn size_must_match() {
    let h = header("<i2", &[3]);
    assert!(matches!(
        ArrayView::from_bytes(&h, &[0; 5]),
        Err(Error::DataTooShort {
            expected: 6,
            actual: 5,
            ..
        })
    ));
    assert!(matches!(
        ArrayView::from_bytes(&h, &[0; 7]),
        Err(Error::DataTooLong { .. })
    ));
    assert!(ArrayView::from_slice(&[1u8, 2, 3], &[2, 2], Order::C).is_err());
}

#[test]
fn strings_decode() {
    let h = header("<U2", &[2]);
    let mut b = Vec::new();
    for c in ['h', 'i', 'é', '\0'] {
        b.extend_from_slice(&(c as u32).to_le_bytes());
    }
    let v = ArrayView::from_bytes(&h, &b).unwrap();
    assert_eq!(
        v.to_strings().unwrap(),
        vec!["hi".to_string(), "é".to_string()]
    );
    let h = header("|S3", &[2]);
    let v = ArrayView::from_bytes(&h, b"ab\0xyz").unwrap();
    assert_eq!(
        v.to_byte_strings().unwrap(),
        vec![b"ab".to_vec(), b"xyz".to_vec()]
    );
}

#[test]
fn zero_size_strings_never_allocate_by_shape() {
    // A tiny file may claim 2**60 elements of `S0`/`U0`: the data is
    // empty and valid, so the count must be capped, not allocated.
    for d in ["|S0", "<U0"] {
        let h = header(d, &[1 << 60]);
        let v = ArrayView::from_bytes(&h, &[]).unwrap();
        let r = if d == "|S0" {
            v.to_byte_strings().map(|_| ())
        } else {
            v.to_strings().map(|_| ())
        };
        assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{d}");
    }
    let h = header("|S0", &[3]);
    let v = ArrayView::from_bytes(&h, &[]).unwrap();
    assert_eq!(v.to_byte_strings().unwrap(), vec![Vec::<u8>::new(); 3]);
}

#[test]
fn native_bytes_of_empty_huge_dtype_is_quick() {
    // Found by fuzzing: an empty array whose dtype is 44 GB per item.
    let h = header(">U11111111111", &[0]);
    let v = ArrayView::from_bytes(&h, &[]).unwrap();
    assert!(v.to_native_bytes().unwrap().is_empty());
    let h = header("[('a', '>i2'), ('b', '>U3', (2,))]", &[1]);
    let mut b = vec![0, 1];
    for c in ['x', 'y', 'z', 'é', '€', '\0'] {
        b.extend_from_slice(&(c as u32).to_be_bytes());
    }
    let v = ArrayView::from_bytes(&h, &b).unwrap();
    let n = v.to_native_bytes().unwrap();
    assert_eq!(&n.as_slice()[..2], &1u16.to_ne_bytes());
    assert_eq!(&n.as_slice()[2..6], &('x' as u32).to_ne_bytes());
    assert_eq!(&n.as_slice()[18..22], &('€' as u32).to_ne_bytes());
    assert_eq!(&n.as_slice()[22..26], &[0; 4]);
}

#[test]
fn owned_outlives_source() {
    let owned = {
        let data = vec![1u16, 2, 3];
        ArrayView::from_slice(&data, &[3], Order::C)
            .unwrap()
            .into_owned()
            .unwrap()
    };
    assert_eq!(owned.as_slice::<u16>().unwrap(), &[1, 2, 3]);
}
