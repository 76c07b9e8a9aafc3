//! Sparse create + memory maps, atomic overwrite, in-place row updates.

use npzmap::npy::{self, NpyAppender, NpyFile, NpyMapMut};
use npzmap::{ArrayView, DType, Element, Error, Header, Order};
use std::io::ErrorKind;

#[test]
fn create_is_sparse_and_writable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    // 512 MiB logical, almost nothing on disk
    let mut m = npy::create(&path, f64::dtype(), &[8192, 8192], Order::C).unwrap();
    assert_eq!(m.shape(), &[8192, 8192]);
    {
        let s = m.as_slice_mut::<f64>().unwrap();
        s[0] = 1.0;
        s[8192 * 8192 - 1] = 2.0;
    }
    m.flush().unwrap();
    drop(m);
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 128 + 8192 * 8192 * 8);
    use std::os::unix::fs::MetadataExt;
    assert!(
        meta.blocks() * 512 < 64 << 20,
        "not sparse: {} blocks",
        meta.blocks()
    );
    let f = NpyFile::open(&path).unwrap();
    let v = f.view();
    let s = v.as_slice::<f64>().unwrap();
    assert_eq!((s[0], s[1], s[s.len() - 1]), (1.0, 0.0, 2.0));
    assert!(matches!(
        npy::create(&path, f64::dtype(), &[1], Order::C),
        Err(Error::AlreadyExists { .. })
    ));
}

#[test]
fn create_header_matches_np_save_and_is_appendable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.npy");
    let mut m = npy::create(&path, i16::dtype(), &[3, 2], Order::Fortran).unwrap();
    m.as_slice_mut::<i16>()
        .unwrap()
        .copy_from_slice(&[1, 2, 3, 4, 5, 6]);
    m.flush().unwrap();
    // an appender keeps off while the map is writable
    assert!(matches!(
        NpyAppender::open(&path),
        Err(Error::Locked { .. })
    ));
    drop(m);
    let mut want = Header::new(i16::dtype(), vec![3, 2], Order::Fortran)
        .to_bytes()
        .unwrap();
    want.extend_from_slice(bytemuck::cast_slice(&[1i16, 2, 3, 4, 5, 6]));
    assert_eq!(std::fs::read(&path).unwrap(), want);
    let app = NpyAppender::open(&path).unwrap();
    app.append(&[7i16, 8, 9], &[3, 1]).unwrap();
    app.close().unwrap();
    assert_eq!(NpyFile::open(&path).unwrap().view().shape(), &[3, 3]);
}

#[test]
fn open_mmap_modes_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.npy");
    npy::write(&path, &[true, false, true], &[3], Order::C).unwrap();
    // read-only: NpyFile has no mutable accessors (a compile-time rule now)
    let ro = NpyFile::open(&path).unwrap();
    assert_eq!(ro.view().as_slice::<bool>().unwrap(), &[true, false, true]);
    assert!(ro.view().as_slice::<u8>().is_err());
    drop(ro);
    let mut rw = NpyMapMut::open(&path).unwrap();
    assert_eq!(rw.as_slice::<bool>().unwrap(), &[true, false, true]);
    rw.as_bytes_mut()[1] = 2; // not a valid bool
    assert!(matches!(
        rw.as_slice_mut::<bool>(),
        Err(Error::InvalidBool { index: 1, .. })
    ));
    rw.as_bytes_mut()[1] = 1;
    rw.as_slice_mut::<bool>().unwrap()[0] = false;
    rw.flush().unwrap();
    drop(rw);
    assert_eq!(
        NpyFile::open(&path)
            .unwrap()
            .view()
            .to_vec::<bool>()
            .unwrap(),
        vec![false, true, true]
    );
    // big-endian data: no typed mutable slice, bytes are fine
    let pb = dir.path().join("be.npy");
    let h = Header::new(DType::parse(">u4").unwrap(), vec![1], Order::C);
    let v = ArrayView::from_bytes(&h, &[0, 0, 0, 5]).unwrap();
    npy::write_view(&pb, &v).unwrap();
    let mut m = NpyMapMut::open(&pb).unwrap();
    assert!(m.as_slice_mut::<u32>().is_err());
    assert_eq!(m.view().to_vec::<u32>().unwrap(), vec![5]);
    drop(m);
    // inconsistent length
    let mut b = std::fs::read(&path).unwrap();
    b.pop();
    std::fs::write(&path, &b).unwrap();
    assert!(matches!(
        NpyFile::open(&path),
        Err(Error::DataTooShort { .. })
    ));
    assert!(matches!(
        NpyMapMut::open(&path),
        Err(Error::DataTooShort { .. })
    ));
    let e = NpyFile::open(dir.path().join("none.npy")).unwrap_err();
    assert!(matches!(e, Error::Io { ref source, .. } if source.kind() == ErrorKind::NotFound));
}

