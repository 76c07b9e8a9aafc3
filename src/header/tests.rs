//! Unit tests of NPY headers: reading, writing, numpy byte equality.
use super::read::{parse_canonical, parse_dict_general};
use super::*;
use crate::dtype::MAX_DIMS;

fn h(descr: &str, shape: &[u64], order: Order) -> Header {
    Header::new(DType::parse(descr).unwrap(), shape.to_vec(), order)
}

#[test]
fn matches_numpy_known_bytes() {
    // np.save(f, np.zeros((10, 3, 4))) in numpy 2.x
    let b = h("<f8", &[10, 3, 4], Order::C).to_bytes().unwrap();
    let mut want =
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (10, 3, 4), }"
            .to_vec();
    want.resize(127, b' ');
    want.push(b'\n');
    assert_eq!(b, want);
    // 0-d array: no growth room
    let b = h("<i8", &[], Order::C).to_bytes().unwrap();
    assert!(b.starts_with(
        b"\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (), }"
    ));
    assert_eq!(b.len(), 128);
}

#[test]
fn v3_for_non_latin1_names() {
    let b = h("[('\u{4e2d}', '<i4')]", &[2], Order::C)
        .to_bytes()
        .unwrap();
    assert_eq!(&b[6..8], &[3, 0]);
    let p = read_header(&b, DEFAULT_HEADER_LIMIT).unwrap();
    assert_eq!(p.version, Version::V3);
    assert_eq!(p.header.dtype.fields().unwrap()[0].name, "\u{4e2d}");
}

#[test]
fn v2_for_long_headers() {
    let fields: Vec<String> = (0..5000).map(|i| format!("('f{i}', '<i4')")).collect();
    let d = format!("[{}]", fields.join(", "));
    let hd = h(&d, &[1], Order::C);
    let b = hd.to_bytes().unwrap();
    assert_eq!(&b[6..8], &[2, 0]);
    assert_eq!(b.len() % 64, 0);
    assert_eq!(read_header(&b, DEFAULT_HEADER_LIMIT).unwrap().header, hd);
}

#[test]
fn accepts_other_writers() {
    for text in [
        "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
        "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 3 , ) , }",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3L,)}",
    ] {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        let mut body = text.as_bytes().to_vec();
        // old NEP: 16-byte alignment
        while (10 + body.len() + 1) % 16 != 0 {
            body.push(b' ');
        }
        body.push(b'\n');
        b.extend_from_slice(&(body.len() as u16).to_le_bytes());
        b.extend_from_slice(&body);
        let p = read_header(&b, DEFAULT_HEADER_LIMIT).unwrap();
        assert_eq!(p.header, h("<f4", &[3], Order::C), "{text}");
        assert_eq!(p.data_offset as usize, b.len());
    }
}

#[test]
fn errors_are_typed() {
    assert!(matches!(
        read_header(b"NOTNPY", 100),
        Err(Error::BadMagic { .. })
    ));
    assert!(matches!(
        read_header(b"\x93NUMPY\x04\x00\x00\x00", 100),
        Err(Error::UnsupportedVersion { major: 4, .. })
    ));
    assert!(matches!(
        read_header(b"\x93NUMPY\x01\x00\x40\x00{'d", 1000),
        Err(Error::Truncated { needed: 74, .. })
    ));
    assert!(matches!(
        read_header(b"\x93NUMPY\x02\x00\xff\xff\xff\x7f", 1000),
        Err(Error::HeaderTooLarge { .. })
    ));
    assert!(matches!(
        read_header(b"\x93NU", 1000),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        read_header(b"\x93NX", 1000),
        Err(Error::BadMagic { .. })
    ));
    let overflow = h("<f8", &[1 << 62, 1 << 62], Order::C).to_bytes().unwrap();
    assert!(matches!(
        read_header(&overflow, 1000),
        Err(Error::ShapeOverflow { .. })
    ));
}

