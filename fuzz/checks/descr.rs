//! The dtype descriptor parser on arbitrary text: never panics, and every
//! descriptor it accepts formats back to text that parses to the same dtype.
//!
//! Shared by the cargo-fuzz target `fuzz_targets/descr.rs` and the stable
//! replay of the committed corpus (`tests/fuzz_corpus.rs`).

use npzmap::DType;

/// The fuzz target's body: one input, checked.
pub fn fuzz_one(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = DType::parse(text) {
        let again = DType::parse(&d.descr()).expect("formatted descr must parse");
        assert_eq!(again, d, "descr round trip");
        // The alignment a view of this dtype needs (via an empty array).
        let empty = npzmap::Header::new(d.clone(), vec![0], npzmap::Order::C);
        if let Ok(v) = npzmap::ArrayView::from_bytes(&empty, &[]) {
            let _ = v.is_zero_copy();
        }
        let _ = d.to_native();
        // Swapping one item: the allocation-free walk agrees with the plan.
        // (Only for items that fit a small buffer: the plan is item-sized.)
        let size = d.itemsize();
        if size <= 4096 {
            let mut by_item: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut by_plan = by_item.clone();
            d.swap_item(&mut by_item);
            for (o, l) in d.swap_plan() {
                by_plan[o as usize..(o + l) as usize].reverse();
            }
            assert_eq!(by_item, by_plan, "swap_item vs swap_plan");
        } else {
            d.swap_item(&mut []); // wrong length: must return at once
        }
    }
}
