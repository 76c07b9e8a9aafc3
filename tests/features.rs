//! Optional features: `ndarray` views with the right strides, `half` and
//! `complex` element types (run with `--all-features`).

#[allow(unused_imports)]
use npzmap::{ArrayView, DType, Header, Order, dtype::Element, npy};

#[cfg(feature = "ndarray")]
#[test]
fn ndarray_view_of_fortran_data_has_column_major_strides() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.npy");
    // Column-major 2x3: a[i, j] = 10 * i + j
    let data: Vec<f64> = vec![0.0, 10.0, 1.0, 11.0, 2.0, 12.0];
    npy::write(&p, &data, &[2, 3], Order::Fortran).unwrap();
    let f = npy::NpyFile::open(&p).unwrap();
    let v = f.view();
    let a = v.as_ndarray::<f64>().unwrap();
    assert_eq!(a.shape(), &[2, 3]);
    assert_eq!(a.strides(), &[1, 2]);
    for i in 0..2 {
        for j in 0..3 {
            assert_eq!(a[[i, j]], (10 * i + j) as f64);
        }
    }
    let owned = v.to_ndarray::<f64>().unwrap();
    assert_eq!(owned, a);

    // C order: row-major strides.
    let pc = dir.path().join("c.npy");
    npy::write(&pc, &[0i32, 1, 2, 10, 11, 12], &[2, 3], Order::C).unwrap();
    let f = npy::NpyFile::open(&pc).unwrap();
    let a = f.view().as_ndarray::<i32>().unwrap().to_owned();
    assert_eq!(a.strides(), &[3, 1]);
    assert_eq!(a[[1, 2]], 12);

    // 3-D Fortran
    let p3 = dir.path().join("f3.npy");
    let data: Vec<u16> = (0..24).collect();
    npy::write(&p3, &data, &[2, 3, 4], Order::Fortran).unwrap();
    let f = npy::NpyFile::open(&p3).unwrap();
    let a = f.view().as_ndarray::<u16>().unwrap().to_owned();
    assert_eq!(a.strides(), &[1, 2, 6]);
    assert_eq!(a[[1, 2, 3]], 1 + 2 * 2 + 3 * 6);
}

#[cfg(feature = "ndarray")]
#[test]
fn ndarray_of_big_endian_needs_a_copy() {
    let h = Header::new(DType::parse(">i2").unwrap(), vec![2, 2], Order::Fortran);
    let bytes = [0, 1, 0, 2, 0, 3, 0, 4];
    let v = ArrayView::from_bytes(&h, &bytes).unwrap();
    assert!(v.as_ndarray::<i16>().is_err());
    let a = v.to_ndarray::<i16>().unwrap();
    assert_eq!(a[[0, 0]], 1);
    assert_eq!(a[[1, 0]], 2);
    assert_eq!(a[[0, 1]], 3);
    assert_eq!(a[[1, 1]], 4);
}

#[cfg(feature = "half")]
#[test]
fn half_elements() {
    use half::{bf16, f16};
    assert_eq!(f16::dtype().to_string(), "<f2");
    assert_eq!(bf16::dtype().to_string(), "|V2");
    let data: Vec<f16> = [1.0f32, -2.5, 65504.0, 0.0]
        .iter()
        .map(|&x| f16::from_f32(x))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.npy");
    npy::write(&p, &data, &[4], Order::C).unwrap();
    let f = npy::NpyFile::open(&p).unwrap();
    assert_eq!(f.header().dtype.descr(), "'<f2'");
    assert_eq!(f.view().as_slice::<f16>().unwrap(), &data[..]);
    // big-endian f2: swapped on copy
    let h = Header::new(DType::parse(">f2").unwrap(), vec![1], Order::C);
    let v = ArrayView::from_bytes(&h, &[0x3c, 0x00]).unwrap();
    assert_eq!(v.to_vec::<f16>().unwrap(), vec![f16::from_f32(1.0)]);
    // bf16 round trips as raw two-byte voids
    let b: Vec<bf16> = vec![bf16::from_f32(3.0), bf16::from_f32(-0.5)];
    let pb = dir.path().join("b.npy");
    npy::write(&pb, &b, &[2], Order::C).unwrap();
    let f = npy::NpyFile::open(&pb).unwrap();
    assert_eq!(f.header().dtype.descr(), "'|V2'");
    assert_eq!(f.view().to_vec::<bf16>().unwrap(), b);
    assert!(f.view().to_vec::<f16>().is_err());
}

#[cfg(feature = "complex")]
#[test]
fn complex_elements() {
    use num_complex::Complex;
    assert_eq!(Complex::<f32>::dtype().to_string(), "<c8");
    assert_eq!(Complex::<f64>::dtype().to_string(), "<c16");
    let data = vec![Complex::new(1.0f64, -2.0), Complex::new(0.5, 4.0)];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.npy");
    npy::write(&p, &data, &[2], Order::C).unwrap();
    let f = npy::NpyFile::open(&p).unwrap();
    assert_eq!(f.view().as_slice::<Complex<f64>>().unwrap(), &data[..]);
    // >c8: real and imaginary halves are swapped separately
    let h = Header::new(DType::parse(">c8").unwrap(), vec![1], Order::C);
    let mut bytes = 1.5f32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&(-3.0f32).to_be_bytes());
    let v = ArrayView::from_bytes(&h, &bytes).unwrap();
    assert_eq!(
        v.to_vec::<Complex<f32>>().unwrap(),
        vec![Complex::new(1.5, -3.0)]
    );
    assert!(v.to_vec::<Complex<f64>>().is_err());
}
