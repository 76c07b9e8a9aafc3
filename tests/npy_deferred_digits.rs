//! Deferred-header appends (`rewrite_header_on_append(false)`) that cross a
//! digit boundary of the growth dimension after the file is reopened: the
//! header-fits check must run again at every new digit count (the appender
//! caches "fits below 10^digits"), in C and Fortran order, with a header
//! that has room and one that has none.

mod common;

use npzmap::npy::Version;
use npzmap::npy::{AppendOptions, NpyAppender, NpyFile};
use npzmap::{Element, Error, Header, Order};
use std::path::Path;

const TAIL: u64 = 3;

fn shape(order: Order, rows: u64) -> Vec<u64> {
    match order {
        Order::C => vec![rows, TAIL],
        Order::Fortran => vec![TAIL, rows],
    }
}

/// Element values: row r holds r*TAIL .. r*TAIL+TAIL (in file order).
fn rows_bytes(order: Order, from: u64, to: u64) -> Vec<u16> {
    let n = to - from;
    let mut v = Vec::with_capacity((n * TAIL) as usize);
    match order {
        Order::C => {
            for r in from..to {
                for c in 0..TAIL {
                    v.push(val(r, c));
                }
            }
        }
        Order::Fortran => {
            // a block of whole columns along the last axis: column-major
            for r in from..to {
                for c in 0..TAIL {
                    v.push(val(r, c));
                }
            }
        }
    }
    v
}

fn val(r: u64, c: u64) -> u16 {
    (r.wrapping_mul(7).wrapping_add(c) % 65_521) as u16
}

/// Writes a file of `rows` rows whose header is `tight` (exactly as long as
/// its text: no spare byte) or numpy-sized (room for growth).
fn make(path: &Path, order: Order, rows: u64, tight: bool) -> usize {
    let h = Header::new(u16::dtype(), shape(order, rows), order);
    let mut bytes = if tight {
        (20..400u64)
            .find_map(|len| h.to_bytes_exact(Version::V1, len).ok())
            .unwrap()
    } else {
        h.to_bytes().unwrap()
    };
    let hlen = bytes.len();
    for x in rows_bytes(order, 0, rows) {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, &bytes).unwrap();
    hlen
}

fn deferred(buffer: usize) -> AppendOptions {
    NpyAppender::options()
        .rewrite_header_on_append(false)
        .buffer_bytes(buffer)
}

fn append_rows(app: &NpyAppender, order: Order, from: u64, to: u64) -> npzmap::Result<()> {
    app.append(&rows_bytes(order, from, to), &shape(order, to - from))
}

/// The whole file as written: header shape and every element.
fn check_file(path: &Path, order: Order, rows: u64) {
    let f = NpyFile::open(path).unwrap();
    assert_eq!(f.header().shape, shape(order, rows), "{}", path.display());
    assert_eq!(f.header().order, order);
    let want: Vec<u8> = rows_bytes(order, 0, rows)
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert!(
        f.view().as_bytes() == &want[..],
        "data of {}",
        path.display()
    );
}

fn numpy_check(path: &Path, order: Order, rows: u64) {
    let Some(py) = common::python() else { return };
    let script = r#"
import sys, numpy as np
a = np.load(sys.argv[1])
rows, fortran = int(sys.argv[2]), sys.argv[3] == "F"
r = np.arange(rows, dtype=np.int64)[:, None]; c = np.arange(3)[None, :]
want = ((r * 7 + c) % 65521).astype("<u2")
if fortran:
    assert a.flags.f_contiguous and a.shape == (3, rows), a.shape
    assert (a.T == want).all()
else:
    assert a.shape == (rows, 3), a.shape
    assert (a == want).all()
print("ok")
"#;
    let o = if order == Order::Fortran { "F" } else { "C" };
    let out = common::run(&py, script, &[&path, &rows.to_string(), &o]);
    assert_eq!(out.trim(), "ok");
}

#[test]
fn deferred_appends_cross_digit_boundaries_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    for order in [Order::C, Order::Fortran] {
        for (start, end) in [(9_998u64, 10_002u64), (99_998, 100_003)] {
            for buffer in [0usize, 64] {
                let path = dir.path().join(format!("{order:?}-{start}-{buffer}.npy"));
                make(&path, order, start, false);
                // reopen: the appender starts with an empty fits-cache
                let app = deferred(buffer).open(&path).unwrap();
                for r in start..end {
                    append_rows(&app, order, r, r + 1).unwrap();
                }
                assert_eq!(app.shape(), shape(order, end));
                app.close().unwrap();
                check_file(&path, order, end);
                // and again across the boundary after a second reopen
                let app = deferred(buffer).open(&path).unwrap();
                append_rows(&app, order, end, end + 2).unwrap();
                app.close().unwrap();
                check_file(&path, order, end + 2);
                numpy_check(&path, order, end + 2);
            }
        }
    }
}

#[test]
fn a_full_header_refuses_the_append_that_needs_one_more_digit() {
    let dir = tempfile::tempdir().unwrap();
    for order in [Order::C, Order::Fortran] {
        for start in [9_998u64, 99_998] {
            for buffer in [0usize, 64] {
                let path = dir.path().join(format!("{order:?}-{start}-{buffer}.npy"));
                make(&path, order, start, true);
                let app = deferred(buffer).open(&path).unwrap();
                // same digit count: fits (and primes the fits-cache)
                append_rows(&app, order, start, start + 1).unwrap();
                app.flush().unwrap();
                let good = std::fs::read(&path).unwrap();
                // one more digit does not fit: refused before writing
                let e = append_rows(&app, order, start + 1, start + 2).unwrap_err();
                assert!(matches!(e, Error::HeaderFull { .. }), "{e}");
                assert_eq!(app.shape(), shape(order, start + 1));
                app.close().unwrap();
                assert_eq!(std::fs::read(&path).unwrap(), good, "file unchanged");
                check_file(&path, order, start + 1);
                numpy_check(&path, order, start + 1);
            }
        }
    }
}
