//! Batches of remote members fetched together: neighbours grouped by
//! offset into requests of bounded size (verify, preload, header prefetch),
//! and the uncached members of a [`NpzReader::get_many`], all with
//! coalesced concurrent requests.

use super::NpzReader;
use super::remote::{BATCH_MEMBERS, CHUNK, COALESCE, Remote};
use super::source::{Source, Window};
use crate::error::Result;
use crate::npz::cache::{CopyKey, CopyKind};
use crate::zip::METHOD_STORED;

impl NpzReader {
    /// The members `idx` in batches of neighbours (by offset) fetched
    /// together: at most [`BATCH_MEMBERS`] members and about [`CHUNK`]
    /// bytes each. Pairs are `(position in idx, member)`.
    pub(super) fn batches(&self, idx: &[usize], headers: bool) -> Vec<Vec<(usize, usize)>> {
        let mut order: Vec<(u64, usize, usize)> = idx
            .iter()
            .enumerate()
            .filter_map(|(k, &i)| Some((self.entries.get(i)?.local_offset, k, i)))
            .collect();
        order.sort_unstable();
        let mut out: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut bytes = 0u64;
        for (_, k, i) in order {
            let span = self.fetch_span(i, headers);
            let full = out
                .last()
                .is_none_or(|b| b.len() >= BATCH_MEMBERS || bytes.saturating_add(span) > CHUNK);
            if full {
                out.push(Vec::new());
                bytes = 0;
            }
            bytes = bytes.saturating_add(span);
            if let Some(b) = out.last_mut() {
                b.push((k, i));
            }
        }
        out
    }

    /// The range fetched for member `i` in a batch: its headers (`headers`,
    /// or a member bigger than [`CHUNK`]) or all of it.
    fn batch_range(&self, i: usize, headers: bool) -> Result<(u64, u64)> {
        let e = self.entry(i)?;
        let whole = (e.local_offset, e.next_offset);
        if headers || whole.1 - whole.0 > CHUNK {
            return self.prefix_range(i);
        }
        Ok(whole)
    }

    fn fetch_span(&self, i: usize, headers: bool) -> u64 {
        self.batch_range(i, headers).map_or(0, |(a, b)| b - a)
    }

    /// One batch's windows, fetched with coalesced concurrent requests; a
    /// member fetched whole goes into the cache unless `headers`.
    pub(super) fn batch_windows(
        &self,
        r: &Remote,
        batch: &[(usize, usize)],
        headers: bool,
    ) -> Result<Vec<Window<'_>>> {
        let ranges = batch
            .iter()
            .map(|&(_, i)| self.batch_range(i, headers).map(|(a, b)| a..b))
            .collect::<Result<Vec<_>>>()?;
        let got = r.object.get_ranges(&ranges, COALESCE)?;
        let mut out = Vec::with_capacity(batch.len());
        for ((&(_, i), range), b) in batch.iter().zip(&ranges).zip(got) {
            let b = r.exact(b, range.start, range.end)?;
            let w = Remote::window(b, range.start);
            let e = self.entry(i)?;
            if w.end() < e.next_offset {
                out.push(self.complete_headers(r, i, w)?);
            } else {
                out.push(w);
            }
        }
        Ok(out)
    }

    /// The windows of whole members `idx` for a batch read
    /// ([`NpzReader::get_many`]): `None` where the member needs no request
    /// (local archive, or cached), else fetched with coalesced requests and
    /// cached.
    pub(super) fn whole_windows(&self, idx: &[usize]) -> Result<Vec<Option<Window<'_>>>> {
        let mut out: Vec<Option<Window<'_>>> = vec![None; idx.len()];
        let Source::Remote(r) = &*self.src else {
            return Ok(out);
        };
        let mut want: Vec<(u64, usize)> = Vec::new();
        for &i in idx {
            let key = CopyKey {
                member: i as u32,
                kind: CopyKind::Fetched,
            };
            let e = self.entry(i)?;
            // A deflated member's inflated copy serves every view.
            let copied = e.method != METHOD_STORED
                && self.parsed(i).is_some()
                && self.cached_copy(i, false).is_some();
            if !copied && self.copies.get(key).is_none() {
                want.push((e.local_offset, i));
            }
        }
        want.sort_unstable();
        want.dedup();
        if want.is_empty() {
            return Ok(out);
        }
        let ranges = want
            .iter()
            .map(|&(_, i)| self.entry(i).map(|e| e.local_offset..e.next_offset))
            .collect::<Result<Vec<_>>>()?;
        let got = r.object.get_ranges(&ranges, COALESCE)?;
        let mut fetched: Vec<(usize, Window<'_>)> = Vec::with_capacity(want.len());
        for ((&(_, i), range), b) in want.iter().zip(&ranges).zip(got) {
            let w = Remote::window(r.exact(b, range.start, range.end)?, range.start);
            self.keep(i, &w);
            fetched.push((i, w));
        }
        fetched.sort_unstable_by_key(|(i, _)| *i);
        for (slot, &i) in out.iter_mut().zip(idx) {
            if let Ok(k) = fetched.binary_search_by_key(&i, |(j, _)| *j)
                && let Some((_, w)) = fetched.get(k)
            {
                *slot = Some(w.clone());
            }
        }
        Ok(out)
    }
}
