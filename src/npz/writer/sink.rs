//! The write path beneath [`NpzWriter`](super::NpzWriter): [`Sink`], a
//! bounded write buffer over the file, and [`Os`], the operating-system
//! writes (where the `test-hooks` fault sits).

use crate::fs::sync::EarlySync;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

/// The operating-system writes of [`Sink`]: every byte the writer puts in
/// the file goes through [`Os::write_vectored`] or [`Os::write_at`]. The
/// test hook (feature `test-hooks`) sits here, beneath the production code
/// path: armed or not, the same callers run.
pub(super) struct Os {
    pub(super) file: File,
    /// Early fdatasyncs while writing (when the writer fsyncs at close).
    pub(super) early: Option<EarlySync>,
    /// Bytes the OS may still take before the injected fault (test hook).
    #[cfg(feature = "test-hooks")]
    pub(super) fault: Option<u64>,
}

impl Os {
    /// How many of `want` bytes the next OS write may take: `Ok(want)`
    /// unless the test hook is armed; with the hook, a short count at the
    /// limit and then (once) an error.
    #[cfg(feature = "test-hooks")]
    fn allow(&mut self, want: usize) -> io::Result<usize> {
        match self.fault {
            None => Ok(want),
            Some(0) if want > 0 => {
                self.fault = None; // one-shot
                Err(io::Error::other("injected write failure"))
            }
            Some(room) => Ok(usize::try_from(room).map_or(want, |r| r.min(want))),
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    #[inline(always)]
    fn allow(&mut self, want: usize) -> io::Result<usize> {
        Ok(want)
    }

    #[cfg(feature = "test-hooks")]
    fn took(&mut self, n: usize) {
        if let Some(room) = self.fault.as_mut() {
            *room = room.saturating_sub(n as u64);
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    #[inline(always)]
    fn took(&mut self, _n: usize) {}

    /// One `writev` at the file position; may write fewer bytes.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let allow = self.allow(want)?;
        let n = if allow == want {
            self.file.write_vectored(bufs)?
        } else {
            // Test hook: cut the request at the limit.
            let mut left = allow;
            let mut cut: Vec<io::IoSlice<'_>> = Vec::with_capacity(bufs.len());
            for b in bufs {
                let (head, _) = b.split_at(left.min(b.len()));
                cut.push(io::IoSlice::new(head));
                left -= head.len();
            }
            self.file.write_vectored(&cut)?
        };
        self.wrote(n);
        Ok(n)
    }

    /// One `pwrite` at `offset`; may write fewer bytes.
    fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<usize> {
        let allow = self.allow(data.len())?;
        let (head, _) = data.split_at(allow.min(data.len()));
        let n = self.file.write_at(head, offset)?;
        self.wrote(n);
        Ok(n)
    }

    /// Counts `n` bytes the OS took: for the test hook's fault, and for the
    /// early fdatasyncs.
    fn wrote(&mut self, n: usize) {
        self.took(n);
        if let Some(e) = &mut self.early {
            e.wrote(&self.file, n as u64);
        }
    }

    /// Waits for the early fdatasyncs; their first error.
    pub(super) fn finish_early(&mut self) -> io::Result<()> {
        self.early.as_mut().map_or(Ok(()), EarlySync::finish)
    }

    /// Writes `a` then `b` at the file position, looping over short writes.
    /// Returns how many bytes were written when it fails.
    fn write_all_pair(&mut self, a: &[u8], b: &[u8]) -> std::result::Result<(), (u64, io::Error)> {
        let total = a.len() + b.len();
        let mut done = 0usize;
        while done < total {
            // `done < total`: the rest of `a` then `b`, or the rest of `b`
            // (in range; were it not, the empty write below is a WriteZero).
            let bufs = match a.get(done..) {
                Some(rest) if !rest.is_empty() => [io::IoSlice::new(rest), io::IoSlice::new(b)],
                _ => [
                    io::IoSlice::new(b.get(done - a.len()..).unwrap_or_default()),
                    io::IoSlice::new(&[]),
                ],
            };
            match self.write_vectored(&bufs) {
                Ok(0) => return Err((done as u64, io::ErrorKind::WriteZero.into())),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((done as u64, e)),
            }
        }
        Ok(())
    }

    /// Writes all of `data` at `offset`, looping over short writes.
    fn write_all_at(&mut self, mut data: &[u8], mut offset: u64) -> io::Result<()> {
        while !data.is_empty() {
            match self.write_at(data, offset) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    data = data.get(n..).ok_or_else(|| {
                        io::Error::other("the OS reported more bytes written than given")
                    })?;
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Where a [`Sink`]'s bytes go: the archive file, or (feature
/// `object-store`) an object-store upload.
pub(super) enum Target {
    File(Os),
    #[cfg(feature = "object-store")]
    Remote(Box<super::remote::Remote>),
}

/// The target plus a write buffer, tracking the logical end position.
pub(super) struct Sink {
    pub(super) target: Target,
    pub(super) buf: Vec<u8>,
    pub(super) cap: usize,
    /// Archive offset where the buffered bytes go.
    pub(super) flushed: u64,
}

impl Sink {
    pub(super) fn pos(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    /// The archive file (`None` for an upload).
    pub(super) fn file(&self) -> Option<&File> {
        match &self.target {
            Target::File(os) => Some(&os.file),
            #[cfg(feature = "object-store")]
            Target::Remote(_) => None,
        }
    }

    /// Waits for the early fdatasyncs of the archive file; their first
    /// error.
    pub(super) fn finish_early(&mut self) -> io::Result<()> {
        match &mut self.target {
            Target::File(os) => os.finish_early(),
            #[cfg(feature = "object-store")]
            Target::Remote(_) => Ok(()),
        }
    }

    /// True when writing to object storage.
    pub(super) fn is_remote(&self) -> bool {
        !matches!(self.target, Target::File(_))
    }

    /// Hands the buffered bytes to the OS.
    pub(super) fn flush_buf(&mut self) -> io::Result<()> {
        self.raw_write_pair(&[])
    }

    pub(super) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() <= self.cap {
            self.buf.extend_from_slice(data);
            return Ok(());
        }
        if data.len() >= self.cap / 2 {
            // Large: buffered bytes and `data` in one system call, no copy.
            return self.raw_write_pair(data);
        }
        self.flush_buf()?;
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Hands the buffered bytes and then `data` to the OS now, with
    /// vectored writes (`data` is never copied into the buffer).
    pub(super) fn write_through(&mut self, data: &[u8]) -> io::Result<()> {
        self.raw_write_pair(data)
    }

    /// Writes the buffer followed by `data` with vectored writes. On error
    /// the buffer is dropped; whatever was not written is dropped by the
    /// caller's rollback.
    fn raw_write_pair(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.is_empty() && data.is_empty() {
            return Ok(());
        }
        let r = match &mut self.target {
            Target::File(os) => os.write_all_pair(&self.buf, data),
            #[cfg(feature = "object-store")]
            Target::Remote(r) => r.write_pair(&self.buf, data).map_err(|e| (0, e)),
        };
        let written = match &r {
            Ok(()) => (self.buf.len() + data.len()) as u64,
            Err((n, _)) => *n,
        };
        self.flushed += written;
        self.buf.clear();
        r.map_err(|(_, e)| e)
    }

    /// Overwrites bytes already written (flushing the buffer first).
    pub(super) fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        self.flush_buf()?;
        match &mut self.target {
            Target::File(os) => os.write_all_at(data, offset),
            #[cfg(feature = "object-store")]
            Target::Remote(r) => r.write_at(data, offset),
        }
    }

    /// Drops everything after `pos`: buffered bytes and file contents.
    pub(super) fn truncate(&mut self, pos: u64) -> io::Result<()> {
        self.buf.clear();
        match &mut self.target {
            Target::File(os) => {
                os.file.set_len(pos)?;
                os.file.seek(SeekFrom::Start(pos))?;
            }
            #[cfg(feature = "object-store")]
            Target::Remote(r) => r.truncate(pos)?,
        }
        self.flushed = pos;
        Ok(())
    }

    /// From here on, hold the bytes back until [`Sink::end_stage`]: a
    /// streamed member, patched when finished (a no-op for a file, which
    /// is patched in place).
    pub(super) fn begin_stage(&mut self) -> io::Result<()> {
        #[cfg(feature = "object-store")]
        if self.is_remote() {
            self.flush_buf()?;
            let at = self.flushed;
            if let Target::Remote(r) = &mut self.target {
                r.begin_stage(at);
            }
        }
        Ok(())
    }

    /// Sends the bytes held back since [`Sink::begin_stage`].
    pub(super) fn end_stage(&mut self) -> io::Result<()> {
        #[cfg(feature = "object-store")]
        if self.is_remote() {
            self.flush_buf()?;
            if let Target::Remote(r) = &mut self.target {
                r.end_stage()?;
            }
        }
        Ok(())
    }
}
