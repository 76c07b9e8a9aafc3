//! NpyAppender: order x header-rewrite x origin x reopen matrix, threads,
//! rollback on failed writes, the stale-header-length case, locking.

use npzmap::npy::{self, NpyAppender, NpyFile, Version};
use npzmap::{ArrayView, DType, Element, Error, Header, Order};
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

const TAIL: [u64; 2] = [2, 3];

/// Element value at growth index g and tail index (a, b).
fn val(g: u64, a: u64, b: u64) -> f64 {
    (g * 100 + a * 10 + b) as f64
}

/// The data of growth indices g0..g1 in the memory order of `order`.
fn block(order: Order, g0: u64, g1: u64) -> (Vec<f64>, Vec<u64>) {
    let mut v = Vec::new();
    for g in g0..g1 {
        match order {
            // shape [g, 2, 3]: g slowest, b fastest
            Order::C => {
                for a in 0..TAIL[0] {
                    for b in 0..TAIL[1] {
                        v.push(val(g, a, b));
                    }
                }
            }
            // shape [2, 3, g] in Fortran order: a fastest, g slowest
            Order::Fortran => {
                for b in 0..TAIL[1] {
                    for a in 0..TAIL[0] {
                        v.push(val(g, a, b));
                    }
                }
            }
        }
    }
    (v, shape_for(order, g1 - g0))
}

fn shape_for(order: Order, rows: u64) -> Vec<u64> {
    match order {
        Order::C => vec![rows, TAIL[0], TAIL[1]],
        Order::Fortran => vec![TAIL[0], TAIL[1], rows],
    }
}

fn on_disk_shape(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap();
    npy::header::read_header(&bytes, 1 << 20)
        .unwrap()
        .header
        .shape
}

#[test]
fn matrix_order_rewrite_origin_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for order in [Order::C, Order::Fortran] {
        for rewrite in [true, false] {
            for np_save_origin in [true, false] {
                for reopen in [false, true] {
                    n += 1;
                    let path = dir.path().join(format!("m{n}.npy"));
                    let opts = NpyAppender::options().rewrite_header_on_append(rewrite);
                    let (first, fshape) = block(order, 0, 2);
                    let mut app = if np_save_origin {
                        npy::write(&path, &first, &fshape, order).unwrap();
                        opts.open(&path).unwrap()
                    } else {
                        let a = opts.create(&path, f64::dtype(), &TAIL, order).unwrap();
                        a.append(&first, &fshape).unwrap();
                        a
                    };
                    let mut g = 2;
                    for (i, k) in [1u64, 3, 0, 2].into_iter().enumerate() {
                        let (data, shape) = block(order, g, g + k);
                        app.append(&data, &shape).unwrap();
                        g += k;
                        let reopened = reopen && i > 0;
                        if !rewrite && !reopened {
                            // binary log: the header on disk lags behind
                            assert_ne!(on_disk_shape(&path), shape_for(order, g));
                        }
                        if rewrite {
                            assert_eq!(on_disk_shape(&path), shape_for(order, g));
                        }
                        if reopen && i == 1 {
                            drop(app);
                            app = opts.open(&path).unwrap();
                        }
                    }
                    assert_eq!(app.shape(), shape_for(order, g));
                    app.close().unwrap();

                    let (all, shape) = block(order, 0, g);
                    let mut want = Header::new(f64::dtype(), shape.clone(), order)
                        .to_bytes()
                        .unwrap();
                    want.extend_from_slice(bytemuck::cast_slice(&all));
                    let got = std::fs::read(&path).unwrap();
                    assert!(
                        got == want,
                        "order {order:?} rewrite {rewrite} np.save {np_save_origin} reopen {reopen}"
                    );
                    let f = NpyFile::open(&path).unwrap();
                    assert_eq!(f.view().shape(), &shape[..]);
                    assert_eq!(f.header().order, order);
                    assert_eq!(f.view().to_vec::<f64>().unwrap(), all);
                }
            }
        }
    }
}

