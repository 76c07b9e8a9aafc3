//! Archives written straight to object storage (feature `object-store`):
//! [`NpzWriter::create_url`], [`NpzWriter::create_object`].

use super::append::OldArchive;
use super::remote::Remote;
use super::sink::Target;
use super::{Hold, NpzWriter, State, WriterOptions};
use crate::error::{Error, Location, Result};
use crate::remote::{Object, Requests};
use std::path::PathBuf;

impl NpzWriter {
    /// Creates a new archive in object storage at `url` (`s3://bucket/key`,
    /// `gs://`, `az://`, `memory://`, `file://`, ...; credentials and
    /// endpoint from the environment, see [`crate::remote`]):
    /// [`Error::AlreadyExists`] if the object exists. The same as
    /// `WriterOptions::new().create_url(url)`; see
    /// [`NpzWriter::create_object`] for how it is written.
    ///
    /// Appending to an archive in object storage is not supported (objects
    /// cannot be extended): download it, [`append`](NpzWriter::append) to
    /// the local file, and upload it.
    pub fn create_url(url: &str) -> Result<NpzWriter> {
        WriterOptions::default().create_url(url)
    }

    /// Creates a new archive as `object`, uploaded while it is written.
    ///
    /// The archive is byte for byte the one [`NpzWriter::create_with`]
    /// writes to a file with the same options and calls. Its bytes are sent
    /// as a multipart upload in parts of 8 MiB, at most 4 parts in flight
    /// (memory stays bounded: about 50 MiB with the part being filled, the
    /// first 8 MiB of a streamed member and the write buffer); an
    /// archive smaller than one part is sent by one `PUT` at close. Every
    /// request is counted in [`NpzWriter::requests`].
    ///
    /// * **Atomic**: the object appears only when [`NpzWriter::close`]
    ///   completes the upload, replacing any object at its key. An error,
    ///   or dropping the writer without `close`, aborts the upload: no
    ///   object is created and an existing one is left untouched.
    /// * **Create-new**: unless [`WriterOptions::replace`], an existing
    ///   object is refused with [`Error::AlreadyExists`] by a `HEAD`
    ///   request before anything is sent. The check is not atomic: an
    ///   object created at the key while the archive is written is
    ///   replaced at close.
    /// * **Streamed members** ([`NpzWriter::begin`]) are staged until
    ///   [`EntryWriter::finish`](super::EntryWriter::finish), as their npy
    ///   header (the shape) comes first: in memory up to 8 MiB, beyond that
    ///   in an unlinked temporary file in [`std::env::temp_dir`] (local disk
    ///   as large as the member). A failed or dropped streamed member is
    ///   discarded and the writer stays usable.
    /// * **No rollback of sent bytes**: a member whose write fails after
    ///   some of its bytes were uploaded (a failed request) cannot be taken
    ///   back: the writer is then broken (later calls fail with
    ///   [`Error::Closed`]) and dropping it aborts the upload.
    /// * [`NpzWriter::sync`] waits for the parts sent so far; nothing is
    ///   durable before `close`. [`WriterOptions::fsync`] does not apply.
    pub fn create_object(object: Object, opts: WriterOptions) -> Result<NpzWriter> {
        let path = PathBuf::from(object.url());
        opts.check().map_err(|e| e.at_path(&path))?;
        if !opts.replace && object.exists()? {
            return Err(Error::AlreadyExists {
                at: Location::path(&path),
            });
        }
        let target = Target::Remote(Box::new(Remote::new(object)));
        Ok(NpzWriter::with_target(
            path,
            target,
            opts,
            OldArchive::default(),
            Hold::Done,
        ))
    }

    /// Requests sent so far when writing to object storage (`None` for a
    /// file).
    pub fn requests(&self) -> Option<Requests> {
        match &self.sink.target {
            Target::Remote(r) => Some(r.object().requests()),
            Target::File(_) => None,
        }
    }

    /// [`NpzWriter::close`]'s last step for an upload: completes it.
    pub(super) fn finish_upload(&mut self) -> Result<()> {
        let r = match &mut self.sink.target {
            Target::Remote(r) => r.finish(),
            Target::File(_) => Ok(()),
        };
        r.map_err(|e| {
            self.state = State::Broken;
            Error::io_path("complete the upload", e, &self.path)
        })
    }
}

impl WriterOptions {
    /// Creates a new archive in object storage at `url` with these options
    /// (see [`NpzWriter::create_url`] and [`NpzWriter::create_object`]);
    /// with [`WriterOptions::replace`] an existing object is replaced at
    /// close.
    pub fn create_url(&self, url: &str) -> Result<NpzWriter> {
        let object = Object::from_url(url)?;
        NpzWriter::create_object(object, self.clone())
    }
}
