//! Recovery's bound on the work spent on members it drops (the rest of
//! recovery is tested through the public API in tests/npz_recover.rs).

use super::member::Budget;
use super::scan::Scan;
use crate::Order;
use crate::npz::writer::NpzWriter;
use crate::zip::{EndOfCentralDirectory, FLAG_DATA_DESCRIPTOR, LocalHeader, LocalZip64};

/// A file of local headers whose data seems to run to the end of the file
/// (stored members with a data descriptor that never comes): each one was
/// searched to the end, and the scan resumed behind its signature, so
/// recovery read the file once per header (10 s for 620 KB). What dropped
/// members read is bounded; the headers after that are dropped unchecked,
/// and say so. (The real budget, eight times the file plus 256 MiB, is too
/// large to spend in a debug-build test: this one is 1 MiB.)
#[test]
fn headers_that_claim_the_rest_of_the_file_cost_bounded_work() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npz");
    let mut w = NpzWriter::options().fsync(false).create(&p).unwrap();
    w.write("x", &[1u16, 2], &[2], Order::C).unwrap();
    w.close().unwrap();
    let whole = std::fs::read(&p).unwrap();
    let cd = EndOfCentralDirectory::find(&whole).unwrap().cd_start() as usize;
    let mut bytes = whole[..cd].to_vec();
    let mut h = Vec::new();
    LocalHeader::stored("a", 0, 0, LocalZip64::No, 0).write(&mut h);
    h[6] |= FLAG_DATA_DESCRIPTOR as u8;
    const N: usize = 2_000;
    for _ in 0..N {
        bytes.extend_from_slice(&h);
    }
    // A good member behind them: the budget is spent before it is reached.
    bytes.extend_from_slice(&whole[..cd]);
    std::fs::write(&p, &bytes).unwrap();

    let file = std::fs::File::open(&p).unwrap();
    let len = bytes.len() as u64;
    let r = Scan::run_with(&file, len, Budget::of(1 << 20))
        .unwrap()
        .report(0);
    assert_eq!(r.kept, ["x.npy"]);
    assert_eq!(r.dropped.len(), N + 1);
    let unfinished = "no data descriptor matching the data (incomplete member?)";
    let gave_up = "not checked to its end: recovery reads at most 1048576 bytes for \
                   members it drops, and had used them up";
    // Header i reads the rest of the file, about (N - i) * 31 bytes, so
    // the budget (1 MiB, about 16.9 files of 62 KB) runs out in the 17th.
    let first = r.dropped.iter().position(|d| d.reason == gave_up).unwrap();
    assert_eq!(first, 16);
    assert!(r.dropped[..first].iter().all(|d| d.reason == unfinished));
    assert!(r.dropped[first..].iter().all(|d| d.reason == gave_up));
    assert_eq!(r.dropped[N].name, "x.npy");

    // With the budget for this file, every header is searched to the end.
    let r = Scan::run(&file, len).unwrap().report(0);
    assert_eq!(r.kept, ["x.npy", "x.npy"]);
    assert!(r.dropped.iter().all(|d| d.reason == unfinished));
}
