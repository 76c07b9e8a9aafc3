//! The slow paths of the views: first access, copies, and windows passed
//! in by batch reads (`NpzReader::get_many`); `NpzReader::view_at` is
//! the hot path in front of them.

use super::NpzReader;
use super::copy::shared;
use super::member::{Got, Parsed};
use super::source::{Need, Window};
use crate::error::Result;
use crate::view::{ArrayView, At, Bytes, OwnedView, natural_align};
use crate::zip::METHOD_STORED;
use std::borrow::Cow;

impl NpzReader {
    /// The view of member `i` (`native`: aligned and in native order),
    /// reading through `w` when the caller already holds its window.
    pub(super) fn view_in<'s>(
        &'s self,
        i: usize,
        native: bool,
        w: Option<&Window<'s>>,
    ) -> Result<ArrayView<'s>> {
        let stored = self.entry(i)?.method == METHOD_STORED;
        // A copy already made needs no bytes (nor, remote, a request).
        if (!stored || native)
            && let Some(c) = self.cached_copy(i, native)
            && let Some(p) = self.parsed(i)
        {
            return Ok(Got::Cached(p).view(shared(c), native, self.at(p)));
        }
        let fetched;
        let w = match w {
            Some(w) => w,
            None => {
                fetched = self.window(i, Need::Whole).map_err(|e| self.ctx(i, e))?;
                &fetched
            }
        };
        let got = self.member_in(i, w)?;
        let p = got.parsed();
        if stored && (!native || p.zero_copy || self.fetched_native(p, w)) {
            let bytes = w
                .view_bytes(p.cold.data_start, p.cold.data_len)
                .map_err(|e| self.ctx(i, e))?;
            let at = self.at(p);
            return Ok(got.view(bytes, native, at));
        }
        let c = self.copy_of(i, p, native, w)?;
        let at = self.at(p);
        Ok(got.view(shared(c), native, at))
    }

    /// [`NpzReader::get_owned`] of member `i`, through `w` if given.
    pub(super) fn owned_in(&self, i: usize, w: Option<&Window<'_>>) -> Result<OwnedView> {
        let stored = self.entry(i)?.method == METHOD_STORED;
        let owned = |got: &Got<'_>, bytes: Bytes<'static>| {
            let p = got.parsed();
            ArrayView::from_checked_parts_at(
                Cow::Owned(p.cold.header.clone()),
                bytes,
                At::Owned(self.at(p).location()),
            )
        };
        if !stored
            && let Some(c) = self.cached_copy(i, false)
            && let Some(p) = self.parsed(i)
        {
            return Ok(owned(&Got::Cached(p), shared(c)));
        }
        let fetched;
        let w = match w {
            Some(w) => w,
            None => {
                fetched = self.window(i, Need::Whole).map_err(|e| self.ctx(i, e))?;
                &fetched
            }
        };
        let got = self.member_in(i, w)?;
        let p = got.parsed();
        let bytes = if stored {
            w.owned_bytes(p.cold.data_start, p.cold.data_len)
                .map_err(|e| self.ctx(i, e))?
        } else {
            shared(self.copy_of(i, p, false, w)?)
        };
        Ok(owned(&got, bytes))
    }

    /// True if a stored member's data in the fetched window `w` already is
    /// native and aligned (a remote member viewed without a copy).
    fn fetched_native(&self, p: &Parsed, w: &Window<'_>) -> bool {
        p.cold.native.is_none()
            && w.fetched_aligned(p.cold.data_start, natural_align(&p.cold.header.dtype))
    }
}