#[test]
fn exact_rewrite_of_an_impossible_length_is_an_error_not_an_abort() {
    // Used to reserve `total_len` bytes before checking the length field
    // could hold it: a capacity-overflow panic for u64::MAX.
    let hd = h("<f8", &[3], Order::C);
    for v in [Version::V1, Version::V2, Version::V3] {
        assert!(
            matches!(
                hd.to_bytes_exact(v, u64::MAX),
                Err(Error::HeaderFull {
                    available: u64::MAX,
                    ..
                })
            ),
            "{v:?}"
        );
    }
    // The largest V1 header is exactly 10 + 65535 bytes.
    let r = hd.to_bytes_exact(Version::V1, 10 + 65535).unwrap();
    assert_eq!(r.len(), 10 + 65535);
    assert_eq!(read_header(&r, 1 << 20).unwrap().header, hd);
    assert!(hd.to_bytes_exact(Version::V1, 10 + 65536).is_err());
}

#[test]
fn exact_rewrite_keeps_length() {
    let hd = h("<f8", &[0, 3], Order::C);
    let b = hd.to_bytes().unwrap();
    let grown = h("<f8", &[1 << 59, 3], Order::C);
    let r = grown.to_bytes_exact(Version::V1, b.len() as u64).unwrap();
    assert_eq!(r.len(), b.len());
    assert_eq!(
        read_header(&r, DEFAULT_HEADER_LIMIT).unwrap().header.shape[0],
        1 << 59
    );
    // a header with no room left is an error, never a longer header
    let err = h("<f8", &[1 << 59], Order::C)
        .to_bytes_exact(Version::V1, 64)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::HeaderFull {
            needed: 85,
            available: 64,
            ..
        }
    ));
}

/// Both dict parsers on `text`: the fast one must either decline or
/// agree with the general one exactly (and never accept what the
/// general one refuses).
fn check_paths_agree(text: &str) -> bool {
    let t = text.trim_end_matches(['\n', ' ', '\0', '\r', '\t']);
    let slow = parse_dict_general(t);
    match parse_canonical(t) {
        Some(fast) => {
            assert_eq!(slow.as_ref().ok(), Some(&fast), "{text:?}");
            true
        }
        None => false,
    }
}

#[test]
fn canonical_fast_path_agrees_with_general_parser() {
    let descrs = [
        "<f8",
        ">f8",
        "|b1",
        "<i1",
        "|u1",
        ">i2",
        "<u8",
        "<c16",
        ">c8",
        "|S5",
        "<U3",
        "|V4",
        "<M8[ns]",
        ">m8[10ms]",
        "<M8",
        "<f2",
        "<f16",
        "|O",
        "<f3",
        "<q",
        "x",
        "",
        "[('a', '<f4')]",
        "[('a', '<f4'), ('b', '>i8', (2, 3))]",
    ];
    let shapes: [&[u64]; 9] = [
        &[],
        &[0],
        &[7],
        &[3, 4],
        &[1, 1, 1],
        &[10, 0, 2],
        &[u64::MAX],
        &[1 << 40, 1 << 40],
        &[2; 64],
    ];
    let mut fast = 0;
    for d in descrs {
        let Ok(dt) = DType::parse(d) else { continue };
        for sh in shapes {
            for order in [Order::C, Order::Fortran] {
                let h = Header::new(dt.clone(), sh.to_vec(), order);
                let text = h.dict_text();
                if check_paths_agree(&text) {
                    fast += 1;
                }
                // As written (padding, growth room, newline).
                if let Ok(b) = h.to_bytes() {
                    let p = read_header(&b, DEFAULT_HEADER_LIMIT);
                    if h.data_len().is_ok() {
                        assert_eq!(p.unwrap().header, h);
                    }
                }
            }
        }
    }
    assert!(fast > 100, "fast path taken only {fast} times");
    // Forms that must fall back (and what the general parser makes of them).
    for text in [
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (03,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3L,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3_0,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (+3,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (-3,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,4), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3 ,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551616,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
        "{'descr': '<f8', 'fortran_order': Falsey, 'shape': (3,), }",
        "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1, }",
        "{'descr': \"<f8\", 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '<f\\x38', 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '<f8' , 'fortran_order': False, 'shape': (3,), }",
        "{'fortran_order': False, 'descr': '<f8', 'shape': (3,), }",
        "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), } x",
    ] {
        assert!(!check_paths_agree(text), "fast path took {text:?}");
    }
    let dims = vec!["1"; MAX_DIMS + 1].join(", ");
    let text = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({dims}), }}");
    assert!(!check_paths_agree(&text));
    assert!(parse_dict(&text).is_err());
}

