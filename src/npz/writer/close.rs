//! The end of a writer: [`NpzWriter::sync`], [`NpzWriter::close`] (the
//! central directory, end records, then fsync, rename or upload
//! completion) and the best-effort close on drop.

use super::{Hold, NpzWriter, State, Target};
use crate::error::{Error, Location, Result};
use crate::zip::{CentralFields, write_end_records};
use std::io;

impl NpzWriter {
    /// Flushes buffered bytes and `fsync`s the file: every member written
    /// so far survives a crash (recoverable with
    /// [`recover`](mod@crate::npz::recover)).
    ///
    /// Writing to object storage (`NpzWriter::create_url`), `sync` hands
    /// the buffered bytes to the upload and waits until every full part
    /// sent so far is uploaded, reporting their errors; the unfinished
    /// last part stays in memory. Nothing is durable or visible before
    /// [`NpzWriter::close`]: an upload that is not completed is discarded.
    pub fn sync(&mut self) -> Result<()> {
        self.check_open()?;
        self.sink
            .flush_buf()
            .map_err(|e| Error::io_path("write", e, &self.path))?;
        match &mut self.sink.target {
            Target::File(os) => os
                .file
                .sync_data()
                .map_err(|e| Error::io_path("fsync", e, &self.path)),
            #[cfg(feature = "object-store")]
            Target::Remote(r) => r
                .sync()
                .map_err(|e| Error::io_path("upload", e, &self.path)),
        }
    }

    fn finish_archive(&mut self) -> Result<()> {
        self.check_open()?;
        self.state = State::Closed;
        let cd_start = self.sink.pos();
        let base = self.old.base;
        let r = (|| -> io::Result<u64> {
            let mut cd_size = self.old.cd.len() as u64;
            let old_cd = std::mem::take(&mut self.old.cd);
            self.sink.write(&old_cd)?;
            let mut buf = Vec::with_capacity(256);
            for e in &self.entries {
                buf.clear();
                let name = self
                    .entry_names
                    .get(e.name_start..e.name_start + usize::from(e.name_len));
                // `push_entry` appended the name: it is there.
                debug_assert!(name.is_some(), "entry name outside entry_names");
                let name = name.ok_or_else(|| io::Error::other("internal: lost a member name"))?;
                let mut c = CentralFields::stored(name, e.crc32, e.size, e.offset);
                c.date = self.opts.stamp.date;
                c.time = self.opts.stamp.time;
                c.write(&mut buf);
                cd_size += buf.len() as u64;
                self.sink.write(&buf)?;
            }
            buf.clear();
            write_end_records(
                &mut buf,
                self.old.entries + self.entries.len() as u64,
                cd_start - base,
                cd_size,
                &self.old.comment,
            );
            self.sink.write(&buf)?;
            self.sink.flush_buf()?;
            Ok(cd_size)
        })();
        if let Err(e) = r {
            // Leave the members: recover() rebuilds the directory.
            let _ = self.sink.truncate(cd_start);
            self.state = State::Broken;
            return Err(
                Error::io("write central directory", e, Location::offset(cd_start))
                    .at_path(&self.path),
            );
        }
        #[cfg(feature = "object-store")]
        if self.sink.is_remote() {
            return self.finish_upload();
        }
        self.sink
            .finish_early()
            .map_err(|e| Error::io_path("fsync", e, &self.path))?;
        let file = match self.sink.file() {
            Some(file) => file,
            None => return Err(Error::invalid_argument("internal: no archive file")),
        };
        if let Hold::Replacing { temp, lock } = std::mem::replace(&mut self.hold, Hold::Done) {
            // The new archive is complete: rename it over the old one
            // (fsynced first unless fsync is off). On failure the temporary
            // file is removed and the old archive stays.
            return temp.persist(file, &self.path, lock.old_file(), self.opts.fsync);
        }
        if self.opts.fsync {
            file.sync_all()
                .map_err(|e| Error::io_path("fsync", e, &self.path))?;
        }
        Ok(())
    }

    /// Writes the central directory and end records, flushes, and (unless
    /// turned off) fsyncs. Errors are reported here; dropping the writer
    /// instead closes it silently.
    pub fn close(mut self) -> Result<()> {
        self.finish_archive()
    }
}

impl Drop for NpzWriter {
    fn drop(&mut self) {
        // A replacement is committed by `close` only: dropping it (an error
        // passed up with `?`, a panic) keeps the old file. So is an upload:
        // dropping it aborts it (the sink's drop).
        if self.state == State::Open
            && !matches!(self.hold, Hold::Replacing { .. })
            && !self.sink.is_remote()
        {
            let _ = self.finish_archive();
        }
    }
}
