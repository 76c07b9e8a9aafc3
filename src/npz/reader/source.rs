//! Where the reader's bytes come from ([`Source`]: a file mapping, memory,
//! or an object in object storage) and the [`Window`]s the one set of
//! parsers reads them through: bytes at absolute archive offsets
//! `base..base + len`.
//!
//! A local source is one window over the whole archive (`base` 0, views
//! borrow from it). A remote source fetches a window per member (its whole
//! range `[local header, next member)`, or a prefix holding its headers) and
//! keeps whole ones in the reader's bounded cache.

use super::{NpzReader, zip_err};
use crate::error::{Error, Result};
use crate::fs::map::ReadMap;
use crate::view::Bytes;
use std::borrow::Cow;
use std::ops::Deref;
use std::sync::Arc;

/// The archive's bytes.
pub(super) enum Source {
    /// A file mapping ([`NpzReader::open`]).
    Map(ReadMap),
    /// Memory handed to [`NpzReader::from_bytes`].
    Mem(Box<dyn AsRef<[u8]> + Send + Sync>),
    /// An object in object storage ([`NpzReader::open_object`]).
    #[cfg(feature = "object-store")]
    Remote(super::remote::Remote),
}

impl Source {
    /// The bytes `start..end` if they are in memory without a request (a
    /// local archive's, or the tail a remote one fetched at open).
    pub(super) fn resident(&self, start: u64, end: u64) -> Option<&[u8]> {
        match self {
            #[cfg(feature = "object-store")]
            Source::Remote(r) => r.resident(start, end),
            _ => {
                let s = usize::try_from(start).ok()?;
                let e = usize::try_from(end).ok()?;
                self.get(s..e)
            }
        }
    }
}

impl Deref for Source {
    type Target = [u8];
    /// The bytes at absolute offsets: the whole archive for a local source,
    /// none for a remote one (its bytes come through [`Window`]s).
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Source::Map(m) => m,
            Source::Mem(b) => (**b).as_ref(),
            #[cfg(feature = "object-store")]
            Source::Remote(_) => &[],
        }
    }
}

impl AsRef<[u8]> for Source {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// What a remote window must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// The member's whole range.
    Whole,
    /// At least its local header and NPY header (if they fit).
    Header,
}

/// Bytes of the archive at absolute offsets `base()..end()`.
#[derive(Clone)]
pub(super) enum Window<'a> {
    /// The whole local archive (`base` 0).
    Local(&'a Arc<Source>),
    /// Bytes fetched from the remote object, starting at offset `base`.
    #[cfg_attr(not(feature = "object-store"), allow(dead_code))]
    Fetched {
        owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
        base: u64,
    },
}

impl<'a> Window<'a> {
    /// Absolute offset of the first byte.
    pub(super) fn base(&self) -> u64 {
        match self {
            Window::Local(_) => 0,
            Window::Fetched { base, .. } => *base,
        }
    }

