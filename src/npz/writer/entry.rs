//! Streamed members: [`NpzWriter::begin`] and [`EntryWriter`], whose row
//! count is known only when it is finished.

use super::NpzWriter;
use crate::dtype::{DType, Element};
use crate::error::{Error, Location, Result};
use crate::npy::header::{Header, Order, Version};
use crate::zip::{LocalHeader, LocalZip64};

impl NpzWriter {
    /// Starts a member whose length along the growth axis is not known yet:
    /// `tail_shape` is the shape without the growth axis (axis 0 for C
    /// order, the last axis for Fortran order). Rows are appended with
    /// [`EntryWriter::append`] and go straight to disk; see [`EntryWriter`].
    ///
    /// Rows must not be empty (`tail_shape` without zeros, non-zero
    /// itemsize), as the row count is derived from the bytes appended.
    pub fn begin(
        &mut self,
        key: &str,
        dtype: DType,
        tail_shape: &[u64],
        order: Order,
    ) -> Result<EntryWriter<'_>> {
        let mut shape = Vec::with_capacity(tail_shape.len() + 1);
        if order == Order::Fortran {
            shape.extend_from_slice(tail_shape);
            shape.push(0);
        } else {
            shape.push(0);
            shape.extend_from_slice(tail_shape);
        }
        let header = Header::new(dtype, shape, order);
        let (member, _) = self.prepare(key, &header)?;
        let row_len = header
            .row_len()
            .map_err(|e| self.err_here(e, Some(&member)))?
            .unwrap_or(0);
        if row_len == 0 {
            return Err(self.err_here(
                Error::invalid_argument(
                    "a streamed array needs non-empty rows (no zero in the tail shape, \
                     non-zero itemsize); write it with `write` instead",
                ),
                Some(&member),
            ));
        }
        let hb = header
            .to_bytes()
            .map_err(|e| self.err_here(e, Some(&member)))?;
        let version = match hb.get(6) {
            Some(1) => Version::V1,
            Some(2) => Version::V2,
            _ => Version::V3,
        };
        let start = self.sink.pos();
        let lh = self.local_header(&member, 0, u64::MAX, LocalZip64::Yes, hb.len() as u64);
        let mut first = Vec::with_capacity(lh.len() as usize + hb.len());
        lh.write(&mut first);
        let local_len = first.len() as u64;
        first.extend_from_slice(&hb);
        // Writing to object storage, the member is held back until it is
        // finished (its npy header is patched then).
        if let Err(e) = self
            .sink
            .begin_stage()
            .and_then(|_| self.sink.write(&first))
        {
            self.roll_back(start);
            return Err(Error::io("write", e, Location::offset(start))
                .at_path(&self.path)
                .at_member(member));
        }
        Ok(EntryWriter {
            w: self,
            member,
            header,
            version,
            npy_header_len: hb.len() as u64,
            local: lh,
            local_len,
            start,
            row_len,
            rows: 0,
            bytes: 0,
            hasher: crc32fast::Hasher::new(),
            done: false,
        })
    }
}

/// A member being streamed; made by [`NpzWriter::begin`].
///
/// Rows go to disk through the writer's bounded buffer while the CRC is
/// computed on the fly. [`EntryWriter::finish`] rewrites the npy header with
/// the final shape (same length: numpy's header leaves room for it) and
/// patches the local header's CRC and sizes with one positioned write.
/// Dropping an unfinished `EntryWriter`, or any error while appending,
/// removes the partial member; the [`NpzWriter`] stays usable.
///
/// Writing to object storage (`NpzWriter::create_object`), the member is
/// staged (in memory up to 8 MiB, then in a temporary file) and uploaded
/// when it is finished, as its npy header must hold the final shape.
///
/// ```
/// use npzmap::npz::writer::NpzWriter;
/// use npzmap::{DType, Order};
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = NpzWriter::create(dir.path().join("s.npz")).unwrap();
/// let mut e = w.begin("f", DType::parse("<f4").unwrap(), &[2], Order::Fortran).unwrap();
/// e.append(&[1.0f32, 2.0]).unwrap(); // one column of 2 values
/// assert!(e.append(&[3.0f32]).is_err()); // not a whole column: member removed
/// drop(e);
/// let mut e = w.begin("f", DType::parse("<f4").unwrap(), &[2], Order::Fortran).unwrap();
/// e.append_bytes(&[0u8; 16]).unwrap();
/// assert_eq!(e.rows(), 2);
/// e.finish().unwrap();
/// w.close().unwrap();
/// ```
pub struct EntryWriter<'w> {
    w: &'w mut NpzWriter,
    member: String,
    header: Header,
    version: Version,
    npy_header_len: u64,
    local: LocalHeader,
    local_len: u64,
    start: u64,
    row_len: u64,
    rows: u64,
    bytes: u64,
    hasher: crc32fast::Hasher,
    done: bool,
}

