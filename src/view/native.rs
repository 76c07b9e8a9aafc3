//! Byte order and alignment of array data: swapping to native order and
//! the alignment a Rust element of a dtype needs.

use crate::dtype::{DType, Kind};

/// Byte-swaps `bytes` (whole elements of `dtype`) in place to native order.
/// Nothing happens for native or single-byte dtypes, or for empty data.
pub(crate) fn swap_to_native(dtype: &DType, bytes: &mut [u8]) {
    if bytes.is_empty() || dtype.is_native() {
        return;
    }
    // An item larger than the address space cannot be in `bytes`.
    let Ok(item) = usize::try_from(dtype.itemsize()) else {
        debug_assert!(
            false,
            "{} bytes of items of {} bytes",
            bytes.len(),
            dtype.itemsize()
        );
        return;
    };
    if item == 0 {
        return;
    }
    // Plain scalars (and complex halves, UCS-4 code units) swap in fixed
    // units: do it word-wise when the slice is aligned for the word. Records
    // walk each item without building a plan, whose size a file could
    // inflate (see `DType::swap_item`).
    if let DType::Scalar(s) = dtype {
        let unit = match s.kind {
            Kind::Complex => s.size / 2,
            Kind::Unicode => 4,
            _ => s.size,
        };
        match unit {
            0 | 1 => {}
            2 => match bytemuck::try_cast_slice_mut::<u8, u16>(bytes) {
                Ok(w) => w.iter_mut().for_each(|v| *v = v.swap_bytes()),
                Err(_) => bytes.chunks_exact_mut(2).for_each(|c| c.reverse()),
            },
            4 => match bytemuck::try_cast_slice_mut::<u8, u32>(bytes) {
                Ok(w) => w.iter_mut().for_each(|v| *v = v.swap_bytes()),
                Err(_) => bytes.chunks_exact_mut(4).for_each(|c| c.reverse()),
            },
            8 => match bytemuck::try_cast_slice_mut::<u8, u64>(bytes) {
                Ok(w) => w.iter_mut().for_each(|v| *v = v.swap_bytes()),
                Err(_) => bytes.chunks_exact_mut(8).for_each(|c| c.reverse()),
            },
            u => bytes.chunks_exact_mut(u as usize).for_each(|c| c.reverse()),
        }
        return;
    }
    for chunk in bytes.chunks_exact_mut(item) {
        dtype.swap_item(chunk);
    }
}

/// The alignment a Rust element of this dtype needs.
pub(crate) fn natural_align(dtype: &DType) -> usize {
    match dtype {
        DType::Scalar(s) => match s.kind {
            Kind::Complex => (s.size / 2).clamp(1, 16) as usize,
            Kind::Bytes | Kind::Void | Kind::Bool => 1,
            Kind::Unicode => 4,
            _ => (s.size as usize).clamp(1, 16).next_power_of_two(),
        },
        DType::Record { fields, .. } => fields
            .iter()
            .filter(|f| !f.is_padding())
            .map(|f| natural_align(&f.dtype))
            .max()
            .unwrap_or(1),
        DType::Subarray { base, .. } => natural_align(base),
    }
}
