//! Property tests: every dtype formats to a descriptor that parses back to
//! itself, and every header writes to bytes that read back to itself.

use npzmap::dtype::{ByteOrder, DType, Field, Kind, Scalar, TimeUnit};
use npzmap::npy::header::{Version, read_header};
use npzmap::{Header, Order};
use proptest::prelude::*;

fn time_unit() -> impl Strategy<Value = TimeUnit> {
    prop::sample::select(vec![
        TimeUnit::Generic,
        TimeUnit::Y,
        TimeUnit::M,
        TimeUnit::W,
        TimeUnit::D,
        TimeUnit::H,
        TimeUnit::Min,
        TimeUnit::S,
        TimeUnit::Ms,
        TimeUnit::Us,
        TimeUnit::Ns,
        TimeUnit::Ps,
        TimeUnit::Fs,
        TimeUnit::As,
    ])
}

fn scalar() -> impl Strategy<Value = DType> {
    let order = prop::sample::select(vec![
        ByteOrder::Little,
        ByteOrder::Big,
        ByteOrder::NotApplicable,
    ]);
    let kind_size = prop_oneof![
        Just((Kind::Bool, 1u64)),
        prop::sample::select(vec![1u64, 2, 4, 8]).prop_map(|n| (Kind::Int, n)),
        prop::sample::select(vec![1u64, 2, 4, 8]).prop_map(|n| (Kind::UInt, n)),
        prop::sample::select(vec![2u64, 4, 8, 16]).prop_map(|n| (Kind::Float, n)),
        prop::sample::select(vec![8u64, 16, 32]).prop_map(|n| (Kind::Complex, n)),
        (0u64..40).prop_map(|n| (Kind::Bytes, n)),
        (0u64..10).prop_map(|n| (Kind::Unicode, 4 * n)),
        (0u64..40).prop_map(|n| (Kind::Void, n)),
        (time_unit(), 1u32..1000, any::<bool>()).prop_map(|(u, m, dt)| {
            let m = if u == TimeUnit::Generic { 1 } else { m };
            (
                if dt {
                    Kind::DateTime(u, m)
                } else {
                    Kind::TimeDelta(u, m)
                },
                8,
            )
        }),
    ];
    (kind_size, order).prop_map(|((k, n), o)| DType::Scalar(Scalar::new(k, o, n)))
}

/// Field names: ASCII, quotes, backslashes, latin-1, CJK, controls, emoji.
fn name_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,6}",
        "[ '\"\\\\a-z]{1,5}",
        "[\u{e0}-\u{ff}\u{4e00}-\u{4e10}\u{1f600}-\u{1f603}\u{1}-\u{1f}\u{7f}-\u{a0}]{1,4}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

#[derive(Debug, Clone)]
enum Slot {
    Named {
        base: String,
        title: Option<String>,
        dtype: DType,
        shape: Vec<u64>,
    },
    Padding(u64),
}

fn slot(inner: BoxedStrategy<DType>) -> impl Strategy<Value = Slot> {
    prop_oneof![
        4 => (
            name_part(),
            prop::option::of(name_part()),
            inner,
            prop::collection::vec(0u64..4, 0..3),
        )
            .prop_map(|(base, title, dtype, shape)| Slot::Named {
                base,
                title,
                dtype,
                shape,
            }),
        1 => (1u64..16).prop_map(Slot::Padding),
    ]
}

/// Lays out fields one after another; names are made unique by an index.
/// The dtype is canonical as numpy reads it back: adjacent padding merged,
/// titles distinct from every name and title, no subarray of a size-0
/// element (numpy refuses those).
fn record(slots: Vec<Slot>) -> DType {
    let mut fields: Vec<Field> = Vec::new();
    let mut used = std::collections::HashSet::new();
    let mut offset = 0;
    for (i, s) in slots.into_iter().enumerate() {
        let (name, title, dtype, shape) = match s {
            Slot::Named {
                base,
                title,
                dtype,
                shape,
            } => {
                let name = format!("{base}{i}");
                used.insert(name.clone());
                let title = title.filter(|t| *t != name && used.insert(t.clone()));
                let no_size = dtype.itemsize() == 0 && dtype.fields().is_none();
                let shape = if no_size { vec![] } else { shape };
                // A subarray element without a field shape is the plain
                // field `(name, base, shape)`.
                match (dtype.as_subarray(), shape.is_empty()) {
                    (Some((b, sh)), true) => (name, title, b.clone(), sh.to_vec()),
                    _ => (name, title, dtype, shape),
                }
            }
            Slot::Padding(n) => {
                if let Some(last) = fields.last_mut().filter(|f| f.is_padding()) {
                    last.dtype = DType::Scalar(Scalar::new(
                        Kind::Void,
                        ByteOrder::NotApplicable,
                        last.dtype.itemsize() + n,
                    ));
                    offset += n;
                    continue;
                }
                (
                    String::new(),
                    None,
                    DType::Scalar(Scalar::new(Kind::Void, ByteOrder::NotApplicable, n)),
                    vec![],
                )
            }
        };
        let size = shape.iter().product::<u64>() * dtype.itemsize();
        fields.push(Field {
            name,
            title,
            dtype,
            shape,
            offset,
        });
        offset += size;
    }
    DType::Record {
        fields,
        itemsize: offset,
    }
}

