use super::*;
use crate::error::Error;

#[test]
fn scalar_round_trips() {
    for s in [
        "|b1",
        "|i1",
        "<i2",
        "<i4",
        "<i8",
        "|u1",
        "<u2",
        ">u4",
        "<u8",
        "<f2",
        "<f4",
        ">f8",
        "<c8",
        "<c16",
        "|S5",
        "<U7",
        ">U1",
        "|V16",
        "<M8[ns]",
        "<m8[s]",
        "<M8[10ms]",
        "<M8",
        ">m8[3D]",
        "<M8[us]",
        "<f16",
        "|S0",
    ] {
        let d = DType::parse(s).unwrap();
        assert_eq!(d.descr(), format!("'{s}'"), "{s}");
        assert_eq!(d.to_string(), s);
    }
}

#[test]
fn normalises_like_numpy() {
    assert_eq!(DType::parse(">i1").unwrap().to_string(), "|i1");
    assert_eq!(DType::parse("<S3").unwrap().to_string(), "|S3");
    assert_eq!(DType::parse("u1").unwrap().to_string(), "|u1");
    let native = if cfg!(target_endian = "little") {
        "<"
    } else {
        ">"
    };
    assert_eq!(
        DType::parse("=f8").unwrap().to_string(),
        format!("{native}f8")
    );
    assert_eq!(DType::parse("<U3").unwrap().itemsize(), 12);
}

#[test]
fn object_is_refused() {
    assert!(matches!(DType::parse("|O"), Err(Error::ObjectArray { .. })));
    assert!(matches!(
        DType::parse("[('a', '|O')]"),
        Err(Error::ObjectArray { .. })
    ));
    let msg = DType::parse("|O").unwrap_err().to_string();
    assert!(msg.contains("pickled object arrays are not supported"));
}

#[test]
fn structured_layout() {
    let d = DType::parse(
        "[(('T', 'a'), '<i4'), ('', '|V4'), ('b', [('c', '<f8'), ('d', '|u1', (3,))]), ('e', '<f4', (2, 2))]",
    )
    .unwrap();
    let f = d.fields().unwrap();
    assert_eq!(f[0].title.as_deref(), Some("T"));
    assert_eq!(f[1].offset, 4);
    assert!(f[1].is_padding());
    assert_eq!(f[2].offset, 8);
    assert_eq!(f[2].dtype.itemsize(), 11);
    assert_eq!(f[3].offset, 19);
    assert_eq!(d.itemsize(), 35);
    assert_eq!(
        d.descr(),
        "[(('T', 'a'), '<i4'), ('', '|V4'), ('b', [('c', '<f8'), ('d', '|u1', (3,))]), ('e', '<f4', (2, 2))]"
    );
}

#[test]
fn same_ignoring_order_fast_path_agrees() {
    let all = [
        "<f8",
        ">f8",
        "|b1",
        "<i1",
        "|i1",
        ">u2",
        "<u2",
        "<c16",
        ">c8",
        "|S5",
        "|S6",
        "<U3",
        ">U3",
        "|V4",
        "<M8[ns]",
        ">M8[ns]",
        "<M8[s]",
        "<m8[10ms]",
        "<f2",
        ">i8",
        "<u8",
        "[('a', '<f4')]",
        "[('a', '>f4')]",
    ];
    for a in all {
        for b in all {
            let (x, y) = (DType::parse(a).unwrap(), DType::parse(b).unwrap());
            assert_eq!(
                x.same_ignoring_order(&y),
                x.to_native() == y.to_native(),
                "{a} vs {b}"
            );
        }
    }
}

#[test]
fn bad_descrs_are_errors() {
    for s in [
        "<i3",
        "<f5",
        "x",
        "",
        "<M8[xs]",
        "<M8[0s]",
        "[('a',)]",
        "[('a', 5)]",
        "[('a', '<i4'), ('a', '<i4')]",
        "[('', '<i4'), ('', '<i4')]",
        "[('a', '<i4'), (('a', 'b'), '<i4')]",
        "[(('a', 'a'), '<i4')]",
        "[(('x', 'a'), '<i4'), ('x', '<i4')]",
        "[('a', '|S0', (2,))]",
        "[('a', '|V0', ())]",
        "[('c', ('<f8', (0,)), (2,))]",
        "[('c', ('<f8',), (2,))]",
        "[('c', ('<f8', (2,), 3), (2,))]",
        "[('c', '<f8', (True,))]",
        "[('c', '<f8', [])]",
        "[('c', ('<f8', (2,)), None)]",
        "('<f8', (5,))",
        "(('<f8', (5,)), (2,))",
        "<S99999999999999999999",
        "<U9999999999999999999",
        "[('a', '<i4', (-1,))]",
    ] {
        assert!(DType::parse(s).is_err(), "{s}");
    }
}

