//! The object-store source (feature `object-store`): opening an archive
//! with one ranged request for its tail, and fetching members' windows (whole
//! ranges, header prefixes, coalesced batches, chunks) for the one set of
//! parsers. See the [reader's docs](super#archives-in-object-storage).

use super::source::{Need, Source, Window};
use super::{NpzReader, ReaderOptions, zip_err};
use crate::error::{Error, Location, Result};
use crate::header::read_prefix;
use crate::npz::cache::{Copy, CopyKey, CopyKind};
use crate::remote::{Object, Requests};
use crate::zip::committed::{self, ReadAt};
use crate::zip::inflate::{CheckedInflate, Dest};
use crate::zip::{EOCD_LEN, LOCAL_HEADER_LEN, METHOD_STORED};
use std::borrow::Cow;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Bytes of the object's tail fetched at open (with its size, in one
/// request): the end records, and in the common case the whole central
/// directory.
pub const TAIL_GUESS: u64 = 1 << 20;
/// Largest request while reading a member in pieces (verification), and
/// the largest batch of members fetched together.
pub const CHUNK: u64 = 8 << 20;
/// Ranges closer than this are fetched by one request.
pub const COALESCE: u64 = 1 << 20;
/// Bytes of NPY header fetched with a member's local header.
const HEADER_GUESS: u64 = 4096;
/// Bytes of local extra field expected (ZIP64 sizes, alignment padding).
const EXTRA_GUESS: u64 = 1024;
/// Most members fetched in one batch.
pub(super) const BATCH_MEMBERS: usize = 1024;

/// An archive in object storage: the object and the tail fetched at open
/// (`tail` holds its bytes from `tail_base` to its size at open).
pub(super) struct Remote {
    pub object: Object,
    tail: bytes::Bytes,
    tail_base: u64,
}

impl Remote {
    /// The tail's bytes at absolute `start..end`, if it holds them.
    pub(super) fn resident(&self, start: u64, end: u64) -> Option<&[u8]> {
        let s = usize::try_from(start.checked_sub(self.tail_base)?).ok()?;
        let e = usize::try_from(end.checked_sub(self.tail_base)?).ok()?;
        self.tail.get(s..e)
    }

    /// A window over bytes `start..end` of the object (one request; not
    /// cached).
    pub(super) fn fetch_window(&self, start: u64, end: u64) -> Result<Window<'static>> {
        Ok(Remote::window(self.fetch(start, end)?, start))
    }

    /// Bytes `start..end` of the object, exactly, in one request.
    fn fetch(&self, start: u64, end: u64) -> Result<bytes::Bytes> {
        let b = self.object.get_range(start..end)?;
        self.exact(b, start, end)
    }

    /// `b` if it holds `end - start` bytes; else the object changed.
    pub(super) fn exact(&self, b: bytes::Bytes, start: u64, end: u64) -> Result<bytes::Bytes> {
        if b.len() as u64 == end - start {
            return Ok(b);
        }
        Err(Error::io(
            "GET",
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "range {start}..{end} returned {} bytes (the object changed since it was opened?)",
                    b.len()
                ),
            ),
            Location {
                path: Some(PathBuf::from(self.object.url())),
                member: None,
                offset: Some(start),
            },
        ))
    }

    /// A window over fetched bytes starting at `base`.
    pub(super) fn window(b: bytes::Bytes, base: u64) -> Window<'static> {
        Window::Fetched {
            owner: Arc::new(b),
            base,
        }
    }
}

/// Positioned reads for [`committed::locate`]: from the tail fetched at
/// open, else one request per read.
#[derive(Debug)]
struct TailReader<'a> {
    object: &'a Object,
    tail: &'a bytes::Bytes,
    tail_base: u64,
    size: u64,
}

impl ReadAt for TailReader<'_> {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, off: u64, n: usize) -> Result<Cow<'_, [u8]>> {
        let end = off.saturating_add(n as u64).min(self.size);
        if off >= end {
            return Ok(Cow::Borrowed(&[]));
        }
        if let Some(s) = off.checked_sub(self.tail_base) {
            let e = end - self.tail_base;
            let b = usize::try_from(s)
                .ok()
                .zip(usize::try_from(e).ok())
                .and_then(|(s, e)| self.tail.get(s..e))
                .unwrap_or_default();
            return Ok(Cow::Borrowed(b));
        }
        Ok(Cow::Owned(self.object.get_range(off..end)?.to_vec()))
    }
}

