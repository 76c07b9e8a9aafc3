//! Batch access: [`NpzReader::get_many`], [`NpzReader::get_many_owned`] and
//! [`NpzReader::prefetch_headers`]. On a local archive they are loops over
//! the single-key calls; on an archive in object storage the members not yet
//! cached are fetched together, with coalesced concurrent requests.

use super::NpzReader;
use super::source::Window;
use crate::error::Result;
use crate::view::{ArrayView, OwnedView};

impl NpzReader {
    /// [`NpzReader::get`] of every key in `keys`, in order (a key may
    /// repeat). Fails on the first key that is missing or does not read.
    /// From object storage, the members not cached are fetched first, all
    /// together, in coalesced concurrent requests (ranges less than 1 MiB
    /// apart share one), so a thousand small neighbouring members take a
    /// request or a few instead of a thousand.
    pub fn get_many(&self, keys: &[&str]) -> Result<Vec<ArrayView<'_>>> {
        let idx = self.lookup_all(keys)?;
        let ws = self.batch_of(&idx)?;
        idx.iter()
            .zip(&ws)
            .map(|(&i, w)| self.view_in(i, false, w.as_ref()))
            .collect()
    }

    /// [`NpzReader::get_owned`] of every key in `keys`, fetched as
    /// [`NpzReader::get_many`] fetches them.
    pub fn get_many_owned(&self, keys: &[&str]) -> Result<Vec<OwnedView>> {
        let idx = self.lookup_all(keys)?;
        let ws = self.batch_of(&idx)?;
        idx.iter()
            .zip(&ws)
            .map(|(&i, w)| self.owned_in(i, w.as_ref()))
            .collect()
    }

    /// Reads and caches the NPY headers of `keys` (what
    /// [`NpzReader::header`] then returns without a request). From object
    /// storage, only the start of each member is fetched, neighbours
    /// together in coalesced requests. Fails if a key is missing or a
    /// request fails; a member whose headers do not parse is left for
    /// [`NpzReader::header`] (or [`NpzReader::get`]) to report.
    pub fn prefetch_headers(&self, keys: &[&str]) -> Result<()> {
        let mut idx = self.lookup_all(keys)?;
        idx.sort_unstable();
        idx.dedup();
        idx.retain(|&i| self.parsed(i).is_none());
        if !self.opts.cache {
            return Ok(());
        }
        let results = self.with_windows(&idx, true, 64, |i, w| {
            if let Ok(p) = self.parse_headers_in(i, w) {
                let _ = self.keep_parsed(i, p);
            }
        });
        results.into_iter().collect::<Result<Vec<()>>>().map(drop)
    }

    /// The member index of every key.
    fn lookup_all(&self, keys: &[&str]) -> Result<Vec<usize>> {
        keys.iter().map(|k| self.lookup(k)).collect()
    }

    /// The windows a batch read uses: none for a local archive; fetched
    /// together for the remote members not cached.
    fn batch_of(&self, idx: &[usize]) -> Result<Vec<Option<Window<'_>>>> {
        #[cfg(feature = "object-store")]
        return self.whole_windows(idx);
        #[cfg(not(feature = "object-store"))]
        Ok(vec![None; idx.len()])
    }
}