/// A subarray element for nesting (`('c', ('<f8', (5,)), (2,))`).
fn subarray(inner: BoxedStrategy<DType>) -> impl Strategy<Value = DType> {
    (inner, prop::collection::vec(0u64..4, 1..3)).prop_filter_map(
        "numpy has no subarray of a size-0 element",
        |(base, shape)| DType::subarray(base, shape).ok(),
    )
}

fn dtype() -> impl Strategy<Value = DType> {
    scalar().prop_recursive(3, 24, 5, |inner| {
        let inner = inner.boxed();
        let elem = prop_oneof![3 => inner.clone(), 1 => subarray(inner).boxed()].boxed();
        prop::collection::vec(slot(elem), 0..5).prop_map(record)
    })
}

fn shape() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        prop::collection::vec(0u64..50, 0..4),
        prop::collection::vec(
            prop::sample::select(vec![0u64, 1, 7, 1 << 20, 1 << 31]),
            0..3
        ),
    ]
}

fn order() -> impl Strategy<Value = Order> {
    prop::sample::select(vec![Order::C, Order::Fortran])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn descr_round_trips(d in dtype()) {
        let text = d.descr();
        let back = DType::parse(&text);
        prop_assert!(back.is_ok(), "{text}: {back:?}");
        prop_assert_eq!(back.unwrap(), d.clone(), "{}", text);
        // Display of scalars is the bare type string numpy prints.
        if let DType::Scalar(s) = &d {
            prop_assert_eq!(DType::parse(&s.to_string()).unwrap(), d.clone());
        }
    }

    #[test]
    fn header_round_trips(d in dtype(), shape in shape(), order in order()) {
        let h = Header::new(d, shape, order);
        prop_assume!(h.data_len().is_ok());
        let bytes = h.to_bytes().unwrap();
        prop_assert_eq!(bytes.len() % 64, 0);
        prop_assert_eq!(*bytes.last().unwrap(), b'\n');
        let p = read_header(&bytes, usize::MAX).unwrap();
        prop_assert_eq!(&p.header, &h);
        prop_assert_eq!(p.data_offset, bytes.len() as u64);
        // The oldest version that holds the text, as numpy picks it.
        let text = h.dict_text();
        let latin1 = text.chars().all(|c| (c as u32) < 256);
        let want = if !latin1 {
            Version::V3
        } else if bytes.len() - 10 <= 65535 {
            Version::V1
        } else {
            Version::V2
        };
        prop_assert_eq!(p.version, want);
        // Room for the growth axis to reach 21 digits without moving data.
        if let Some(axis) = h.growth_axis() {
            let mut grown = h.clone();
            grown.shape[axis] = u64::MAX / 1024 / h.dtype.itemsize().max(1)
                / h.shape.iter().enumerate()
                    .filter(|(i, _)| *i != axis)
                    .map(|(_, &d)| d.max(1))
                    .product::<u64>();
            let exact = grown.to_bytes_exact(p.version, bytes.len() as u64).unwrap();
            prop_assert_eq!(exact.len(), bytes.len());
            prop_assert_eq!(read_header(&exact, usize::MAX).unwrap().header, grown);
        }
    }

    #[test]
    fn header_for_array_only_keeps_fortran_when_it_matters(
        shape in prop::collection::vec(0u64..4, 0..4),
    ) {
        let d = DType::parse("<f8").unwrap();
        let h = Header::for_array(d, shape.clone(), Order::Fortran);
        let non_trivial = shape.iter().filter(|&&x| x != 1).count();
        let fortran = !shape.contains(&0) && non_trivial > 1;
        prop_assert_eq!(h.order.is_fortran(), fortran, "{:?}", shape);
    }
}

#[test]
fn strategies_reach_the_interesting_cases() {
    // A property test whose generator never produces titles, padding,
    // nesting or non-latin-1 names would pass vacuously.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strat = dtype();
    let (mut titles, mut padding, mut nested, mut v3) = (0, 0, 0, 0);
    for _ in 0..500 {
        let d = strat.new_tree(&mut runner).unwrap().current();
        let text = d.descr();
        titles += usize::from(text.contains("(('") || text.contains("((\""));
        padding += usize::from(text.contains("('', '|V"));
        nested += usize::from(text.matches('[').count() > 1 && text.contains(", [("));
        v3 += usize::from(text.chars().any(|c| (c as u32) > 255));
    }
    assert!(
        titles > 20 && padding > 20 && nested > 20 && v3 > 20,
        "titles {titles} padding {padding} nested {nested} v3 {v3}"
    );
}