/// A copy of `e` for each member of a batch whose request failed.
pub(super) fn again(e: &Error) -> Error {
    let at = e.location().clone();
    match e {
        Error::Io { op, source, .. } => Error::Io {
            op,
            source: io::Error::new(source.kind(), source.to_string()),
            at,
        },
        other => Error::Io {
            op: "GET",
            source: io::Error::other(other.to_string()),
            at,
        },
    }
}

impl NpzReader {
    /// Opens and indexes the `.npz` object at `url` (`s3://bucket/key`,
    /// `gs://`, `az://`, `https://`, `file://`, ...: see
    /// [`remote::is_url`](crate::remote::is_url)), with credentials from the
    /// environment (see [`remote`](crate::remote)) and default options.
    /// One ranged request in the common case (see the [module
    /// docs](crate::npz::reader#archives-in-object-storage)).
    pub fn open_url(url: &str) -> Result<NpzReader> {
        NpzReader::open_url_with(url, ReaderOptions::default())
    }

    /// As [`NpzReader::open_url`], with options.
    pub fn open_url_with(url: &str, opts: ReaderOptions) -> Result<NpzReader> {
        NpzReader::open_object(Object::from_url(url)?, opts)
    }

    /// Opens and indexes the archive `object`: one request for its last
    /// 1 MiB (and its size), one more only when the central directory
    /// starts before that. [`NpzReader::path`] is the
    /// object's URL; errors name it. The same checks and errors as
    /// [`NpzReader::open`] on the same bytes.
    pub fn open_object(object: Object, opts: ReaderOptions) -> Result<NpzReader> {
        let path = PathBuf::from(object.url());
        let (tail, size) = object.get_tail(TAIL_GUESS)?;
        let tail_base = size
            .checked_sub(tail.len() as u64)
            .ok_or_else(|| zip_err("object shorter than its tail", size).at_path(&path))?;
        if size < EOCD_LEN as u64 {
            return Err(Error::NotAZip {
                at: Location::path(&path),
            });
        }
        let reads = TailReader {
            object: &object,
            tail: &tail,
            tail_base,
            size,
        };
        let located =
            committed::locate(committed::Source::At(&reads)).map_err(|e| e.at_path(&path))?;
        let end = located.end;
        let (cd_start, cd_end) = (end.cd_start(), end.cd_end());
        let remote = Remote {
            object,
            tail,
            tail_base,
        };
        // The directory: in the tail, or its missing start fetched.
        let dir: (bytes::Bytes, u64) = if cd_start >= tail_base {
            (remote.tail.clone(), tail_base)
        } else if cd_end <= tail_base {
            (remote.fetch(cd_start, cd_end)?, cd_start)
        } else {
            let head = remote.fetch(cd_start, tail_base)?;
            let rest = remote
                .resident(tail_base, cd_end)
                .ok_or_else(|| zip_err("central directory outside the object", cd_end))?;
            let mut v = Vec::new();
            v.try_reserve_exact(head.len().saturating_add(rest.len()))
                .map_err(|_| zip_err("central directory too large for memory", cd_start))?;
            v.extend_from_slice(&head);
            v.extend_from_slice(rest);
            (bytes::Bytes::from(v), cd_start)
        };
        let src = Arc::new(Source::Remote(remote));
        let mut reader = Self::index(&path, src, opts, end, (&dir.0[..], dir.1))
            .map_err(|e| e.at_path(&path))?;
        drop(dir);
        if reader.opts.preload {
            reader.preload()?;
        }
        Ok(reader)
    }

    /// Requests sent so far for an archive in object storage (`None` for a
    /// local one), counting those of every clone of its
    /// [`Object`].
    pub fn requests(&self) -> Option<Requests> {
        match &*self.src {
            Source::Remote(r) => Some(r.object.requests()),
            _ => None,
        }
    }