#[test]
fn append_view_with_byte_order_and_order_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("be.npy");
    let be = DType::parse(">i4").unwrap();
    let app = NpyAppender::create(&path, be.clone(), &[2], Order::C).unwrap();
    let h = Header::new(be.clone(), vec![1, 2], Order::C);
    let bytes = [0u8, 0, 0, 1, 0, 0, 0, 2];
    app.append_view(&ArrayView::from_bytes(&h, &bytes).unwrap())
        .unwrap();
    // native i32 is a different dtype: never cast
    assert!(matches!(
        app.append(&[1i32, 2], &[1, 2]),
        Err(Error::DTypeMismatch { .. })
    ));
    // wrong tail
    let h3 = Header::new(be.clone(), vec![1, 3], Order::C);
    let b3 = [0u8; 12];
    assert!(matches!(
        app.append_view(&ArrayView::from_bytes(&h3, &b3).unwrap()),
        Err(Error::ShapeMismatch { .. })
    ));
    // wrong number of dimensions
    let h1 = Header::new(be.clone(), vec![2], Order::C);
    assert!(matches!(
        app.append_view(&ArrayView::from_bytes(&h1, &bytes).unwrap()),
        Err(Error::ShapeMismatch { .. })
    ));
    // a Fortran block of shape (2, 2) is laid out differently: refused
    let hf = Header::new(be.clone(), vec![2, 2], Order::Fortran);
    let b4 = [0u8; 16];
    assert!(matches!(
        app.append_view(&ArrayView::from_bytes(&hf, &b4).unwrap()),
        Err(Error::ShapeMismatch { .. })
    ));
    // ... but (1, 2) is both C and Fortran contiguous
    let hf1 = Header::new(be, vec![1, 2], Order::Fortran);
    app.append_view(&ArrayView::from_bytes(&hf1, &bytes).unwrap())
        .unwrap();
    // slice length and shape disagree
    assert!(matches!(
        app.append(&[1u8], &[1, 2]),
        Err(Error::DTypeMismatch { .. }) | Err(Error::ShapeMismatch { .. })
    ));
    assert_eq!(app.shape(), vec![2, 2]);
    app.close().unwrap();
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(f.view().to_vec::<i32>().unwrap(), vec![1, 2, 1, 2]);
    assert_eq!(
        f.view().as_bytes(),
        &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]
    );
}

#[test]
fn create_exists_replace_and_open_or_create() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    std::fs::write(&path, b"old").unwrap();
    let e = NpyAppender::create(&path, u8::dtype(), &[], Order::C).unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
    assert_eq!(e.location().path.as_deref(), Some(path.as_path()));
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    let app = NpyAppender::options()
        .replace_existing(true)
        .create(&path, u8::dtype(), &[], Order::C)
        .unwrap();
    app.append(&[1u8, 2, 3], &[3]).unwrap();
    drop(app);
    assert_eq!(NpyFile::open(&path).unwrap().view().as_bytes(), &[1, 2, 3]);

    let app = NpyAppender::options()
        .open_or_create(&path, u8::dtype(), &[], Order::C)
        .unwrap();
    app.append(&[4u8], &[1]).unwrap();
    drop(app);
    assert!(matches!(
        NpyAppender::options().open_or_create(&path, u16::dtype(), &[], Order::C),
        Err(Error::DTypeMismatch { .. })
    ));
    assert!(matches!(
        NpyAppender::options().open_or_create(&path, u8::dtype(), &[2], Order::C),
        Err(Error::ShapeMismatch { .. })
    ));
    let p2 = dir.path().join("b.npy");
    let app = NpyAppender::options()
        .open_or_create(&p2, u8::dtype(), &[2], Order::Fortran)
        .unwrap();
    assert_eq!(app.shape(), vec![2, 0]);
    assert_eq!(
        NpyFile::open(&path).unwrap().view().as_bytes(),
        &[1, 2, 3, 4]
    );
}

#[test]
fn zero_d_and_zero_size_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p0 = dir.path().join("scalar.npy");
    npy::write(&p0, &[7i64], &[], Order::C).unwrap();
    assert!(matches!(
        NpyAppender::open(&p0),
        Err(Error::ShapeMismatch { .. })
    ));
    // rows of zero bytes: appending only changes the shape
    let pz = dir.path().join("empty_rows.npy");
    let app = NpyAppender::create(&pz, f32::dtype(), &[0], Order::C).unwrap();
    app.append::<f32>(&[], &[5, 0]).unwrap();
    app.close().unwrap();
    let f = NpyFile::open(&pz).unwrap();
    assert_eq!(f.view().shape(), &[5, 0]);
}

