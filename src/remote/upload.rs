//! Writing one object: [`Upload`], an append-only byte stream sent as a
//! multipart upload in fixed parts of [`PART_SIZE`] bytes, at most
//! [`MAX_IN_FLIGHT`] parts at once (bounded memory), committed by
//! [`Upload::finish`] and aborted when dropped unfinished.

use super::{Object, block_on, kind_of, runtime};
use bytes::Bytes;
use object_store::{MultipartUpload, ObjectStoreExt, PutPayload};
use std::collections::VecDeque;
use std::io;
use tokio::task::JoinHandle;

/// Size of every part but the last: S3 needs at least 5 MiB, and some
/// stores (R2) need all parts but the last to be the same size.
pub(crate) const PART_SIZE: usize = 8 << 20;

/// Parts uploading at once; memory is bounded by `(MAX_IN_FLIGHT + 1) *
/// PART_SIZE`.
pub(crate) const MAX_IN_FLIGHT: usize = 4;

/// An object being written from start to end. Nothing is visible at the
/// object's key before [`Upload::finish`] succeeds; dropping an unfinished
/// upload (or one that failed) aborts it. After the first error every call
/// fails.
pub(crate) struct Upload {
    object: Object,
    /// The multipart upload, created when the first part is full (an
    /// object smaller than one part is sent by one `PUT` at finish).
    multipart: Option<Box<dyn MultipartUpload>>,
    /// The part being filled.
    part: Vec<u8>,
    /// Bytes handed to part requests so far.
    sent: u64,
    in_flight: VecDeque<JoinHandle<object_store::Result<()>>>,
    /// The first error (kind and message), repeated by every later call.
    failed: Option<(io::ErrorKind, String)>,
    done: bool,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("object", &self.object)
            .field("sent", &self.sent)
            .field("buffered", &self.part.len())
            .field("in_flight", &self.in_flight.len())
            .field("failed", &self.failed)
            .finish()
    }
}

fn runtime_error(e: crate::error::Error) -> io::Error {
    io::Error::other(e.to_string())
}

impl Upload {
    /// Starts writing `object` (no request is sent yet).
    pub(crate) fn new(object: Object) -> Upload {
        Upload {
            object,
            multipart: None,
            part: Vec::new(),
            sent: 0,
            in_flight: VecDeque::new(),
            failed: None,
            done: false,
        }
    }

    /// The object written.
    pub(crate) fn object(&self) -> &Object {
        &self.object
    }

    fn check(&self) -> io::Result<()> {
        match (&self.failed, self.done) {
            (Some((kind, msg)), _) => Err(io::Error::new(
                *kind,
                format!("the upload failed earlier and was aborted: {msg}"),
            )),
            (None, true) => Err(io::Error::other("the upload is already complete")),
            (None, false) => Ok(()),
        }
    }

    /// Records the first failure (the upload is then aborted on drop).
    fn fail(&mut self, e: io::Error) -> io::Error {
        if self.failed.is_none() {
            self.failed = Some((e.kind(), e.to_string()));
        }
        e
    }

    fn store_error(&mut self, e: object_store::Error) -> io::Error {
        let e = io::Error::new(kind_of(&e), e);
        self.fail(e)
    }