    /// The bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Window::Local(s) => s,
            Window::Fetched { owner, .. } => (**owner).as_ref(),
        }
    }

    /// Absolute offset just past the last byte.
    pub(super) fn end(&self) -> u64 {
        self.base().saturating_add(self.bytes().len() as u64)
    }

    /// True if the window starts at `start` or before and reaches `end`.
    #[cfg_attr(not(feature = "object-store"), allow(dead_code))]
    pub(super) fn covers(&self, start: u64, end: u64) -> bool {
        self.base() <= start && end <= self.end()
    }

    /// Relative `start..end` of absolute offsets, if inside the window.
    fn rel(&self, start: u64, end: u64) -> Option<(usize, usize)> {
        let s = usize::try_from(start.checked_sub(self.base())?).ok()?;
        let e = usize::try_from(end.checked_sub(self.base())?).ok()?;
        (s <= e && e <= self.bytes().len()).then_some((s, e))
    }

    /// The bytes at absolute `start..end`, or a zip error at `start`.
    pub(super) fn slice(&self, start: u64, end: u64) -> Result<&[u8]> {
        self.rel(start, end)
            .and_then(|(s, e)| self.bytes().get(s..e))
            .ok_or_else(|| zip_err("range outside the file", start))
    }

    /// The bytes from the window's start up to absolute `end`, clipped to a
    /// partial (prefix) window; `None` if `end` lies before the window or
    /// past a local archive.
    pub(super) fn upto(&self, end: u64) -> Option<&[u8]> {
        let rel = usize::try_from(end.checked_sub(self.base())?).ok()?;
        match self {
            Window::Local(_) => self.bytes().get(..rel),
            Window::Fetched { .. } => self.bytes().get(..rel.min(self.bytes().len())),
        }
    }

    /// As [`Window::slice`], borrowed from the reader for a local archive,
    /// copied from a fetched window.
    pub(super) fn cow(&self, start: u64, end: u64) -> Result<Cow<'a, [u8]>> {
        match self {
            Window::Local(s) => local_range(s, start, end).map(Cow::Borrowed),
            Window::Fetched { .. } => Ok(Cow::Owned(self.slice(start, end)?.to_vec())),
        }
    }

    /// The view bytes of absolute `start..start + len`: borrowed from a
    /// local archive, shared with a fetched window.
    pub(super) fn view_bytes(&self, start: u64, len: u64) -> Result<Bytes<'a>> {
        let end = start.saturating_add(len);
        match self {
            Window::Local(s) => local_range(s, start, end).map(Bytes::borrowed),
            Window::Fetched { .. } => self.owned_bytes(start, len),
        }
    }

    /// The bytes of absolute `start..start + len`, sharing their owner (the
    /// map, the memory, or the fetched buffer) so they outlive the reader.
    pub(super) fn owned_bytes(&self, start: u64, len: u64) -> Result<Bytes<'static>> {
        let (s, e) = self
            .rel(start, start.saturating_add(len))
            .ok_or_else(|| zip_err("range outside the file", start))?;
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = match self {
            Window::Local(s) => Arc::<Source>::clone(s),
            Window::Fetched { owner, .. } => owner.clone(),
        };
        Ok(Bytes::shared(owner, s, e - s))
    }

    /// True if absolute offset `at` of a fetched window lies at an address
    /// aligned to `align` (a local archive's alignment is decided once, at
    /// first access).
    pub(super) fn fetched_aligned(&self, at: u64, align: usize) -> bool {
        match self {
            Window::Local(_) => false,
            Window::Fetched { .. } => self.rel(at, at).is_some_and(|(s, _)| {
                (self.bytes().as_ptr() as usize)
                    .wrapping_add(s)
                    .is_multiple_of(align)
            }),
        }
    }
}

/// `e` with its offset (if it has one) moved from a window starting at
/// `base` to the archive.
pub(super) fn rebase(e: Error, base: u64) -> Error {
    if base == 0 || e.location().offset.is_none() {
        e
    } else {
        e.shift_offset(base)
    }
}

impl NpzReader {
    /// A window holding member `i`'s bytes as `need` says: the whole local
    /// archive, or (remote) a cached or freshly fetched window.
    pub(super) fn window(&self, i: usize, need: Need) -> Result<Window<'_>> {
        match &*self.src {
            #[cfg(feature = "object-store")]
            Source::Remote(r) => self.remote_window(r, i, need),
            _ => {
                let _ = (i, need);
                Ok(Window::Local(&self.src))
            }
        }
    }

    /// A window over the archive's bytes `start..end`: the local archive,
    /// or (remote) one request, not cached.
    pub(super) fn range_window(&self, start: u64, end: u64) -> Result<Window<'_>> {
        match &*self.src {
            #[cfg(feature = "object-store")]
            Source::Remote(r) => r.fetch_window(start, end),
            _ => {
                let _ = (start, end);
                Ok(Window::Local(&self.src))
            }
        }
    }

    /// Where to parse member `i`'s headers when a prefix window did not
    /// do (remote): the whole member, or for a big one a long prefix.
    pub(super) fn fallback_window(&self, i: usize) -> Result<Window<'_>> {
        match &*self.src {
            #[cfg(feature = "object-store")]
            Source::Remote(r) => self.remote_fallback(r, i),
            _ => {
                let _ = i;
                Ok(Window::Local(&self.src))
            }
        }
    }

    /// The whole local archive as a window (`None` for a remote source).
    pub(super) fn local(&self) -> Option<Window<'_>> {
        match &*self.src {
            #[cfg(feature = "object-store")]
            Source::Remote(_) => None,
            _ => Some(Window::Local(&self.src)),
        }
    }
}

/// Bytes `start..end` of a local archive, or a zip error at `start`.
fn local_range(src: &Arc<Source>, start: u64, end: u64) -> Result<&[u8]> {
    let s: &[u8] = src;
    usize::try_from(start)
        .ok()
        .zip(usize::try_from(end).ok())
        .and_then(|(a, b)| s.get(a..b))
        .ok_or_else(|| zip_err("range outside the file", start))
}