#[test]
fn threads_append_whole_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.npy");
    let app = Arc::new(NpyAppender::create(&path, u32::dtype(), &[4], Order::C).unwrap());
    let per_thread = 40u32;
    let handles: Vec<_> = (0..10u32)
        .map(|id| {
            let app = Arc::clone(&app);
            std::thread::spawn(move || {
                for j in 0..per_thread {
                    let rows = 1 + (j % 3);
                    let data = vec![id; (rows * 4) as usize];
                    app.append(&data, &[u64::from(rows), 4]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let app = Arc::into_inner(app).unwrap();
    app.close().unwrap();
    let f = NpyFile::open(&path).unwrap();
    let data = f.view().to_vec::<u32>().unwrap();
    let rows_per_thread: u32 = (0..per_thread).map(|j| 1 + (j % 3)).sum();
    assert_eq!(f.view().shape(), &[u64::from(rows_per_thread * 10), 4]);
    let mut counts = [0u32; 10];
    for row in data.chunks_exact(4) {
        assert!(row.iter().all(|&x| x == row[0]), "torn row {row:?}");
        counts[row[0] as usize] += 1;
    }
    assert!(counts.iter().all(|&c| c == rows_per_thread), "{counts:?}");
}

#[test]
fn second_appender_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.npy");
    let app = NpyAppender::create(&path, u8::dtype(), &[], Order::C).unwrap();
    let e = NpyAppender::open(&path).unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
    assert!(matches!(
        npy::recover(&path, false),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        npy::update(&path, &[], &[0u8; 0]),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        npy::ensure_appendable(&path, npy::AppendableMode::InPlace),
        Err(Error::Locked { .. })
    ));
    drop(app);
    NpyAppender::open(&path).unwrap().close().unwrap();
}

fn rollback_case(rewrite: bool, fault_after: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.npy");
    let app = NpyAppender::options()
        .rewrite_header_on_append(rewrite)
        .create(&path, u16::dtype(), &[4], Order::C)
        .unwrap();
    app.append(&[1u16, 2, 3, 4], &[1, 4]).unwrap();
    app.flush().unwrap();
    let before = std::fs::read(&path).unwrap();
    app.inject_write_fault(fault_after);
    let e = app
        .append(&[9u16; 8], &[2, 4])
        .expect_err("the injected fault must surface");
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(e.location().offset.is_some() && e.location().path.is_some());
    assert_eq!(std::fs::read(&path).unwrap(), before, "rolled back");
    assert_eq!(app.shape(), vec![1, 4]);
    // still usable, and consistent
    app.append(&[5u16, 6, 7, 8], &[1, 4]).unwrap();
    app.close().unwrap();
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(
        f.view().to_vec::<u16>().unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7, 8]
    );
}

#[test]
fn failed_data_write_is_rolled_back() {
    for rewrite in [true, false] {
        for after in [0, 1, 7, 15] {
            rollback_case(rewrite, after);
        }
    }
}

#[test]
fn failed_header_write_is_rolled_back() {
    // 16 data bytes go through, then the header write fails part-way
    for after in [16, 17, 40, 127] {
        rollback_case(true, after);
    }
}

/// npy-append-array's stale-header-length bug: a header with no spare room
/// must never be rewritten longer; the append fails before writing data.
#[test]
fn header_without_room_fails_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tight.npy");
    let h = Header::new(u8::dtype(), vec![5], Order::C);
    // exactly as long as the text needs: no spare byte at all
    let mut tight = None;
    for len in 20..200u64 {
        if let Ok(b) = h.to_bytes_exact(Version::V1, len) {
            tight = Some(b);
            break;
        }
    }
    let mut bytes = tight.unwrap();
    let hlen = bytes.len();
    bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
    std::fs::write(&path, &bytes).unwrap();
    let app = NpyAppender::open(&path).unwrap();
    // 5 -> 9 rows: same number of digits, fits
    app.append(&[6u8, 7, 8, 9], &[4]).unwrap();
    let good = std::fs::read(&path).unwrap();
    assert_eq!(good.len(), hlen + 9);
    // 9 -> 10 rows needs one more digit
    let e = app.append(&[10u8], &[1]).unwrap_err();
    assert!(matches!(e, Error::HeaderFull { .. }), "{e}");
    assert_eq!(e.location().path.as_deref(), Some(path.as_path()));
    assert_eq!(std::fs::read(&path).unwrap(), good, "file unchanged");
    assert_eq!(app.shape(), vec![9]);
    // the same in binary-log mode: refused up front, not at flush time
    drop(app);
    let app = NpyAppender::options()
        .rewrite_header_on_append(false)
        .open(&path)
        .unwrap();
    assert!(matches!(
        app.append(&[10u8], &[1]),
        Err(Error::HeaderFull { .. })
    ));
    app.close().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), good);
    // made appendable, it works
    assert!(npy::ensure_appendable(&path, npy::AppendableMode::Copy).unwrap());
    let app = NpyAppender::open(&path).unwrap();
    app.append(&[10u8], &[1]).unwrap();
    app.close().unwrap();
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(f.view().as_bytes(), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(f.parsed_header().data_offset % 64, 0);
}

#[test]
fn open_refuses_inconsistent_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    npy::write(&path, &[1u8, 2, 3], &[3], Order::C).unwrap();
    let mut b = std::fs::read(&path).unwrap();
    b.push(4);
    std::fs::write(&path, &b).unwrap();
    assert!(matches!(
        NpyAppender::open(&path),
        Err(Error::DataTooLong { .. })
    ));
    b.truncate(b.len() - 2);
    std::fs::write(&path, &b).unwrap();
    assert!(matches!(
        NpyAppender::open(&path),
        Err(Error::DataTooShort { .. })
    ));
    let missing = dir.path().join("missing.npy");
    assert!(matches!(
        NpyAppender::open(&missing),
        Err(Error::Io { ref source, .. }) if source.kind() == std::io::ErrorKind::NotFound
    ));
}

