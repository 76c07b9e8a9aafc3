//! The state behind an [`NpyAppender`](super::NpyAppender)'s lock: the
//! file, the header in memory, the write buffer, and the writes with their
//! rollback.

use crate::dtype::DType;
use crate::error::{Error, Location, Result};
use crate::fs::{io_at, loc};
use crate::npy::header::{Header, Order, Version};
use crate::npy::rows::{axis_len, block_rows_of, set_axis_len};
use crate::view::ArrayView;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) file: Option<File>,
    pub(super) header: Header,
    pub(super) version: Version,
    pub(super) data_offset: u64,
    /// Committed data bytes (= rows x row_len).
    pub(super) data_len: u64,
    pub(super) row_len: u64,
    pub(super) axis: usize,
    /// The header on disk does not reflect `header` yet.
    pub(super) dirty: bool,
    pub(super) rewrite: bool,
    /// Set when a rollback itself failed: the file state is unknown.
    pub(super) broken: bool,
    /// One-shot fault injection (feature `test-hooks`): fail after this
    /// many more bytes.
    #[cfg(feature = "test-hooks")]
    pub(super) fault: Option<u64>,
    /// Growth-axis lengths below this are known to fit the header.
    pub(super) fits_below: u64,
    /// Appends not yet written: the last `buf.len()` bytes of `data_len`.
    pub(super) buf: Vec<u8>,
    /// Buffer size (0: no buffering).
    pub(super) buf_cap: usize,
}

/// Number of decimal digits of `n` (1 for 0).
pub(super) fn decimal_digits(n: u64) -> u32 {
    n.checked_ilog10().map_or(1, |d| d + 1)
}

impl Inner {
    pub(super) fn file(&self, path: &Path) -> Result<&File> {
        if self.broken {
            return Err(Error::Closed {
                at: Location::path(path),
            });
        }
        self.file.as_ref().ok_or_else(|| Error::Closed {
            at: Location::path(path),
        })
    }

    /// pwrite; with the test hook armed (feature `test-hooks`), the write
    /// that crosses the limit writes what fits and fails.
    pub(super) fn write_at(&mut self, buf: &[u8], offset: u64, path: &Path) -> Result<()> {
        #[cfg(feature = "test-hooks")]
        if let Some(budget) = self.fault.take() {
            let file = self.file(path)?;
            let len = buf.len() as u64;
            if budget < len {
                // budget < buf.len(), so it fits in usize.
                let k = budget as usize;
                let head = buf.get(..k).unwrap_or(buf);
                file.write_all_at(head, offset)
                    .map_err(|e| io_at("write", e, path, offset))?;
                return Err(io_at(
                    "write",
                    std::io::Error::other("injected write fault"),
                    path,
                    offset + budget,
                ));
            }
            self.fault = Some(budget - len);
        }
        let file = self.file(path)?;
        file.write_all_at(buf, offset)
            .map_err(|e| io_at("write", e, path, offset))
    }

    pub(super) fn header_bytes(&self, header: &Header, path: &Path) -> Result<Vec<u8>> {
        header
            .to_bytes_exact(self.version, self.data_offset)
            .map_err(|e| e.at_path(path))
    }

    pub(super) fn append(&mut self, path: &Path, view: &ArrayView<'_>) -> Result<()> {
        let h = view.header();
        self.append_parts(path, &h.dtype, &h.shape, h.order, view.as_bytes())
    }

