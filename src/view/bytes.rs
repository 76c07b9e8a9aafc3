//! The bytes behind a view: [`AlignedBuf`] (a 64-byte aligned heap copy)
//! and the opaque [`Bytes`] (borrowed, or a range of a shared owner).

use crate::error::{Error, Location, Result};
use std::fmt;
use std::sync::Arc;

/// A heap buffer whose start is aligned to 64 bytes, so any element type
/// can be viewed in it without copying again.
#[derive(Clone)]
pub struct AlignedBuf {
    chunks: Vec<Chunk>,
    len: usize,
}

/// 64 plain bytes aligned to 64: the derive checks that it has no padding.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Chunk([u8; 64]);

impl AlignedBuf {
    /// A zero-filled buffer of `len` bytes. Fails (instead of aborting) if the
    /// memory cannot be reserved.
    pub(crate) fn zeroed(len: usize) -> Result<AlignedBuf> {
        let n = len.div_ceil(64);
        let mut chunks = Vec::new();
        chunks
            .try_reserve_exact(n)
            .map_err(|_| Error::InvalidArgument {
                reason: format!("cannot allocate {len} bytes"),
                at: Location::none(),
            })?;
        chunks.resize(n, Chunk([0; 64]));
        Ok(AlignedBuf { chunks, len })
    }

    /// A 64-byte aligned copy of `bytes`.
    pub(crate) fn copy_from(bytes: &[u8]) -> Result<AlignedBuf> {
        let mut b = AlignedBuf::zeroed(bytes.len())?;
        b.as_mut_slice().copy_from_slice(bytes);
        Ok(b)
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        let all = bytemuck::cast_slice::<Chunk, u8>(&self.chunks);
        // `zeroed` made `len.div_ceil(64)` chunks, so `len` is in bounds.
        debug_assert!(self.len <= all.len());
        all.get(..self.len).unwrap_or(all)
    }

    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len;
        let all = bytemuck::cast_slice_mut::<Chunk, u8>(&mut self.chunks);
        debug_assert!(len <= all.len());
        let n = len.min(all.len());
        all.split_at_mut(n).0
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len as u64
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

/// The bytes of an array, kept alive for as long as the view needs them:
/// borrowed from something that outlives the view, or a range of a shared
/// owner (a memory map or an aligned copy) held through an `Arc`.
///
/// Opaque on purpose: read it with [`Bytes::as_slice`]; cloning never copies
/// the bytes.
#[derive(Clone)]
pub struct Bytes<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    Borrowed(&'a [u8]),
    /// The range `start..end` of `owner`, checked when it was built.
    Shared {
        owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
        start: usize,
        end: usize,
    },
}

impl<'a> Bytes<'a> {
    /// Bytes borrowed from something that outlives the view.
    pub(crate) fn borrowed(bytes: &'a [u8]) -> Bytes<'a> {
        Bytes(Repr::Borrowed(bytes))
    }

    /// The range `start..start + len` of a shared owner, which must hold it
    /// (asserted in debug builds; a range outside its owner makes every
    /// typed accessor of the view return [`Error::Truncated`]).
    pub(crate) fn shared(
        owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
        start: usize,
        len: usize,
    ) -> Bytes<'static> {
        let end = start.saturating_add(len);
        debug_assert!(
            start
                .checked_add(len)
                .is_some_and(|e| e <= (*owner).as_ref().len()),
            "shared range {start}+{len} outside its owner"
        );
        Bytes(Repr::Shared { owner, start, end })
    }

    /// A whole aligned buffer, shared.
    pub(crate) fn from_buf(buf: Arc<AlignedBuf>) -> Bytes<'static> {
        let end = buf.as_slice().len();
        Bytes(Repr::Shared {
            owner: buf,
            start: 0,
            end,
        })
    }

    /// The bytes, or a typed error if the range checked at construction no
    /// longer fits its owner (an owner whose length changed: a broken
    /// invariant, asserted in debug builds).
    pub(super) fn try_as_slice(&self) -> Result<&[u8]> {
        match &self.0 {
            Repr::Borrowed(b) => Ok(b),
            Repr::Shared { owner, start, end } => {
                let all = (**owner).as_ref();
                match all.get(*start..*end) {
                    Some(b) => Ok(b),
                    None => {
                        debug_assert!(
                            false,
                            "shared range {start}..{end} outside {} bytes",
                            all.len()
                        );
                        Err(Error::Truncated {
                            what: "array data",
                            needed: *end as u64,
                            available: all.len() as u64,
                            at: Location::offset(*start as u64),
                        })
                    }
                }
            }
        }
    }

    /// The bytes.
    ///
    /// The range was checked against its owner when it was built and owners
    /// (memory maps, aligned buffers) never change length, so this never
    /// fails; were that broken, debug builds assert and release builds see
    /// no bytes (the typed accessors of [`ArrayView`](super::ArrayView) then return an error).
    pub fn as_slice(&self) -> &[u8] {
        self.try_as_slice().unwrap_or(&[])
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    /// True if there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// The same bytes borrowing nothing: borrowed bytes are copied once into
    /// an aligned buffer, shared ones only gain a reference.
    pub(super) fn into_static(self) -> Result<Bytes<'static>> {
        Ok(match self.0 {
            Repr::Borrowed(b) => Bytes::from_buf(Arc::new(AlignedBuf::copy_from(b)?)),
            Repr::Shared { owner, start, end } => Bytes(Repr::Shared { owner, start, end }),
        })
    }

    /// True when the bytes are shared through an `Arc` (a memory map or an
    /// aligned copy) rather than borrowed.
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Repr::Shared { .. })
    }
}

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.as_slice().len())
    }
}