#[test]
fn appender_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<NpyAppender>();
    let _ = Cow::Borrowed(&0u8);
}

fn buffered(path: &Path, cap: usize) -> NpyAppender {
    NpyAppender::options()
        .rewrite_header_on_append(false)
        .buffer_bytes(cap)
        .create(path, u32::dtype(), &[4], Order::C)
        .unwrap()
}

#[test]
fn buffered_appends_equal_unbuffered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    let plain = NpyAppender::options()
        .rewrite_header_on_append(false)
        .create(&a, u32::dtype(), &[4], Order::C)
        .unwrap();
    let buf = buffered(&b, 100); // 6 rows of 16 bytes fit, then a write
    for i in 0..50u32 {
        // mixed sizes, including blocks larger than the buffer (direct writes)
        let rows = u64::from(i % 9) + 1;
        let data: Vec<u32> = (0..rows as u32 * 4).map(|x| x + i * 1000).collect();
        plain.append(&data, &[rows, 4]).unwrap();
        buf.append(&data, &[rows, 4]).unwrap();
        assert_eq!(buf.len(), plain.len(), "logical length includes the buffer");
    }
    plain.close().unwrap();
    buf.close().unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn buffer_needs_deferred_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    let r = NpyAppender::options()
        .buffer_bytes(4096)
        .create(&p, u8::dtype(), &[1], Order::C);
    assert!(matches!(r, Err(Error::InvalidArgument { .. })));
    assert!(!p.exists(), "nothing created");
}

#[test]
fn flush_writes_the_buffer_and_a_failed_write_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.npy");
    let app = buffered(&p, 1 << 16);
    app.append(&[1u32, 1, 1, 1], &[1, 4]).unwrap();
    let on_disk = |p: &Path| std::fs::metadata(p).unwrap().len();
    let base = on_disk(&p);
    app.flush().unwrap();
    assert_eq!(on_disk(&p), base + 16, "flush writes the buffered rows");
    assert_eq!(on_disk_shape(&p), vec![1, 4]);
    // Two more buffered rows, then the write of the buffer fails part-way.
    app.append(&[2u32; 8], &[2, 4]).unwrap();
    app.inject_write_fault(20);
    assert!(matches!(app.flush(), Err(Error::Io { .. })));
    // Buffered rows are dropped, the file is back at the last flushed append.
    assert_eq!(app.len(), 1);
    assert_eq!(on_disk(&p), base + 16);
    // Still usable.
    app.append(&[3u32; 4], &[1, 4]).unwrap();
    app.close().unwrap();
    let f = NpyFile::open(&p).unwrap();
    assert_eq!(f.header().shape, vec![2, 4]);
    assert_eq!(f.view().to_vec::<u32>().unwrap(), [1, 1, 1, 1, 3, 3, 3, 3]);
}

#[test]
fn dropped_buffered_appender_writes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.npy");
    {
        let app = buffered(&p, 1 << 20);
        for i in 0..10u32 {
            app.append(&[i; 4], &[1, 4]).unwrap();
        }
    }
    let f = NpyFile::open(&p).unwrap();
    assert_eq!(f.header().shape, vec![10, 4]);
    assert_eq!(f.view().to_vec::<u32>().unwrap()[36..], [9, 9, 9, 9]);
}