#[test]
fn overwrite_is_atomic_and_keeps_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.npy");
    npy::overwrite_slice(&path, &[1.0f32, 2.0], &[2], Order::C).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // a reader holding the old file keeps seeing the old contents
    let old = NpyFile::open(&path).unwrap();
    npy::overwrite_slice(&path, &[1u8, 2, 3, 4, 5, 6], &[2, 3], Order::Fortran).unwrap();
    assert_eq!(old.view().to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
    let new = NpyFile::open(&path).unwrap();
    assert_eq!(new.view().shape(), &[2, 3]);
    assert_eq!(new.header().order, Order::Fortran);
    assert_eq!(new.view().as_bytes(), &[1, 2, 3, 4, 5, 6]);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // the bytes are np.save's
    let mut want = Header::for_array(u8::dtype(), vec![2, 3], Order::Fortran)
        .to_bytes()
        .unwrap();
    want.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
    assert_eq!(std::fs::read(&path).unwrap(), want);
    // refused while an appender holds the file; old file untouched
    let app = NpyAppender::open(&path).unwrap();
    assert!(matches!(
        npy::overwrite_slice(&path, &[0u8], &[1], Order::C),
        Err(Error::Locked { .. })
    ));
    drop(app);
    assert_eq!(std::fs::read(&path).unwrap(), want);
    // no temporary files left behind
    let n = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(n, 1);
}

#[test]
fn update_writes_rows_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.npy");
    npy::overwrite_slice(&path, &[0i64; 10], &[10], Order::C).unwrap();
    npy::update(&path, &[2, 5, 8], &[99i64, 88, 77]).unwrap();
    let f = NpyFile::open(&path).unwrap();
    assert_eq!(
        f.view().to_vec::<i64>().unwrap(),
        vec![0, 0, 99, 0, 0, 88, 0, 0, 77, 0]
    );
    drop(f);
    // duplicate index: last wins; empty update is fine
    npy::update(&path, &[1, 1], &[5i64, 6]).unwrap();
    npy::update::<i64>(&path, &[], &[]).unwrap();
    assert_eq!(
        NpyFile::open(&path)
            .unwrap()
            .view()
            .to_vec::<i64>()
            .unwrap()[1],
        6
    );

    // errors, and nothing written on error
    let before = std::fs::read(&path).unwrap();
    let e = npy::update(&path, &[3, 10], &[1i64, 2]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::IndexOutOfRange {
                index: 10,
                len: 10,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.location().path.as_deref(), Some(path.as_path()));
    assert!(matches!(
        npy::update(&path, &[3, 4], &[1i64]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        npy::update(&path, &[3], &[1i32, 0]),
        Err(Error::DTypeMismatch { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let e = npy::update(dir.path().join("missing.npy"), &[0], &[1i64]).unwrap_err();
    assert!(matches!(e, Error::Io { ref source, .. } if source.kind() == ErrorKind::NotFound));
    let p0 = dir.path().join("0d.npy");
    npy::write(&p0, &[1i64], &[], Order::C).unwrap();
    assert!(matches!(
        npy::update(&p0, &[0], &[1i64]),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn update_rows_in_both_orders() {
    let dir = tempfile::tempdir().unwrap();
    // C: rows along axis 0
    let pc = dir.path().join("c.npy");
    npy::write(&pc, &[0u16; 12], &[4, 3], Order::C).unwrap();
    npy::update(&pc, &[3, 0], &[1u16, 2, 3, 4, 5, 6]).unwrap();
    assert_eq!(
        NpyFile::open(&pc).unwrap().view().to_vec::<u16>().unwrap(),
        vec![4, 5, 6, 0, 0, 0, 0, 0, 0, 1, 2, 3]
    );
    // Fortran: a "row" is a column along the last axis, contiguous too
    let pf = dir.path().join("f.npy");
    npy::write(&pf, &[0u16; 12], &[3, 4], Order::Fortran).unwrap();
    let rows = [1u16, 2, 3, 7, 8, 9];
    let view = ArrayView::from_slice(&rows, &[3, 2], Order::Fortran).unwrap();
    npy::update_view(&pf, &[1, 3], &view).unwrap();
    assert_eq!(
        NpyFile::open(&pf).unwrap().view().to_vec::<u16>().unwrap(),
        vec![0, 0, 0, 1, 2, 3, 0, 0, 0, 7, 8, 9]
    );
    // view with the wrong number of rows / wrong tail
    let v1 = ArrayView::from_slice(&rows[..3], &[3, 1], Order::Fortran).unwrap();
    assert!(matches!(
        npy::update_view(&pf, &[1, 3], &v1),
        Err(Error::ShapeMismatch { .. })
    ));
    let v2 = ArrayView::from_slice(&rows, &[2, 3], Order::Fortran).unwrap();
    assert!(matches!(
        npy::update_view(&pf, &[1, 3, 0], &v2),
        Err(Error::ShapeMismatch { .. })
    ));
}
