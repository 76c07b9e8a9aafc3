//! The known-size write path of [`NpzWriter`]: name and header checks,
//! the header cache, alignment padding and [`NpzWriter::write`] and its
//! siblings, one member per call.

use super::{NewEntry, NpzWriter};
use crate::dtype::{Element, MAX_DIMS};
use crate::error::{Error, Location, Result};
use crate::npy::header::{Header, Order};
use crate::npz::member_name;
use crate::view::ArrayView;
use crate::zip::{
    LOCAL_HEADER_LEN, LOCAL_ZIP64_EXTRA_LEN, LocalHeader, LocalZip64, MAX32, align_padding,
    write_local_stored,
};

/// Array data up to this size is copied next to its headers and written
/// with one plain `write`; larger data goes straight from the caller's
/// slice (vectored write).
const SMALL_MEMBER: usize = 16 << 10;

/// Members from this size on are written to a file in [`CHUNK`]s, with the
/// CRC patched into the local header at the end: computed on a second core
/// beside the writes, or (one core) each chunk CRC'd just before it is
/// written, so the kernel copies it from the CPU cache, not from memory a
/// second time.
const CHUNKED_MEMBER: usize = 4 << 20;

/// See [`CHUNKED_MEMBER`]: small enough to stay in a core's L2 cache.
const CHUNK: usize = 256 << 10;

/// Offset of the CRC-32 field in a local file header.
const LOCAL_CRC_OFFSET: u64 = 14;

#[cfg(test)]
fn check_name(key: &str) -> Result<String> {
    let mut member = String::new();
    check_name_into(key, &mut member)?;
    Ok(member)
}

/// Checks `key` and puts its member name in `member`.
fn check_name_into(key: &str, member: &mut String) -> Result<()> {
    let bad = |reason: &str| Error::InvalidName {
        name: key.to_string(),
        reason: reason.to_string(),
        at: Location::none(),
    };
    if key.is_empty() {
        return Err(bad("the name is empty"));
    }
    if key.contains('\0') {
        return Err(bad("the name contains a NUL character"));
    }
    if key.contains("PK\x03\x04") {
        // Names carry no CRC: after a crash, recovery cannot tell such a
        // name from a damaged header whose name swallows other members.
        return Err(bad(
            "the name holds \"PK\\x03\\x04\" (a zip local header signature), \
             which recovery after a crash could not tell from a damaged header",
        ));
    }
    member.clear();
    member.push_str(key);
    if !key.ends_with(".npy") {
        member.push_str(".npy");
    }
    if member.len() > 0xFFFF {
        return Err(bad("the member name is longer than 65535 bytes"));
    }
    Ok(())
}

fn check_header(header: &Header) -> Result<u64> {
    if header.shape.len() > MAX_DIMS {
        return Err(Error::ShapeMismatch {
            reason: format!(
                "{} dimensions; numpy allows at most {MAX_DIMS}",
                header.shape.len()
            ),
            at: Location::none(),
        });
    }
    header.data_len()
}

impl NpzWriter {
    /// Writes a typed array as member `key + ".npy"`.
    ///
    /// `data` holds the elements in `order`; `shape` may be empty (0-d).
    /// Name, shape and size are checked before any byte is written; an I/O
    /// error removes the partial member and leaves the writer usable.
    pub fn write<T: Element>(
        &mut self,
        key: &str,
        data: &[T],
        shape: &[u64],
        order: Order,
    ) -> Result<()> {
        let view = ArrayView::from_slice(data, shape, order)
            .map_err(|e| e.at_path(&self.path).at_member(member_name(key)))?;
        // from_slice already normalised the order as np.save does.
        self.write_npy_parts(key, view.header(), view.as_bytes())
    }

    /// Writes an array view (any dtype and byte order, bytes copied as they
    /// are): e.g. an array read from another archive.
    pub fn write_view(&mut self, key: &str, view: &ArrayView<'_>) -> Result<()> {
        let header = Header::for_array(view.dtype().clone(), view.shape().to_vec(), view.order());
        self.write_npy_parts(key, &header, view.as_bytes())
    }

    /// Writes raw array bytes with a header; `data` must be exactly the
    /// header's data length.
    pub fn write_bytes(&mut self, key: &str, header: &Header, data: &[u8]) -> Result<()> {
        self.write_npy_parts(key, header, data)
    }