    /// Appends `data` to the object; full parts are sent.
    pub(crate) fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.check()?;
        while !data.is_empty() {
            if self.part.capacity() == 0 {
                self.part.reserve_exact(PART_SIZE);
            }
            let room = PART_SIZE.saturating_sub(self.part.len());
            let (now, rest) = data.split_at(room.min(data.len()));
            self.part.extend_from_slice(now);
            data = rest;
            if self.part.len() >= PART_SIZE {
                self.send_part()?;
            }
        }
        Ok(())
    }

    /// Sends the buffered part (starting the multipart upload first if
    /// needed), after waiting for room among the parts in flight.
    fn send_part(&mut self) -> io::Result<()> {
        if self.multipart.is_none() {
            let (store, path) = (self.object.store.clone(), self.object.path.clone());
            let r = block_on(async move { store.put_multipart(&path).await })
                .map_err(runtime_error)
                .map_err(|e| self.fail(e))?;
            self.object.count_put(0);
            self.multipart = Some(r.map_err(|e| self.store_error(e))?);
        }
        self.reap()?;
        while self.in_flight.len() >= MAX_IN_FLIGHT {
            self.wait_one()?;
        }
        let rt = runtime().map_err(runtime_error)?;
        let part = Bytes::from(std::mem::take(&mut self.part));
        let len = part.len() as u64;
        let Some(mp) = self.multipart.as_mut() else {
            return Err(self.fail(io::Error::other("internal: no multipart upload")));
        };
        let fut = {
            // Stores may spawn blocking work when the request is made.
            let _in_rt = rt.enter();
            mp.put_part(PutPayload::from(part))
        };
        self.in_flight.push_back(rt.spawn(fut));
        self.object.count_put(len);
        self.sent += len;
        Ok(())
    }

    /// Collects the parts that are done, so a failed one is seen early.
    fn reap(&mut self) -> io::Result<()> {
        let mut i = 0;
        while let Some(h) = self.in_flight.get(i) {
            if h.is_finished() {
                if let Some(h) = self.in_flight.remove(i) {
                    self.wait(h)?;
                }
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Waits for the oldest part in flight.
    fn wait_one(&mut self) -> io::Result<()> {
        match self.in_flight.pop_front() {
            Some(h) => self.wait(h),
            None => Ok(()),
        }
    }

    /// Waits for the part request `h`.
    fn wait(&mut self, h: JoinHandle<object_store::Result<()>>) -> io::Result<()> {
        match block_on(h) {
            Err(e) => Err(self.fail(runtime_error(e))),
            Ok(Err(join)) => Err(self.fail(io::Error::other(join))),
            Ok(Ok(Err(e))) => Err(self.store_error(e)),
            Ok(Ok(Ok(()))) => Ok(()),
        }
    }

    /// Waits until every part sent so far is uploaded (the part being
    /// filled stays in memory: parts but the last must be full).
    pub(crate) fn wait_sent(&mut self) -> io::Result<()> {
        self.check()?;
        while !self.in_flight.is_empty() {
            self.wait_one()?;
        }
        Ok(())
    }

    /// Drops the bytes after `pos` if they have not been sent yet; bytes
    /// already sent cannot be taken back (an error, and the upload fails).
    pub(crate) fn truncate(&mut self, pos: u64) -> io::Result<()> {
        self.check()?;
        let keep = pos
            .checked_sub(self.sent)
            .and_then(|k| usize::try_from(k).ok())
            .filter(|&k| k <= self.part.len());
        match keep {
            Some(k) => {
                self.part.truncate(k);
                Ok(())
            }
            None => Err(self.fail(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "cannot roll back to offset {pos}: {} bytes are already uploaded",
                    self.sent
                ),
            ))),
        }
    }

    /// Sends the rest and completes the upload: the object appears at its
    /// key now, replacing any object there. On error the upload is aborted
    /// when dropped.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.check()?;
        if self.multipart.is_none() {
            // Smaller than one part: one PUT.
            let (store, path) = (self.object.store.clone(), self.object.path.clone());
            let data = Bytes::from(std::mem::take(&mut self.part));
            let len = data.len() as u64;
            let r = block_on(async move { store.put(&path, PutPayload::from(data)).await })
                .map_err(runtime_error)
                .map_err(|e| self.fail(e))?;
            self.object.count_put(len);
            r.map_err(|e| self.store_error(e))?;
            self.done = true;
            return Ok(());
        }
        if !self.part.is_empty() {
            self.send_part()?;
        }
        self.wait_sent()?;
        let Some(mut mp) = self.multipart.take() else {
            return Err(self.fail(io::Error::other("internal: no multipart upload")));
        };
        let r = block_on(async move {
            let r = mp.complete().await;
            (mp, r)
        })
        .map_err(runtime_error)
        .map_err(|e| self.fail(e))?;
        self.object.count_put(0);
        let (mp, r) = r;
        if let Err(e) = r {
            self.multipart = Some(mp);
            return Err(self.store_error(e));
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for Upload {
    /// Aborts an unfinished upload: parts in flight are cancelled and the
    /// store is asked to discard the uploaded parts (one request, counted).
    fn drop(&mut self) {
        let handles: Vec<_> = self.in_flight.drain(..).collect();
        for h in &handles {
            h.abort();
        }
        for h in handles {
            // Cancelled (or finished): either way no longer running.
            let _ = block_on(h);
        }
        if let Some(mut mp) = self.multipart.take()
            && !self.done
        {
            let _ = block_on(async move { mp.abort().await });
            self.object.count_put(0);
        }
    }
}