    /// Member `i`'s window from object storage: its whole range (cached), or
    /// at least its headers.
    pub(super) fn remote_window(&self, r: &Remote, i: usize, need: Need) -> Result<Window<'_>> {
        let e = self.entry(i)?;
        let (lo, hi) = (e.local_offset, e.next_offset);
        let key = CopyKey {
            member: i as u32,
            kind: CopyKind::Fetched,
        };
        if let Some(c) = self.copies.get(key) {
            return Ok(Window::Fetched {
                owner: c.buf,
                base: lo,
            });
        }
        match need {
            Need::Whole => {
                let w = Remote::window(r.fetch(lo, hi)?, lo);
                self.keep(i, &w);
                Ok(w)
            }
            Need::Header => {
                let (lo, hi) = self.prefix_range(i)?;
                let w = Remote::window(r.fetch(lo, hi)?, lo);
                self.complete_headers(r, i, w)
            }
        }
    }

    /// Puts member `i`'s whole fetched window into the cache.
    pub(super) fn keep(&self, i: usize, w: &Window<'_>) {
        if let Window::Fetched { owner, .. } = w {
            let key = CopyKey {
                member: i as u32,
                kind: CopyKind::Fetched,
            };
            let len = (**owner).as_ref().len();
            self.copies.insert(
                key,
                Copy {
                    buf: owner.clone(),
                    start: 0,
                    len,
                },
            );
        }
    }

    /// The first guess of where member `i`'s headers lie: local header,
    /// name, extra field and [`HEADER_GUESS`] bytes, within the member.
    pub(super) fn prefix_range(&self, i: usize) -> Result<(u64, u64)> {
        let e = self.entry(i)?;
        let want = (LOCAL_HEADER_LEN as u64)
            .saturating_add(u64::from(e.raw_name_len))
            .saturating_add(EXTRA_GUESS + HEADER_GUESS);
        Ok((
            e.local_offset,
            e.next_offset.min(e.local_offset.saturating_add(want)),
        ))
    }

    /// `w` (a prefix of member `i`), or a longer prefix when the local
    /// header says its extra field, or a stored member's NPY header says its
    /// length, reaches past `w` (at most two more requests).
    pub(super) fn complete_headers<'s>(
        &'s self,
        r: &Remote,
        i: usize,
        w: Window<'s>,
    ) -> Result<Window<'s>> {
        let e = self.entry(i)?;
        let mut w = w;
        for _ in 0..2 {
            let b = w.bytes();
            let field = |at: usize| {
                b.get(at..at + 2)
                    .and_then(|x| <[u8; 2]>::try_from(x).ok())
                    .map_or(0, |x| u64::from(u16::from_le_bytes(x)))
            };
            let data = w
                .base()
                .saturating_add(LOCAL_HEADER_LEN as u64)
                .saturating_add(field(26))
                .saturating_add(field(28));
            let need = if w.end() < data.saturating_add(16) {
                data.saturating_add(HEADER_GUESS)
            } else if e.method == METHOD_STORED {
                let npy = w.slice(data, w.end()).unwrap_or_default();
                match read_prefix(npy, self.opts.header_limit) {
                    Ok((_, len)) => data.saturating_add(len),
                    Err(_) => return Ok(w),
                }
            } else {
                return Ok(w);
            };
            let need = need.min(e.next_offset);
            if need <= w.end() {
                return Ok(w);
            }
            w = Remote::window(r.fetch(w.base(), need)?, w.base());
        }
        Ok(w)
    }

    /// Where to parse member `i`'s headers when a prefix did not do: the
    /// whole member, or for a big one its first [`CHUNK`] bytes and the
    /// header limit.
    pub(super) fn remote_fallback(&self, r: &Remote, i: usize) -> Result<Window<'_>> {
        let e = self.entry(i)?;
        let span = e.next_offset.saturating_sub(e.local_offset);
        let cap = CHUNK.saturating_add(2 * self.opts.header_limit as u64);
        if span <= cap {
            return self.remote_window(r, i, Need::Whole);
        }
        r.fetch_window(e.local_offset, e.local_offset.saturating_add(cap))
    }

    /// Checks the CRC-32 of a remote member read in requests of at most
    /// [`CHUNK`] bytes (bounded memory), with the same checks and errors as
    /// for bytes in memory.
    pub(super) fn check_crc_chunked(
        &self,
        r: &Remote,
        i: usize,
        loc: &super::member::Located,
    ) -> Result<()> {
        let e = self.entry(i)?;
        let chunks = (loc.start..loc.end)
            .step_by(usize::try_from(CHUNK).unwrap_or(usize::MAX))
            .map(|a| (a, a.saturating_add(CHUNK).min(loc.end)));
        if e.method == METHOD_STORED {
            let mut h = crc32fast::Hasher::new();
            for (a, b) in chunks {
                h.update(&r.fetch(a, b)?);
            }
            let actual = h.finalize();
            if actual != e.crc32 {
                return Err(Error::CrcMismatch {
                    expected: e.crc32,
                    actual,
                    at: Location::offset(loc.start),
                });
            }
            return Ok(());
        }
        self.ratio_check(i, loc.start)?;
        let len = e.uncompressed;
        let mut c = CheckedInflate::new(Dest::Discard { len }, e.crc32, loc.start);
        for (a, b) in chunks {
            c.feed(&r.fetch(a, b)?)?;
            if c.ended() {
                break;
            }
        }
        c.finish()
    }
}