#[test]
fn huge_record_is_error_not_overflow() {
    let s = "[('a', '|V18446744073709551615'), ('b', '|V2')]";
    assert!(DType::parse(s).is_err());
    let s = "[('a', '<f8', (4294967296, 4294967296))]";
    assert!(DType::parse(s).is_err());
    // Zero-size elements: 0 bytes, but an element count past 2^64.
    let s = "[('a', '|S0', (4294967296, 4294967296))]";
    assert!(DType::parse(s).is_err());
    assert_eq!(checked_size(0, &[u64::MAX, 2]), None);
    assert_eq!(checked_size(0, &[u64::MAX, 1]), Some(0));
}

#[test]
fn swap_plan_covers_complex_and_records() {
    assert_eq!(
        DType::parse(">c16").unwrap().swap_plan(),
        vec![(0, 8), (8, 8)]
    );
    let d = DType::parse("[('a', '>i2', (2,)), ('b', '|u1'), ('c', '<f4')]").unwrap();
    let plan = d.swap_plan();
    if cfg!(target_endian = "little") {
        assert_eq!(plan, vec![(0, 2), (2, 2)]);
    }
}

#[test]
fn swapping_is_bounded_by_the_item_not_the_dtype_text() {
    // Found by fuzzing (descr): a one-line descriptor whose swap plan had
    // 11e9 entries, and subarrays of empty records looping 2**60 times.
    let d = DType::parse(">U11111111111").unwrap();
    let mut item = Vec::new();
    d.swap_item(&mut item); // wrong length: a no-op, not a 44 GB walk
    let d = DType::parse("[('a', [('x', '>i2', (0,))], (1152921504606846976,)), ('b', '>i2')]")
        .unwrap();
    assert_eq!(d.itemsize(), 2);
    let t = std::time::Instant::now();
    assert_eq!(d.swap_plan(), vec![(0, 2)]);
    let mut item = [1, 2];
    d.swap_item(&mut item);
    assert_eq!(item, [2, 1]);
    assert!(t.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn swap_item_matches_swap_plan() {
    let d = DType::parse(
        "[('a', '>c8', (2,)), ('b', '|u1'), ('c', [('u', '>U2'), ('v', '<i4')], (2,))]",
    )
    .unwrap();
    let mut by_plan: Vec<u8> = (0..d.itemsize() as u8).collect();
    let mut by_item = by_plan.clone();
    for (o, l) in d.swap_plan() {
        by_plan[o as usize..(o + l) as usize].reverse();
    }
    d.swap_item(&mut by_item);
    assert_eq!(by_plan, by_item);
    if cfg!(target_endian = "little") {
        assert_eq!(&by_item[..4], &[3, 2, 1, 0]);
        assert_eq!(by_item[16], 16); // u1 untouched
    }
}

#[test]
fn elements_map_to_descrs() {
    let native = if cfg!(target_endian = "little") {
        "<"
    } else {
        ">"
    };
    assert_eq!(bool::dtype().to_string(), "|b1");
    assert_eq!(u8::dtype().to_string(), "|u1");
    assert_eq!(f64::dtype().to_string(), format!("{native}f8"));
    assert_eq!(i16::dtype().to_string(), format!("{native}i2"));
}

/// Each pair: a descr as found in a header, and numpy's
/// `dtype_to_descr(descr_to_dtype(descr))` (numpy 2.4), i.e. what numpy
/// reads it as and writes back. The same texts are checked live against numpy in
/// tests/numpy_descr.rs.
const AS_NUMPY_READS: &[(&str, &str)] = &[
    (
        "[('c', ('<f8', (5,)), (2,))]",
        "[('c', ('<f8', (5,)), (2,))]",
    ),
    (
        "[('c', (('<f8', (5,)),(3,)), (2,))]",
        "[('c', (('<f8', (5,)), (3,)), (2,))]",
    ),
    ("[('c', ('<f8', (5,)))]", "[('c', '<f8', (5,))]"),
    ("[('c', ('<f8', ()), (2,))]", "[('c', '<f8', (2,))]"),
    ("[('c', ('<f8', (5,)), ())]", "[('c', '<f8', (5,))]"),
    ("[('c', '<f8', ())]", "[('c', '<f8')]"),
    ("[('c', '<f8', 3)]", "[('c', '<f8', (3,))]"),
    ("[('c', ('<f8', 3), 2)]", "[('c', ('<f8', (3,)), (2,))]"),
    ("[('c', '<f8', [2, 3])]", "[('c', '<f8', (2, 3))]"),
    ("[('c', '<f8', None)]", "[('c', '<f8')]"),
    (
        "[('c', ([('a','>i2')], (2,)), (3,))]",
        "[('c', ([('a', '>i2')], (2,)), (3,))]",
    ),
    (
        "[('c', ('<f8', (2,)), (0,))]",
        "[('c', ('<f8', (2,)), (0,))]",
    ),
    (
        "[('a', (('<f8', (3,)), (1,)), (4,))]",
        "[('a', (('<f8', (3,)), (1,)), (4,))]",
    ),
    (
        "[('a', ([('x','<i4')], ()), (4,))]",
        "[('a', [('x', '<i4')], (4,))]",
    ),
    (
        "[('x', ([('a', '|i1'), ('', '|V3'), ('b', '|i1'), ('', '|V3')], (3,)), (4,))]",
        "[('x', ([('a', '|i1'), ('', '|V3'), ('b', '|i1'), ('', '|V3')], (3,)), (4,))]",
    ),
    ("[('', '<i4')]", "[('', '<i4')]"),
    (
        "[('a', '<i4'), ('', '<i4'), ('b', '<i4')]",
        "[('a', '<i4'), ('', '<i4'), ('b', '<i4')]",
    ),
    ("[('', [('a','<i4')])]", "[('', [('a', '<i4')])]"),
    ("[(('t',''), '<i4')]", "[(('t', ''), '<i4')]"),
    ("[(('t',''), '|V4')]", "[(('t', ''), '|V4')]"),
    ("[('', '|V4')]", "[('', '|V4')]"),
    ("[('', '|V2'), ('', '|V2')]", "[('', '|V4')]"),
    (
        "[('a','<i4'),('', '<i4', (2,))]",
        "[('a', '<i4'), ('', '|V8')]",
    ),
    (
        "[('a','<i4'),('', '|V4', (2,))]",
        "[('a', '<i4'), ('', '|V8')]",
    ),
    ("[('', ('<f8', (2,)))]", "[('', '|V16')]"),
    ("[('a','<i4'),('', '|V0')]", "[('a', '<i4')]"),
    ("[('a', '|V0'), ('', '|V0')]", "[('a', '|V0')]"),
    ("[('', '|V4'), ('', '<i4')]", "[('', '|V4'), ('', '<i4')]"),
    ("[('a','<i4'), ('', [])]", "[('a', '<i4'), ('', [])]"),
    ("[]", "[]"),
    ("[('a', [])]", "[('a', [])]"),
    ("[('a', [], (3,))]", "[('a', [], (3,))]"),
    ("[('a','|S0',3)]", "[('a', '|S3')]"),
    ("[('a','<U0',2)]", "[('a', '<U2')]"),
    ("[('', '|V0', 4)]", "[('', '|V4')]"),
    ("[('a', '|S0', 0)]", "[('a', '|S0')]"),
    ("[['a', '<f8']]", "[('a', '<f8')]"),
    ("('<f8', ())", "'<f8'"),
    ("(('<f8', ()), ())", "'<f8'"),
];

#[test]
fn descrs_read_and_written_as_numpy_does() {
    for (input, numpy) in AS_NUMPY_READS {
        let d = DType::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(&d.descr(), numpy, "{input}");
        // What we write reads back to the same dtype.
        assert_eq!(DType::parse(numpy).unwrap(), d, "{numpy}");
    }
}

#[test]
fn nested_subarray_model() {
    let d = DType::parse("[('c', ('<f8', (5,)), (2,)), ('d', '>i2')]").unwrap();
    assert_eq!(d.itemsize(), 82);
    let f = &d.fields().unwrap()[0];
    assert_eq!(f.shape, vec![2]);
    assert_eq!(f.size(), 80);
    let (base, shape) = f.dtype.as_subarray().unwrap();
    assert_eq!((base.to_string().as_str(), shape), ("<f8", &[5u64][..]));
    assert_eq!(f.dtype.to_string(), "('<f8', (5,))");
    assert_eq!(d.fields().unwrap()[1].offset, 80);
    // Equality is numpy's: nesting differs from a flat (2, 5) field.
    assert_ne!(
        d,
        DType::parse("[('c', '<f8', (2, 5)), ('d', '>i2')]").unwrap()
    );
    // Byte order reaches into nested subarrays.
    let be = DType::parse("[('c', ('>f8', (2,)), (2,))]").unwrap();
    assert!(!be.is_native() || cfg!(target_endian = "big"));
    assert_eq!(be.to_native().with_order(ByteOrder::Big), be);
    if cfg!(target_endian = "little") {
        assert_eq!(be.swap_plan(), vec![(0, 8), (8, 8), (16, 8), (24, 8)]);
        assert_eq!(be.to_native().descr(), "[('c', ('<f8', (2,)), (2,))]");
    }
    assert_eq!(
        DType::record(vec![(
            "c".into(),
            DType::subarray(DType::parse("<f8").unwrap(), vec![5]).unwrap(),
            vec![2]
        )])
        .unwrap(),
        DType::parse("[('c', ('<f8', (5,)), (2,))]").unwrap()
    );
}

#[test]
fn unnamed_fields_are_fields_unless_void() {
    let d = DType::parse("[('a', '<i4'), ('', '<i4'), ('b', '<i4')]").unwrap();
    let f = d.fields().unwrap();
    assert_eq!(f.len(), 3);
    assert!(!f[1].is_padding());
    assert_eq!(f[1].name, "");
    let p = DType::parse("[('a', '<i4'), ('', '|V4')]").unwrap();
    assert!(p.fields().unwrap()[1].is_padding());
    let t = DType::parse("[(('t', ''), '|V4')]").unwrap();
    assert!(!t.fields().unwrap()[0].is_padding());
}

#[test]
fn top_level_subarray_is_refused() {
    let e = DType::parse("('<f8', (5,))").unwrap_err();
    assert!(matches!(e, Error::InvalidDescr { .. }), "{e}");
    assert!(e.to_string().contains("subarray"), "{e}");
}

/// Generated descr texts in every form the parser knows (subarray tuples,
/// `()`/int/list/None shapes, `''` names, titles, padding, unsized
/// elements): whatever parses writes back to text that parses to the same
/// dtype, with the same text again (numpy's canonical form is a fixed point).
#[test]
fn generated_descrs_round_trip() {
    struct Gen(u64);
    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
        fn shape(&mut self) -> String {
            match self.next(7) {
                0 => "()".into(),
                1 => format!("{}", self.next(4)),
                2 => format!("({},)", self.next(4)),
                3 => format!("({}, {})", self.next(3), self.next(3)),
                4 => format!("[{}]", 1 + self.next(3)),
                5 => "None".into(),
                _ => format!("({},)", 1 + self.next(3)),
            }
        }
        fn elem(&mut self, depth: u32) -> String {
            let leaf = [
                "'<f8'", "'>i2'", "'|u1'", "'|V4'", "'|V0'", "'|S0'", "'<U0'", "'|S3'", "'>c8'",
            ];
            match if depth > 3 { 0 } else { self.next(4) } {
                0 | 1 => leaf[self.next(leaf.len() as u64) as usize].into(),
                2 => format!("({}, {})", self.elem(depth + 1), self.shape()),
                _ => self.record(depth + 1),
            }
        }
        fn record(&mut self, depth: u32) -> String {
            let n = self.next(4);
            let names = ["''", "'a'", "'b'", "('t', '')", "('u', 'c')", "'\\u00e9'"];
            let fields: Vec<String> = (0..n)
                .map(|_| {
                    let name = names[self.next(names.len() as u64) as usize];
                    let elem = self.elem(depth);
                    if self.next(2) == 0 {
                        format!("({name}, {elem})")
                    } else {
                        format!("({name}, {elem}, {})", self.shape())
                    }
                })
                .collect();
            format!("[{}]", fields.join(", "))
        }
    }
    let mut g = Gen(42);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let text = g.record(0);
        let Ok(d) = DType::parse(&text) else {
            continue;
        };
        parsed += 1;
        let out = d.descr();
        let again = DType::parse(&out).unwrap_or_else(|e| panic!("{text} -> {out}: {e}"));
        assert_eq!(again, d, "{text} -> {out}");
        assert_eq!(again.descr(), out, "{text}");
        let mut item = vec![0u8; d.itemsize().min(1 << 16) as usize];
        d.swap_item(&mut item);
    }
    assert!(parsed > 2_000, "only {parsed} parsed");
}

#[test]
fn twenty_digit_sizes_round_trip() {
    // Found by fuzzing: an unnamed field (numpy's padding) whose size has
    // 20 digits formats as `|V<20 digits>`, which must parse back.
    let d =
        DType::parse("[('', [('x', '>i2', (5,))], (1152921504606846976,)), ('b', '>i2')]").unwrap();
    assert_eq!(DType::parse(&d.descr()).unwrap(), d);
    assert!(DType::parse("|V18446744073709551615").is_ok());
    assert!(DType::parse("|V18446744073709551616").is_err());
    assert!(DType::parse("|V118446744073709551615").is_err());
}
