//! The object-storage target of [`Sink`](super::sink::Sink) (feature
//! `object-store`): bytes go to a multipart [`Upload`], except a streamed
//! member's, which are staged until the member is finished.
//!
//! A streamed member ([`EntryWriter`](super::EntryWriter)) cannot be sent
//! as it is written: its npy header, at the start of the member, holds the
//! final shape, known only at [`finish`](super::EntryWriter::finish), and
//! uploaded bytes cannot be patched (parts go out in order). So its bytes
//! are staged, in memory up to [`PART_SIZE`] and beyond that in an unlinked
//! temporary file in [`std::env::temp_dir`], patched there at finish, and
//! then uploaded like a known-size member. The archive is byte-identical to
//! the one written to a local file, and a failed or dropped streamed member
//! is discarded from the stage (the writer stays usable).

use crate::fs::temp::TempFile;
use crate::remote::Object;
use crate::remote::upload::{PART_SIZE, Upload};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Staged bytes of a streamed member, from archive offset `start`.
struct Stage {
    start: u64,
    /// The bytes while they fit in one part.
    mem: Vec<u8>,
    /// The bytes once larger (unlinked temporary file).
    file: Option<File>,
    len: u64,
}

impl Stage {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.file.is_none() && self.mem.len().saturating_add(data.len()) > PART_SIZE {
            let dir = std::env::temp_dir().join("npzmap-stage");
            let TempFile { file, temp } =
                TempFile::new_beside(&dir).map_err(|e| io::Error::other(e.to_string()))?;
            // Unlinked at once: the bytes live as long as the handle.
            drop(temp);
            file.write_all_at(&self.mem, 0)?;
            self.mem = Vec::new();
            self.file = Some(file);
        }
        match &self.file {
            Some(f) => f.write_all_at(data, self.len)?,
            None => self.mem.extend_from_slice(data),
        }
        self.len += data.len() as u64;
        Ok(())
    }

    /// Overwrites staged bytes at `rel` (relative to `start`).
    fn write_at(&mut self, data: &[u8], rel: u64) -> io::Result<()> {
        let end = rel.checked_add(data.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a positioned write outside the staged member",
            ));
        }
        match &self.file {
            Some(f) => f.write_all_at(data, rel),
            None => {
                let at = usize::try_from(rel).map_err(io::Error::other)?;
                let dst = self.mem.get_mut(at..at + data.len());
                let dst = dst.ok_or_else(|| io::Error::other("internal: stage range"))?;
                dst.copy_from_slice(data);
                Ok(())
            }
        }
    }

    fn truncate(&mut self, rel: u64) -> io::Result<()> {
        match &self.file {
            Some(f) => f.set_len(rel)?,
            None => self
                .mem
                .truncate(usize::try_from(rel).map_err(io::Error::other)?),
        }
        self.len = self.len.min(rel);
        Ok(())
    }

    /// Hands the staged bytes to `upload`.
    fn send(self, upload: &mut Upload) -> io::Result<()> {
        let Some(f) = self.file else {
            return upload.write(&self.mem);
        };
        let mut chunk = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < self.len {
            let n = usize::try_from(self.len - at).map_or(chunk.len(), |n| n.min(chunk.len()));
            let buf = chunk
                .get_mut(..n)
                .ok_or_else(|| io::Error::other("internal: chunk"))?;
            f.read_exact_at(buf, at)?;
            upload.write(buf)?;
            at += n as u64;
        }
        Ok(())
    }
}

/// The remote target: the upload, and the stage of a streamed member.
pub(super) struct Remote {
    upload: Upload,
    stage: Option<Stage>,
}

impl Remote {
    pub(super) fn new(object: Object) -> Remote {
        Remote {
            upload: Upload::new(object),
            stage: None,
        }
    }

    pub(super) fn object(&self) -> &Object {
        self.upload.object()
    }

    /// Appends `a` then `b` (to the stage while there is one).
    pub(super) fn write_pair(&mut self, a: &[u8], b: &[u8]) -> io::Result<()> {
        match &mut self.stage {
            Some(s) => s.write(a).and_then(|_| s.write(b)),
            None => self.upload.write(a).and_then(|_| self.upload.write(b)),
        }
    }

    /// Overwrites bytes at `offset`: only staged bytes can be.
    pub(super) fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        match &mut self.stage {
            Some(s) if offset >= s.start => s.write_at(data, offset - s.start),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "bytes already sent to object storage cannot be overwritten",
            )),
        }
    }

    /// Drops everything after `pos`: staged bytes, or bytes of the upload
    /// not sent yet (an error, failing the upload, if they were sent).
    pub(super) fn truncate(&mut self, pos: u64) -> io::Result<()> {
        if let Some(s) = &mut self.stage {
            if pos > s.start {
                return s.truncate(pos - s.start);
            }
            // The whole streamed member goes.
            self.stage = None;
        }
        self.upload.truncate(pos)
    }

    /// Stages the bytes written from `pos` on (a streamed member).
    pub(super) fn begin_stage(&mut self, pos: u64) {
        self.stage = Some(Stage {
            start: pos,
            mem: Vec::new(),
            file: None,
            len: 0,
        });
    }

    /// Uploads the staged bytes.
    pub(super) fn end_stage(&mut self) -> io::Result<()> {
        match self.stage.take() {
            Some(s) => s.send(&mut self.upload),
            None => Ok(()),
        }
    }

    /// Waits for the parts sent so far.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        self.upload.wait_sent()
    }

    /// Completes the upload (the object appears).
    pub(super) fn finish(&mut self) -> io::Result<()> {
        self.end_stage()?;
        self.upload.finish()
    }
}