    /// Validates a new member's name and header; returns the member name
    /// and the data length.
    pub(super) fn prepare(&self, key: &str, header: &Header) -> Result<(String, u64)> {
        let mut member = String::new();
        let len = self.prepare_into(key, header, &mut member)?;
        Ok((member, len))
    }

    /// As [`NpzWriter::prepare`], with the member name put in `member`.
    fn prepare_into(&self, key: &str, header: &Header, member: &mut String) -> Result<u64> {
        self.check_open()?;
        check_name_into(key, member).map_err(|e| self.err_here(e, None))?;
        if !self.opts.allow_duplicates
            && (self.names.contains(member.as_str()) || self.old.names.contains(member.as_str()))
        {
            return Err(Error::DuplicateName {
                name: member.clone(),
                at: Location::path(&self.path),
            });
        }
        check_header(header).map_err(|e| self.err_here(e, Some(member)))
    }

    /// The npy header bytes, reusing the last ones when the header repeats.
    fn header_bytes(&mut self, header: &Header) -> Result<()> {
        if self.header_cache.as_ref().is_none_or(|(h, _)| h != header) {
            let bytes = header.to_bytes()?;
            self.header_cache = Some((header.clone(), bytes));
        }
        Ok(())
    }

    pub(super) fn local_header(
        &self,
        member: &str,
        crc32: u32,
        size: u64,
        zip64: LocalZip64,
        npy_header_len: u64,
    ) -> LocalHeader {
        let pad = self.align_pad(member, zip64, npy_header_len);
        let mut lh = LocalHeader::stored(member, crc32, size, zip64, pad);
        lh.date = self.opts.stamp.date;
        lh.time = self.opts.stamp.time;
        lh
    }

    /// Alignment padding for a local header written at the current position,
    /// for a member whose npy header is `npy_header_len` bytes: the *array
    /// data* (after the npy header) starts on a multiple of the alignment.
    fn align_pad(&self, member: &str, zip64: LocalZip64, npy_header_len: u64) -> u16 {
        let at = self.sink.pos();
        let unpadded = (LOCAL_HEADER_LEN + member.len()) as u64
            + if zip64 == LocalZip64::Yes {
                LOCAL_ZIP64_EXTRA_LEN as u64
            } else {
                0
            };
        align_padding(at + unpadded + npy_header_len, self.opts.align)
    }

    fn write_npy_parts(&mut self, key: &str, header: &Header, data: &[u8]) -> Result<()> {
        let mut member = std::mem::take(&mut self.member_buf);
        let r = self.write_npy_parts_named(key, header, data, &mut member);
        self.member_buf = member;
        r
    }

    fn write_npy_parts_named(
        &mut self,
        key: &str,
        header: &Header,
        data: &[u8],
        member: &mut String,
    ) -> Result<()> {
        let len = self.prepare_into(key, header, member)?;
        let member = member.as_str();
        if len != data.len() as u64 {
            let e = if (data.len() as u64) < len {
                Error::DataTooShort {
                    expected: len,
                    actual: data.len() as u64,
                    at: Location::none(),
                }
            } else {
                Error::DataTooLong {
                    expected: len,
                    actual: data.len() as u64,
                    at: Location::none(),
                }
            };
            return Err(self.err_here(e, Some(member)));
        }
        self.header_bytes(header)
            .map_err(|e| self.err_here(e, Some(member)))?;
        let Some((h, hb)) = self.header_cache.take() else {
            return Err(Error::invalid_argument("internal: header cache empty"));
        };
        let r = self.write_member(member, &hb, data);
        self.header_cache = Some((h, hb));
        r
    }

    fn write_member(&mut self, member: &str, hb: &[u8], data: &[u8]) -> Result<()> {
        if data.len() >= CHUNKED_MEMBER && !self.sink.is_remote() {
            return self.write_member_chunked(member, hb, data);
        }
        let size = hb.len() as u64 + data.len() as u64;
        let mut h = crc32fast::Hasher::new();
        h.update(hb);
        h.update(data);
        let crc = h.finalize();
        let start = self.sink.pos();
        let mut scratch = self.member_head(member, crc, size, hb);
        // One (vectored) system call per member in the common case: headers
        // from the buffer, the data straight from the caller's slice, never
        // copied. The member is handed to the OS before `write` returns
        // (survives a process crash).
        let r = if data.len() <= SMALL_MEMBER {
            // Small: one plain write of one buffer is cheaper than a vector.
            scratch.extend_from_slice(data);
            self.sink
                .write(&scratch)
                .and_then(|_| self.sink.write_through(&[]))
        } else {
            self.sink
                .write(&scratch)
                .and_then(|_| self.sink.write_through(data))
        };
        self.scratch = scratch;
        if let Err(e) = r {
            self.roll_back(start);
            return Err(Error::io("write", e, Location::offset(start))
                .at_path(&self.path)
                .at_member(member));
        }
        self.push_entry(member, crc, size, start);
        Ok(())
    }