proptest::proptest! {
    #[test]
    fn canonical_fast_path_agrees_on_mutations(
        descr in "[<>|=]?[a-zA-Z?][0-9]{0,3}(\\[[0-9]{0,2}[a-z]{1,2}\\])?",
        fortran in "True|False|true|1",
        dims in proptest::collection::vec("0|[1-9][0-9]{0,20}|0[0-9]|[0-9]L|", 0..5),
        sep in ", |,| , ",
        trailing in ",|, |",
        tail in "\\), \\}|\\)\\}|\\), \\} |\\),\\}",
    ) {
        let mut shape = dims.join(&sep);
        if dims.len() == 1 || !trailing.is_empty() && !dims.is_empty() {
            shape.push_str(&trailing);
        }
        let text = format!(
            "{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': ({shape}{tail}"
        );
        check_paths_agree(&text);
    }
}

#[test]
fn for_array_normalises_fortran_like_numpy() {
    let d = DType::parse("<f8").unwrap();
    assert_eq!(
        Header::for_array(d.clone(), vec![5], Order::Fortran).order,
        Order::C
    );
    assert_eq!(
        Header::for_array(d.clone(), vec![1, 5], Order::Fortran).order,
        Order::C
    );
    assert_eq!(
        Header::for_array(d.clone(), vec![0, 5], Order::Fortran).order,
        Order::C
    );
    assert_eq!(
        Header::for_array(d, vec![2, 5], Order::Fortran).order,
        Order::Fortran
    );
}

/// Found by fuzzing (`npy_file`): `|S0` with 11529215045046068 x 6976
/// elements has 0 data bytes, but its element count overflows u64; the
/// header is refused (numpy refuses it too) instead of tripping an
/// invariant later.
#[test]
fn zero_size_elements_whose_count_overflows_are_refused() {
    let h = Header::new(
        DType::parse("|S0").unwrap(),
        vec![11_529_215_045_046_068, 6976],
        Order::C,
    );
    assert!(matches!(h.data_len(), Err(Error::ShapeOverflow { .. })));
    assert!(matches!(h.num_elements(), Err(Error::ShapeOverflow { .. })));
    let file =
        include_bytes!("../../fuzz/corpus/npy_file/seed-regress-S0-element-count-overflow.npy");
    let r = read_header(file, DEFAULT_HEADER_LIMIT).and_then(|p| p.header.data_len());
    assert!(matches!(r, Err(Error::ShapeOverflow { .. })), "{r:?}");
}

/// Padding of any mix of the accepted bytes and any length is trimmed the
/// same as numpy's spaces and newline (eight spaces at a time, then byte by
/// byte); a dict byte just before the padding is kept.
#[test]
fn padding_of_any_whitespace_mix_is_trimmed() {
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    for pad in [
        "",
        "\n",
        " \n",
        "        \n",
        "         \n",
        "\t\0\r \n",
        "                 ",
        "\n\n   \t",
    ] {
        let text = format!("{dict}{pad}");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
        bytes.extend_from_slice(text.as_bytes());
        let p = read_header(&bytes, DEFAULT_HEADER_LIMIT).unwrap();
        assert_eq!(p.header, h("<f8", &[3], Order::C), "{pad:?}");
        assert_eq!(p.data_offset, bytes.len() as u64);
    }
    // Eight spaces right after a dict that does not close is no header.
    let text = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,),         \n";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
    assert!(read_header(&bytes, DEFAULT_HEADER_LIMIT).is_err());
}