impl std::fmt::Debug for EntryWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryWriter")
            .field("member", &self.member)
            .field("rows", &self.rows)
            .finish()
    }
}

impl EntryWriter<'_> {
    /// The member name.
    pub fn name(&self) -> &str {
        &self.member
    }

    /// Rows (steps along the growth axis) appended so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn fail(&mut self, e: Error) -> Error {
        if !self.done {
            self.done = true;
            self.w.roll_back(self.start);
        }
        e.at_path(&self.w.path).at_member(self.member.clone())
    }

    /// Appends whole rows of elements (`T` must be exactly the member's
    /// dtype). Anything else discards the member and returns the error.
    pub fn append<T: Element>(&mut self, rows: &[T]) -> Result<()> {
        let t = T::dtype();
        if t != self.header.dtype {
            let e = Error::DTypeMismatch {
                expected: self.header.dtype.descr(),
                found: format!("{} ({})", t.descr(), std::any::type_name::<T>()),
                at: Location::none(),
            };
            return Err(self.fail(e));
        }
        self.append_bytes(bytemuck::cast_slice(rows))
    }

    /// Appends whole rows as raw bytes in the member's dtype and byte order.
    /// Anything but a whole number of rows discards the member.
    pub fn append_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        if self.done {
            return Err(Error::Closed {
                at: Location::path(&self.w.path),
            }
            .at_member(self.member.clone()));
        }
        let n = bytes.len() as u64;
        if !n.is_multiple_of(self.row_len) {
            let e = Error::ShapeMismatch {
                reason: format!(
                    "{n} bytes is not a whole number of rows of {} bytes",
                    self.row_len
                ),
                at: Location::none(),
            };
            return Err(self.fail(e));
        }
        let rows = self.rows.checked_add(n / self.row_len);
        let Some(rows) = rows else {
            return Err(self.fail(Error::ShapeOverflow {
                at: Location::none(),
            }));
        };
        let pos = self.w.sink.pos();
        if let Err(e) = self.w.sink.write(bytes) {
            return Err(self.fail(Error::io("write", e, Location::offset(pos))));
        }
        self.hasher.update(bytes);
        self.rows = rows;
        self.bytes += n;
        Ok(())
    }

    /// Finishes the member: rewrites the npy header with the row count and
    /// patches CRC and sizes. Returns the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        if self.done {
            return Err(Error::Closed {
                at: Location::path(&self.w.path),
            }
            .at_member(self.member.clone()));
        }
        let mut shape = self.header.shape.clone();
        // `begin` made a shape with a growth axis: it is in range.
        let grown = self.header.growth_axis().and_then(|a| shape.get_mut(a));
        let Some(grown) = grown else {
            debug_assert!(false, "a streamed member's header has no growth axis");
            let e = Error::invalid_argument("internal: streamed member without a growth axis");
            return Err(self.fail(e));
        };
        *grown = self.rows;
        let fin = Header::for_array(self.header.dtype.clone(), shape, self.header.order);
        let hb = match fin.to_bytes_exact(self.version, self.npy_header_len) {
            Ok(b) => b,
            Err(e) => return Err(self.fail(e)),
        };
        let data_crc = std::mem::take(&mut self.hasher);
        let mut h = crc32fast::Hasher::new();
        h.update(&hb);
        h.combine(&data_crc);
        let crc = h.finalize();
        let size = self.npy_header_len + self.bytes;
        self.local.crc32 = crc;
        self.local.size = size;
        let mut patch = Vec::with_capacity((self.local_len + self.npy_header_len) as usize);
        self.local.write(&mut patch);
        debug_assert_eq!(patch.len() as u64, self.local_len);
        patch.extend_from_slice(&hb);
        let r = self.w.sink.write_at(&patch, self.start);
        if let Err(e) = r.and_then(|_| self.w.sink.end_stage()) {
            return Err(self.fail(Error::io("write", e, Location::offset(self.start))));
        }
        self.done = true;
        let (member, start) = (std::mem::take(&mut self.member), self.start);
        self.w.push_entry(&member, crc, size, start);
        Ok(self.rows)
    }
}

impl Drop for EntryWriter<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            self.w.roll_back(self.start);
        }
    }
}