    /// The local header (aligned, ZIP64 only from 4 GiB) and npy header `hb`
    /// of a stored member of `size` bytes written at the current position,
    /// in the scratch buffer (the caller puts it back).
    fn member_head(&mut self, member: &str, crc: u32, size: u64, hb: &[u8]) -> Vec<u8> {
        let zip64 = if size >= MAX32 {
            LocalZip64::Yes
        } else {
            LocalZip64::No
        };
        let pad = self.align_pad(member, zip64, hb.len() as u64);
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let stamp = (self.opts.stamp.date, self.opts.stamp.time);
        write_local_stored(&mut scratch, member, crc, size, zip64, pad, stamp);
        scratch.extend_from_slice(hb);
        scratch
    }

    /// [`NpzWriter::write_member`] for a large member of a file: the local
    /// header goes first with a CRC of 0, then the data in chunks, each
    /// hashed right before it is written, then the CRC in place (one
    /// positioned write of 4 bytes). Until that patch the member fails its
    /// CRC check, so a crash mid-member leaves one that recovery drops, as
    /// for a streamed member.
    fn write_member_chunked(&mut self, member: &str, hb: &[u8], data: &[u8]) -> Result<()> {
        let size = hb.len() as u64 + data.len() as u64;
        let start = self.sink.pos();
        let scratch = self.member_head(member, 0, size, hb);
        let mut h = crc32fast::Hasher::new();
        h.update(hb);
        let mut r = self.sink.write(&scratch);
        self.scratch = scratch;
        let sink = &mut self.sink;
        let mut write_chunks = |mut h: Option<&mut crc32fast::Hasher>| {
            for chunk in data.chunks(CHUNK) {
                if r.is_err() {
                    break;
                }
                if let Some(h) = h.as_deref_mut() {
                    h.update(chunk);
                }
                r = sink.write_through(chunk);
            }
        };
        if crate::fs::cores() > 1 {
            // The CRC on a second core, beside the writes (which the
            // kernel's copy into the page cache bounds).
            let data_crc = std::thread::scope(|s| {
                let crc = s.spawn(|| {
                    let mut d = crc32fast::Hasher::new();
                    d.update(data);
                    d
                });
                write_chunks(None);
                crc.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            });
            h.combine(&data_crc);
        } else {
            write_chunks(Some(&mut h));
        }
        let crc = h.finalize();
        let r = r.and_then(|_| {
            self.sink
                .write_at(&crc.to_le_bytes(), start + LOCAL_CRC_OFFSET)
        });
        if let Err(e) = r {
            self.roll_back(start);
            return Err(Error::io("write", e, Location::offset(start))
                .at_path(&self.path)
                .at_member(member));
        }
        self.push_entry(member, crc, size, start);
        Ok(())
    }

    pub(super) fn push_entry(&mut self, member: &str, crc32: u32, size: u64, start: u64) {
        if !self.opts.allow_duplicates {
            self.names.insert(member.into());
        }
        let name_start = self.entry_names.len();
        self.entry_names.push_str(member);
        self.entries.push(NewEntry {
            name_start,
            // Checked by `check_name_into`: at most 65535 bytes.
            name_len: member.len() as u16,
            crc32,
            size,
            offset: start - self.old.base,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("").is_err());
        assert!(check_name("a\0b").is_err());
        let e = check_name("xPK\x03\x04y").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidName { name, .. } if name == "xPK\x03\x04y"),
            "{e}"
        );
        assert!(check_name("PK\x03\x05").is_ok());
        assert!(check_name(&"x".repeat(65532)).is_err());
        assert_eq!(check_name(&"x".repeat(65531)).unwrap().len(), 65535);
    }
}