    pub(super) fn append_parts(
        &mut self,
        path: &Path,
        dtype: &DType,
        shape: &[u64],
        order: Order,
        bytes: &[u8],
    ) -> Result<()> {
        self.file(path)?;
        let k = block_rows_of(&self.header, dtype, shape, order, path)?;
        let expect = k
            .checked_mul(self.row_len)
            .ok_or_else(|| Error::ShapeOverflow {
                at: Location::path(path),
            })?;
        if bytes.len() as u64 != expect {
            return Err(Error::ShapeMismatch {
                reason: format!(
                    "block of {k} rows needs {expect} bytes, has {}",
                    bytes.len()
                ),
                at: Location::path(path),
            });
        }
        let overflow = || Error::ShapeOverflow {
            at: Location::path(path),
        };
        let old_rows = axis_len(&self.header, self.axis);
        let new_rows = old_rows.checked_add(k).ok_or_else(overflow)?;
        let new_len = self.data_len.checked_add(expect).ok_or_else(overflow)?;
        self.data_offset.checked_add(new_len).ok_or_else(overflow)?;
        // The header must fit before a single byte is written. Its text
        // length depends only on the growth dimension's digit count, so once
        // a count is known to fit, deferred appends skip the formatting.
        let hb = if self.rewrite || new_rows >= self.fits_below {
            set_axis_len(&mut self.header, self.axis, new_rows);
            let hb = self.header_bytes(&self.header, path);
            set_axis_len(&mut self.header, self.axis, old_rows);
            let hb = hb?;
            self.fits_below = 10u64
                .checked_pow(decimal_digits(new_rows))
                .unwrap_or(u64::MAX);
            Some(hb)
        } else {
            None
        };
        if self.buf_cap > 0 {
            // Deferred header (checked at open): buffer small appends.
            if self.buf.len() + bytes.len() > self.buf_cap {
                self.flush_data(path)?;
            }
            if bytes.len() > self.buf_cap {
                let at = self.data_offset + self.data_len;
                if let Err(e) = self.write_at(bytes, at, path) {
                    self.rollback(path, false);
                    return Err(e);
                }
            } else {
                self.buf.extend_from_slice(bytes);
            }
            self.dirty = true;
            set_axis_len(&mut self.header, self.axis, new_rows);
            self.data_len = new_len;
            return Ok(());
        }
        let at = self.data_offset + self.data_len;
        if let Err(e) = self.write_at(bytes, at, path) {
            self.rollback(path, false);
            return Err(e);
        }
        match hb {
            Some(hb) if self.rewrite => {
                if let Err(e) = self.write_at(&hb, 0, path) {
                    self.rollback(path, true);
                    return Err(e);
                }
            }
            _ => self.dirty = true,
        }
        set_axis_len(&mut self.header, self.axis, new_rows);
        self.data_len = new_len;
        Ok(())
    }

    /// Truncates to the last complete append and, if the header write was
    /// started, restores the committed header. If this fails too, the
    /// appender refuses further use ([`Error::Closed`]); run `recover`.
    pub(super) fn rollback(&mut self, path: &Path, restore_header: bool) {
        let ok = (|| -> Result<()> {
            let keep = self.data_offset + self.data_len;
            let file = self.file(path)?;
            file.set_len(keep)
                .map_err(|e| io_at("truncate", e, path, keep))?;
            if restore_header {
                let hb = self.header_bytes(&self.header.clone(), path)?;
                #[cfg(feature = "test-hooks")]
                {
                    self.fault = None;
                }
                self.write_at(&hb, 0, path)?;
            }
            Ok(())
        })();
        if ok.is_err() {
            self.broken = true;
        }
    }

    /// Writes the buffered appends. On failure they are dropped: the
    /// counters go back to what is on disk and the file is truncated there.
    pub(super) fn flush_data(&mut self, path: &Path) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let n = buf.len() as u64;
        // `buf` holds the tail of the committed data.
        let at = self.data_offset + self.data_len - n;
        let r = self.write_at(&buf, at, path);
        self.buf = buf;
        self.buf.clear();
        if let Err(e) = r {
            self.data_len -= n;
            if let Some(rows) = n.checked_div(self.row_len) {
                let left = axis_len(&self.header, self.axis).saturating_sub(rows);
                set_axis_len(&mut self.header, self.axis, left);
            }
            self.rollback(path, false);
            return Err(e);
        }
        Ok(())
    }

    pub(super) fn flush_header(&mut self, path: &Path) -> Result<()> {
        self.flush_data(path)?;
        if !self.dirty {
            return Ok(());
        }
        let hb = self.header_bytes(&self.header.clone(), path)?;
        self.write_at(&hb, 0, path)?;
        self.dirty = false;
        Ok(())
    }

    pub(super) fn sync(&mut self, path: &Path) -> Result<()> {
        self.flush_data(path)?;
        self.file(path)?
            .sync_data()
            .map_err(|e| Error::io("fsync", e, loc(path, 0)))?;
        // Write the header (again) only once the data it describes is durable.
        self.dirty = true;
        self.flush_header(path)?;
        self.file(path)?
            .sync_all()
            .map_err(|e| Error::io("fsync", e, loc(path, 0)))
    }
}
